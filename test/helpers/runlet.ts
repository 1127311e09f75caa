/** Test helpers: a real Runlet on port 0 with a temp data dir, and temp function sources. */
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { onTestFinished } from "vitest";
import { packDirectory } from "../../src/packaging/pack.js";
import { startRunlet, type Runlet, type RunletOptions } from "../../src/gateway/start.js";

export const adminToken = "test-admin-token";

/**
 * Build tools' caches shared by the suite's platforms and kept across runs, outside the repo:
 * Go's compiled standard library and Maven's plugins are fetched and built once, not per file.
 */
export function sharedBuildCache(): string {
  return join(
    process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"),
    "runlet",
    "test-build-cache",
  );
}

export async function tempDir(prefix = "runlet-test-"): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export interface TestRunlet extends Runlet {
  readonly dataDir: string;
  /** fetch against the gateway with the admin token. */
  api(path: string, init?: RequestInit): Promise<Response>;
  /** Packs `files` into a package, uploads it and deploys it as `name`. */
  deploy(
    name: string,
    files: Record<string, string>,
    spec?: Record<string, unknown>,
  ): Promise<Response>;
}

export async function startTestRunlet(options: Partial<RunletOptions> = {}): Promise<TestRunlet> {
  const dataDir = options.dataDir ?? (await tempDir());
  const runlet = await startRunlet({ port: 0, adminToken, ...options, dataDir });
  onTestFinished(() => runlet.close(2000));
  return withApi(runlet, dataDir);
}

/**
 * A Runlet for a whole file of builds (started in beforeAll, closed and removed by the file):
 * no warm pool, and the suite's shared build caches.
 */
export async function startBuildRunlet(prefix: string): Promise<TestRunlet> {
  const dataDir = await mkdtemp(join(tmpdir(), prefix));
  const runlet = await startRunlet({
    port: 0,
    adminToken,
    dataDir,
    poolSize: 0,
    buildCacheDir: sharedBuildCache(),
  });
  return withApi(runlet, dataDir);
}

/** Same helpers for a Runlet whose lifetime the test manages itself. */
export function withApi(runlet: Runlet, dataDir: string): TestRunlet {
  const api = (path: string, init: RequestInit = {}): Promise<Response> =>
    fetch(`${runlet.url}${path}`, {
      ...init,
      headers: {
        authorization: `Bearer ${adminToken}`,
        ...(init.headers as Record<string, string>),
      },
    });
  return {
    ...runlet,
    close: (graceMs) => runlet.close(graceMs),
    dataDir,
    api,
    async deploy(name, files, spec = {}) {
      const source = await writeSource(files);
      const packed = await packDirectory(source);
      const upload = await api("/api/v1/packages", {
        method: "POST",
        headers: { "content-type": "application/gzip" },
        body: packed.archive,
      });
      if (upload.status >= 300) {
        throw new Error(`upload failed: ${upload.status} ${await upload.text()}`);
      }
      return api(`/api/v1/functions/${name}`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ runtime: "node", package: packed.digest, ...spec }),
      });
    },
  };
}

export async function writeSource(files: Record<string, string>): Promise<string> {
  const dir = await tempDir("runlet-src-");
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  return dir;
}

/** Polls `check` until it returns a value or the deadline passes (no fixed sleeps). */
export async function eventually<T>(
  check: () => Promise<T | undefined> | T | undefined,
  { timeoutMs = 10_000, intervalMs = 25, what = "condition" } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
