/**
 * Node dependencies: package.json's `dependencies` installed with npm (`npm ci` with a
 * lockfile, `npm install` without), production only, into a layer keyed by the manifest,
 * lockfile and tool versions, then linked into the package as node_modules.
 */
import { createHash } from "node:crypto";
import { readFile, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { UserError } from "../errors.js";
import { linkTree } from "../host/tree-link.js";
import { installLayer, toolEnv, type BuildContext } from "./build-context.js";

const lockfiles = ["package-lock.json", "npm-shrinkwrap.json"];

/** Whether the package declares dependencies npm must install. */
export async function hasNodeDependencies(outDir: string): Promise<boolean> {
  const manifest = await readManifest(outDir);
  return (
    manifest !== undefined &&
    [manifest.dependencies, manifest.optionalDependencies].some(
      (deps) => deps !== null && typeof deps === "object" && Object.keys(deps).length > 0,
    )
  );
}

export async function installNodeDependencies(ctx: BuildContext): Promise<void> {
  const files = ["package.json", ...lockfiles, ".npmrc"];
  const present: string[] = [];
  const hash = createHash("sha256").update("npm-layer-1\0");
  const node = await ctx.tools.node();
  hash.update(`${node.version}\0`);
  for (const file of files) {
    const content = await readFile(join(ctx.outDir, file)).catch(() => undefined);
    if (content !== undefined) {
      present.push(file);
      hash.update(`${file}\0`).update(content).update("\0");
    }
  }
  const lockfile = lockfiles.find((file) => present.includes(file));
  const verb = lockfile ? "ci" : "install";
  const stepName = `npm ${verb}`;
  // Installed without their scripts, a package's tree differs: another layer.
  const key = `npm-${ctx.runsPackageCode ? "" : "noscripts-"}${hash.digest("hex")}`;
  const args = [
    node.npmCli,
    verb,
    "--omit=dev",
    "--no-audit",
    "--no-fund",
    ctx.runsPackageCode ? "--foreground-scripts" : "--ignore-scripts",
    ...(lockfile ? [] : ["--no-package-lock"]),
  ];
  const layerDir = await installLayer(ctx, {
    key,
    step: stepName,
    detail: `npm ${args.slice(1).join(" ")} (${present.join(", ")})`,
    cachedDetail: `dependencies unchanged (${present.join(", ")}): reusing the installed node_modules`,
    inputs: present,
    cache: "npm",
    tool: (_layerDir, cacheDir) => ({
      command: node.node,
      args,
      env: toolEnv(ctx, [dirname(node.node)], {
        npm_config_cache: cacheDir,
        npm_config_update_notifier: "false",
        npm_config_progress: "false",
        NODE_ENV: "production",
      }),
      toolDirs: [dirname(dirname(node.node))],
    }),
  });
  const installed = join(layerDir, "node_modules");
  if (!(await stat(installed).catch(() => undefined))) {
    return;
  }
  const target = join(ctx.outDir, "node_modules");
  if (await stat(target).catch(() => undefined)) {
    ctx.emit({
      type: "notice",
      text: "the uploaded node_modules folder is replaced by the installed dependencies",
    });
    await rm(target, { recursive: true, force: true });
  }
  await linkTree(installed, target);
}

interface Manifest {
  dependencies?: unknown;
  optionalDependencies?: unknown;
}

async function readManifest(dir: string): Promise<Manifest | undefined> {
  const text = await readFile(join(dir, "package.json"), "utf8").catch(() => undefined);
  if (text === undefined) {
    return undefined;
  }
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed !== null && typeof parsed === "object" ? (parsed as Manifest) : undefined;
  } catch (error) {
    throw new UserError(
      "RUNLET_BUILD_FAILED",
      `package.json is not valid JSON (${(error as Error).message}); fix it and deploy again.`,
      { status: 422 },
    );
  }
}
