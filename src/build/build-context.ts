/**
 * What every build step gets: where the output tree is, where caches and dependency layers
 * live, how to run a tool (sandboxed or not), and where to report.
 */
import { randomBytes } from "node:crypto";
import { copyFile, mkdir, rename, rm, stat, utimes } from "node:fs/promises";
import { join } from "node:path";
import { UserError } from "../errors.js";
import type { KeyedLock } from "../keyed-lock.js";
import type { CompatShape } from "../spec/function-spec.js";
import { step, type BuildEventSink } from "./build-events.js";
import { runTool, type Mount, type ToolResult } from "./tool-run.js";
import type { BuildTools } from "./tools.js";

export interface BuildContext {
  readonly functionName: string;
  /** The function's handler as the spec resolves it (e.g. "index.ts", "main.go"). */
  readonly handler: string;
  /** Handler shape of another platform, when the function has one. */
  readonly compat: CompatShape | undefined;
  /** Host directory of the output tree: a copy of the source that the steps add to. */
  readonly outDir: string;
  /** Host directory for this build's scratch files (deleted after the build). */
  readonly scratchDir: string;
  /** `<data>/builds/cache/<tool>`: npm cache, pip cache, GOCACHE, GOMODCACHE. */
  readonly cacheDir: (tool: string) => string;
  /** `<data>/builds/layers`: installed dependency sets, keyed by their manifest. */
  readonly layersDir: string;
  readonly layerLock: KeyedLock;
  readonly tools: BuildTools;
  readonly sandboxed: boolean;
  /**
   * Whether the packages' own code may run while they install (npm scripts, setup.py, Maven
   * plugins). False where builds are not sandboxed and the platform must not run untrusted
   * code next to its credentials (Kubernetes mode: the gateway pod).
   */
  readonly runsPackageCode: boolean;
  readonly timeoutMs: number;
  readonly emit: BuildEventSink;
}

/** Where the output tree is mounted in the build sandbox; tools' messages name these paths. */
export const insideOut = "/build/function";
export const insideLayer = "/build/layer";

/** The path a tool sees for a host directory mounted at `inside` (the host path unsandboxed). */
export function seen(ctx: BuildContext, host: string, inside: string): string {
  return ctx.sandboxed ? inside : host;
}

/** Extra variables passed to tools when the host sets them (registries, proxies, certificates). */
const passThrough = [
  "HTTP_PROXY",
  "HTTPS_PROXY",
  "NO_PROXY",
  "http_proxy",
  "https_proxy",
  "no_proxy",
  "SSL_CERT_FILE",
  "SSL_CERT_DIR",
  "NODE_EXTRA_CA_CERTS",
  "npm_config_registry",
  "NPM_CONFIG_REGISTRY",
  "PIP_INDEX_URL",
  "PIP_EXTRA_INDEX_URL",
  "PIP_TRUSTED_HOST",
  "PIP_CERT",
  "PIP_DEFAULT_TIMEOUT",
  "GOPROXY",
  "GONOSUMDB",
  "GONOSUMCHECK",
  "GOPRIVATE",
  "GOSUMDB",
  "GOINSECURE",
];

/** A clean environment for a tool: PATH, HOME, the pass-through variables, and `extra`. */
export function toolEnv(
  ctx: BuildContext,
  pathDirs: readonly string[],
  extra: Record<string, string>,
): Record<string, string> {
  const env: Record<string, string> = {
    PATH: [...pathDirs, "/usr/local/bin", "/usr/bin", "/bin"].join(":"),
    HOME: ctx.sandboxed ? "/tmp" : join(ctx.scratchDir, "home"),
    TMPDIR: ctx.sandboxed ? "/tmp" : join(ctx.scratchDir, "tmp"),
    LANG: "C.UTF-8",
  };
  for (const name of passThrough) {
    const value = process.env[name];
    if (value !== undefined) {
      env[name] = value;
    }
  }
  return { ...env, ...extra };
}

export interface ToolInvocation {
  /** Step name in the build log, e.g. "npm ci". */
  readonly step: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: Record<string, string>;
  readonly mounts: readonly Mount[];
  readonly toolDirs: readonly string[];
}

/**
 * Runs a tool and turns failure into the user's error: the tool's last lines, not a stack.
 * Mounts name host paths; unsandboxed, `inside` paths in cwd/args must already be host paths.
 */
export async function runStepTool(ctx: BuildContext, call: ToolInvocation): Promise<void> {
  if (!ctx.sandboxed) {
    await mkdir(join(ctx.scratchDir, "home"), { recursive: true });
    await mkdir(join(ctx.scratchDir, "tmp"), { recursive: true });
  }
  let result: ToolResult;
  try {
    result = await runTool(
      {
        command: call.command,
        args: call.args,
        cwd: call.cwd,
        env: call.env,
        mounts: call.mounts,
        toolDirs: call.toolDirs,
        timeoutMs: ctx.timeoutMs,
        onLine: (text) => {
          if (text.trim() !== "") {
            ctx.emit({ type: "log", step: call.step, text });
          }
        },
      },
      ctx.sandboxed,
    );
  } catch (error) {
    throw new Error(`could not start ${call.step}: ${(error as Error).message}`, { cause: error });
  }
  if (result.timedOut) {
    throw buildFailed(
      ctx,
      call.step,
      `${call.step} did not finish within ${Math.round(ctx.timeoutMs / 1000)}s and was stopped`,
      result.tail,
    );
  }
  if (result.exitCode !== 0) {
    throw buildFailed(
      ctx,
      call.step,
      `${call.step} failed (exit code ${result.exitCode ?? "none: killed"})`,
      result.tail,
    );
  }
}

/** The build failed because of the function's code or dependencies: the caller's to fix. */
export function buildFailed(
  ctx: BuildContext,
  step: string,
  headline: string,
  output: readonly string[],
): UserError {
  // npm's pointer to its debug log names a file inside the build sandbox, of no use to the caller.
  const shown = output
    .filter((text) => text.trim() !== "" && !text.includes("A complete log of this run"))
    .slice(-25);
  return new UserError(
    "RUNLET_BUILD_FAILED",
    `Building ${ctx.functionName} failed: ${headline}.${shown.length > 0 ? `\n${shown.map((text) => `  ${text}`).join("\n")}` : ""}\nThe previous revision (if any) keeps serving.`,
    { status: 422, details: { step, output: shown } },
  );
}

/**
 * A dependency layer keyed by its manifest: built once into a temp directory and renamed into
 * place, so a half-built layer is never used and a concurrent build of the same key waits.
 * Returns the layer directory and whether it was already there.
 */
export async function dependencyLayer(
  ctx: BuildContext,
  key: string,
  build: (dir: string) => Promise<void>,
): Promise<{ dir: string; cached: boolean }> {
  const dir = join(ctx.layersDir, key);
  return ctx.layerLock.run(key, async () => {
    if (await isDir(dir)) {
      // Marks the layer as used: layers unused for a long time are pruned (see Builder).
      const now = new Date();
      await utimes(dir, now, now).catch(() => undefined);
      return { dir, cached: true };
    }
    const staging = `${dir}.tmp-${randomBytes(4).toString("hex")}`;
    await mkdir(staging, { recursive: true });
    try {
      await build(staging);
      await rename(staging, dir);
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
    return { dir, cached: false };
  });
}

async function isDir(path: string): Promise<boolean> {
  return stat(path).then(
    (info) => info.isDirectory(),
    () => false,
  );
}

/** A dependency set installed by a tool (npm, pip) into a layer shared by every build of it. */
export interface InstallLayer {
  /** The layer's identity: its inputs and the tool's version, hashed. */
  readonly key: string;
  /** Step name in the build log, e.g. "npm ci". */
  readonly step: string;
  readonly detail: string;
  /** Why nothing ran when the layer already exists. */
  readonly cachedDetail: string;
  /** Files of the package the tool reads, copied into the layer first. */
  readonly inputs: readonly string[];
  /** The tool's cache under the build caches, e.g. "npm". */
  readonly cache: string;
  /** The tool to run, given the layer and cache directories as the tool sees them. */
  readonly tool: (
    layerDir: string,
    cacheDir: string,
  ) => Pick<ToolInvocation, "command" | "args" | "env" | "toolDirs">;
}

/** Installs `layer` unless it exists (then says it was reused); returns its directory. */
export async function installLayer(ctx: BuildContext, layer: InstallLayer): Promise<string> {
  const started = Date.now();
  let ran = false;
  const { dir } = await dependencyLayer(ctx, layer.key, async (staging) => {
    ran = true;
    await step(ctx.emit, layer.step, layer.detail, async () => {
      for (const file of layer.inputs) {
        await copyFile(join(ctx.outDir, file), join(staging, file));
      }
      const cache = ctx.cacheDir(layer.cache);
      const cacheInside = `/cache/${layer.cache}`;
      await runStepTool(ctx, {
        step: layer.step,
        cwd: seen(ctx, staging, insideLayer),
        mounts: [
          { host: staging, inside: insideLayer, writable: true },
          { host: cache, inside: cacheInside, writable: true },
        ],
        ...layer.tool(staging, seen(ctx, cache, cacheInside)),
      });
    });
  });
  if (!ran) {
    ctx.emit({
      type: "step",
      step: layer.step,
      status: "cached",
      durationMs: Date.now() - started,
      detail: layer.cachedDetail,
    });
  }
  return dir;
}
