/**
 * The real peer runtimes the warm path is measured against, from the archives in ../shared/peers
 * beside the repository (third-party code, kept out of the project): OpenFaaS of-watchdog, the
 * OpenFaaS node20 template it runs, and Fission's Node.js environment. Each run unpacks them into
 * a temp folder; what is slow to make is cached outside the repository under
 * ~/.cache/runlet/bench: the of-watchdog binary (built offline from its vendored modules) and the
 * npm dependencies of the two Node servers (installed once from the registry, then linked in).
 * Without the folder, or when a step fails, the caller gets the reason and the peer's cells say
 * "not available".
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { access, cp, mkdir, mkdtemp, readFile, rename, rm, symlink } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
/** Beside the repository (so a worktree next to it finds the same folder); RUNLET_BENCH_PEERS
 * points elsewhere. */
export const peersDir =
  process.env.RUNLET_BENCH_PEERS ?? resolve(repoRoot, "..", "shared", "peers");
const cacheDir = join(homedir(), ".cache", "runlet", "bench");

export const peerArchives = {
  ofWatchdog: "of-watchdog-0.11.6.tar.gz",
  openfaasNode20: "openfaas-template-node20.tar.gz",
  fissionNode: "fission-nodejs-env.tar.gz",
} as const;

/** Where each archive came from (../shared/peers/README.md), for the doc's versions table. */
export const peerSources = [
  {
    name: "OpenFaaS of-watchdog",
    path: join(peersDir, peerArchives.ofWatchdog),
    source: "0.11.6 (openfaas/of-watchdog 9bdadb1)",
  },
  {
    name: "OpenFaaS node20 template",
    path: join(peersDir, peerArchives.openfaasNode20),
    source: "openfaas/templates 69ca16a",
  },
  {
    name: "Fission Node.js environment",
    path: join(peersDir, peerArchives.fissionNode),
    source: "fission/environments 45815b4",
  },
] as const;

export type Prepared<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

function firstLines(error: unknown): string {
  const stderr =
    typeof error === "object" && error !== null && "stderr" in error ? String(error.stderr) : "";
  const text = stderr.trim() || (error instanceof Error ? error.message : String(error));
  return text.split("\n").slice(0, 3).join(" ");
}

/** The archive's path and a short hash of its bytes, which keys everything cached from it. */
async function archive(name: string): Promise<{ path: string; hash: string }> {
  const path = join(peersDir, name);
  if (!(await exists(path))) {
    throw new Error(`${path} is missing (the peers live outside the repository)`);
  }
  const hash = createHash("sha256")
    .update(await readFile(path))
    .digest("hex")
    .slice(0, 12);
  return { path, hash };
}

/** A fresh temp folder with the archive unpacked in it, writable (the archives are read-only). */
async function unpack(path: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "runlet-bench-peer-"));
  await run("tar", ["xzf", path, "-C", dir, "--no-same-owner", "--no-same-permissions"]);
  await run("chmod", ["-R", "u+w", dir]);
  return dir;
}

async function attempt<T>(step: () => Promise<T>): Promise<Prepared<T>> {
  try {
    return { ok: true, value: await step() };
  } catch (error) {
    return { ok: false, reason: firstLines(error) };
  }
}

/**
 * of-watchdog built from the archive with the local Go, offline (vendored modules), into
 * ~/.cache/runlet/bench/bin; a no-op once built from the same archive.
 */
export function ensureOfWatchdog(): Promise<Prepared<string>> {
  return attempt(async () => {
    const { path, hash } = await archive(peerArchives.ofWatchdog);
    const binary = join(cacheDir, "bin", `of-watchdog-${hash}`);
    if (await exists(binary)) {
      return binary;
    }
    await mkdir(join(cacheDir, "bin"), { recursive: true });
    const dir = await unpack(path);
    try {
      await run("go", ["build", "-o", `${binary}.partial`, "."], {
        cwd: join(dir, "of-watchdog"),
        env: { ...process.env, CGO_ENABLED: "0", GOFLAGS: "-mod=vendor", GOPROXY: "off" },
        timeout: 300_000,
      });
      await rename(`${binary}.partial`, binary);
      return binary;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}

/**
 * The npm dependencies of `appDir` (a folder with package.json, and package-lock.json when the
 * archive has one), installed once per archive under ~/.cache/runlet/bench/npm and linked in as
 * appDir/node_modules. Neither archive ships its node_modules.
 */
async function linkDependencies(appDir: string, key: string): Promise<void> {
  const target = join(cacheDir, "npm", key);
  const done = join(target, ".installed");
  if (!(await exists(done))) {
    await rm(target, { recursive: true, force: true });
    await mkdir(target, { recursive: true });
    await cp(join(appDir, "package.json"), join(target, "package.json"));
    const locked = await exists(join(appDir, "package-lock.json"));
    if (locked) {
      await cp(join(appDir, "package-lock.json"), join(target, "package-lock.json"));
    }
    await run(
      "npm",
      [
        locked ? "ci" : "install",
        "--omit=dev",
        "--no-audit",
        "--no-fund",
        "--ignore-scripts",
        "--loglevel=error",
      ],
      { cwd: target, timeout: 300_000 },
    );
    await cp(join(target, "package.json"), done);
  }
  await symlink(join(target, "node_modules"), join(appDir, "node_modules"), "dir");
}

export interface UnpackedApp {
  /** The temp folder holding everything unpacked; remove it when done. */
  readonly root: string;
  /** The server's folder inside it (its package.json and entry point). */
  readonly appDir: string;
}

/** The OpenFaaS node20 template (index.js, express), ready to run from its folder. */
export function prepareOpenfaasNode20(): Promise<Prepared<UnpackedApp>> {
  return attempt(async () => {
    const { path, hash } = await archive(peerArchives.openfaasNode20);
    const root = await unpack(path);
    const appDir = join(root, "openfaas-templates", "template", "node20");
    await linkDependencies(appDir, `openfaas-node20-${hash}`);
    return { root, appDir };
  });
}

/** Fission's Node.js environment server (server.js, express), ready to run from its folder. */
export function prepareFissionNode(): Promise<Prepared<UnpackedApp>> {
  return attempt(async () => {
    const { path, hash } = await archive(peerArchives.fissionNode);
    const root = await unpack(path);
    const appDir = join(root, "fission-nodejs-env", "nodejs");
    await linkDependencies(appDir, `fission-nodejs-${hash}`);
    return { root, appDir };
  });
}
