/**
 * Deploy-time builds: a source package whose runtime or files need it (npm dependencies,
 * TypeScript, requirements.txt, Go) is built into a new content-addressed package that the
 * revision runs. A build is cached by source, runtime, handler and tool versions; each
 * dependency set is cached by its manifest, so changing only code reuses the installed
 * dependencies. Tools run in the build sandbox (see tool-run.ts).
 */
import { createHash, randomBytes } from "node:crypto";
import { cp, lstat, mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { UserError } from "../errors.js";
import { packDirectory } from "../packaging/pack.js";
import { KeyedLock } from "../keyed-lock.js";
import { detectSandbox, type SandboxSupport } from "../host/sandbox-support.js";
import type { CompatShape, RuntimeName } from "../spec/function-spec.js";
import { formatSize, humanSize } from "../spec/units.js";
import type { PackageStore } from "../store/package-store.js";
import type { BuildContext } from "./build-context.js";
import { step, type BuildEventSink } from "./build-events.js";
import { BuildSlots } from "./build-slots.js";
import { compileGo } from "./go-compile.js";
import { buildJava } from "./java-build.js";
import { hasNodeDependencies, installNodeDependencies } from "./node-dependencies.js";
import { hasPythonRequirements, installPythonDependencies } from "./python-dependencies.js";
import { BuildTools } from "./tools.js";
import { compileTypeScript } from "./typescript-compile.js";

/**
 * Caches a function's build writes into while it runs the function's own code (Maven plugins
 * and build extensions a pom names, npm scripts, a setup.py pip builds) and that their tools
 * do not check when they read them back: each function has its own, so a hostile build can
 * leave a tampered artifact only where its own later builds find it, never another
 * function's. Go's caches stay shared: `go build` runs no code of the function's.
 */
const perFunctionCaches: ReadonlySet<string> = new Set(["npm", "pip", "maven"]);

export interface BuilderOptions {
  /** `<data>/builds`: caches, dependency layers, the build index and scratch space. */
  readonly root: string;
  /** The tools' caches (npm, pip, Go, Maven), which several data dirs may share. @default `<root>/cache` */
  readonly cacheRoot?: string;
  readonly packages: PackageStore;
  /** Longest one tool may run. @default 600000 (10 minutes) */
  readonly timeoutMs?: number;
  /** "auto" sandboxes builds where bubblewrap works; "none" never does. @default "auto" */
  readonly sandbox?: "auto" | "none";
  /** Builds that run at once; more wait their turn. @default 2 */
  readonly concurrency?: number;
  /**
   * "run": dependencies' install code runs, sandboxed where possible. "sandboxed-only": where
   * builds cannot be sandboxed it never runs (npm --ignore-scripts, pip wheels only, no Maven
   * plugins). @default "run"
   */
  readonly packageCode?: "run" | "sandboxed-only";
}

export interface BuildRequest {
  readonly functionName: string;
  readonly runtime: RuntimeName;
  /** Resolved handler (e.g. "index.ts", "main.go"). */
  readonly handler: string;
  /** Handler shape of another platform (a Go template's wrapper depends on it). */
  readonly compat?: CompatShape | undefined;
  /** Digest of the uploaded source package. */
  readonly sourceDigest: string;
  readonly emit?: BuildEventSink;
  /** Called with the built package's digest as soon as it is stored. */
  readonly onStored?: (digest: string) => void;
}

export interface BuildResult {
  /** The package the revision runs: the source's own digest when nothing needed building. */
  readonly digest: string;
  readonly built: boolean;
  readonly cached: boolean;
}

type Step = "npm" | "pip" | "esbuild" | "go" | "java";

const builderVersion = "1";
const layerMaxIdleMs = 30 * 24 * 3600 * 1000;

export class Builder {
  readonly #options: BuilderOptions;
  readonly #tools = new BuildTools();
  readonly #layerLock = new KeyedLock();
  readonly #slots: BuildSlots;
  #sandbox: SandboxSupport | undefined;
  #cleaned: Promise<void> | undefined;

  constructor(options: BuilderOptions) {
    this.#options = options;
    this.#slots = new BuildSlots(options.concurrency ?? 2);
  }

  /** Builds the source if it needs building; returns the package to run. */
  async build(request: BuildRequest): Promise<BuildResult> {
    const emit = request.emit ?? (() => undefined);
    const sourceTree = this.#options.packages.treePath(request.sourceDigest);
    const steps = await planSteps(request.runtime, sourceTree);
    if (steps.length === 0) {
      return { digest: request.sourceDigest, built: false, cached: false };
    }
    const key = await this.#buildKey(request, steps);
    const indexFile = join(this.#options.root, "index", `${key}.json`);
    const known = await readFile(indexFile, "utf8")
      .then((text) => (JSON.parse(text) as { digest: string }).digest)
      .catch(() => undefined);
    if (known !== undefined && this.#options.packages.has(known)) {
      request.onStored?.(known);
      emit({
        type: "step",
        step: "build",
        status: "cached",
        durationMs: 0,
        detail: "source and tools unchanged: reusing the earlier build",
      });
      return { digest: known, built: true, cached: true };
    }
    if (this.#slots.ahead > 0) {
      emit({
        type: "notice",
        text: `waiting for ${this.#slots.ahead} other build${this.#slots.ahead === 1 ? "" : "s"} to finish`,
      });
    }
    return this.#slots.run(() => this.#buildNow(request, steps, indexFile, emit));
  }

  async #buildNow(
    request: BuildRequest,
    steps: readonly Step[],
    indexFile: string,
    emit: BuildEventSink,
  ): Promise<BuildResult> {
    const sourceTree = this.#options.packages.treePath(request.sourceDigest);
    const sandbox = this.#sandboxSupport();
    if (sandbox.kind === "none") {
      emit({
        type: "notice",
        text: `builds run unsandboxed: ${sandbox.reason ?? "no sandbox available"}`,
      });
    }
    this.#cleaned ??= this.#removeLeftovers();
    await this.#cleaned;
    const scratchDir = join(this.#options.root, "work", randomBytes(6).toString("hex"));
    const outDir = join(scratchDir, "function");
    await mkdir(scratchDir, { recursive: true });
    try {
      // A real copy, not links: tools may write into the tree (go.mod, compiled output).
      await cp(sourceTree, outDir, { recursive: true, verbatimSymlinks: true });
      const cacheRoot = this.#options.cacheRoot ?? join(this.#options.root, "cache");
      const ctx: BuildContext = {
        functionName: request.functionName,
        handler: request.handler,
        compat: request.compat,
        outDir,
        scratchDir,
        cacheDir: (tool) =>
          perFunctionCaches.has(tool)
            ? join(cacheRoot, tool, "functions", request.functionName)
            : join(cacheRoot, tool),
        layersDir: join(this.#options.root, "layers"),
        layerLock: this.#layerLock,
        tools: this.#tools,
        sandboxed: sandbox.kind === "bubblewrap",
        runsPackageCode:
          sandbox.kind === "bubblewrap" || (this.#options.packageCode ?? "run") === "run",
        timeoutMs: this.#options.timeoutMs ?? 600_000,
        emit,
      };
      for (const tool of ["npm", "pip", "go-build", "go-mod", "maven"]) {
        await mkdir(ctx.cacheDir(tool), { recursive: true });
      }
      await mkdir(ctx.layersDir, { recursive: true });
      for (const name of steps) {
        await runStep(name, ctx);
      }
      const digest = await step(emit, "package", undefined, async () => {
        await this.#checkSize(request.functionName, sourceTree, outDir);
        const packed = await packDirectory(outDir, { includeBuildOutput: true });
        const stored = await this.#options.packages.put(packed.archive);
        request.onStored?.(stored.digest);
        emit({
          type: "log",
          step: "package",
          text: `${packed.files} files, ${humanSize(packed.archive.length)} compressed, ${stored.digest.slice(0, 19)}…`,
        });
        return stored.digest;
      });
      await mkdir(join(this.#options.root, "index"), { recursive: true });
      await writeFile(indexFile, JSON.stringify({ digest, source: request.sourceDigest }));
      return { digest, built: true, cached: false };
    } finally {
      await rm(scratchDir, { recursive: true, force: true });
    }
  }

  /**
   * Scratch directories and half-built layers of builds a stopped server left behind, and
   * dependency layers no build used for a month (layers are only a cache: built packages hold
   * their own copy of the dependencies).
   */
  async #removeLeftovers(): Promise<void> {
    await rm(join(this.#options.root, "work"), { recursive: true, force: true });
    const layers = join(this.#options.root, "layers");
    const unusedSince = Date.now() - layerMaxIdleMs;
    for (const name of await readdir(layers).catch(() => [])) {
      const path = join(layers, name);
      const info = await lstat(path).catch(() => undefined);
      if (name.includes(".tmp-") || (info !== undefined && info.mtimeMs < unusedSince)) {
        await rm(path, { recursive: true, force: true });
      }
    }
  }

  #sandboxSupport(): SandboxSupport {
    this.#sandbox ??=
      this.#options.sandbox === "none"
        ? { kind: "none", reason: "disabled by configuration" }
        : detectSandbox();
    return this.#sandbox;
  }

  async #buildKey(request: BuildRequest, steps: readonly Step[]): Promise<string> {
    const tools: string[] = [];
    for (const name of steps) {
      tools.push(
        name === "npm"
          ? (await this.#tools.node()).version
          : name === "pip"
            ? (await this.#tools.python()).version
            : name === "go"
              ? (await this.#tools.go()).version
              : name === "java"
                ? (await this.#tools.java()).version
                : `esbuild ${this.#tools.esbuildVersion()}`,
      );
    }
    return createHash("sha256")
      .update(
        JSON.stringify({
          builderVersion,
          source: request.sourceDigest,
          runtime: request.runtime,
          handler: request.handler,
          ...(request.compat === undefined ? {} : { compat: request.compat }),
          tools,
        }),
      )
      .digest("hex");
  }

  /** The built tree over the package limit is refused with both sizes, before packing it. */
  async #checkSize(functionName: string, sourceTree: string, outDir: string): Promise<void> {
    const { maxUnpackedBytes, maxFiles } = this.#options.packages.limits;
    const built = await treeSize(outDir);
    if (built.bytes <= maxUnpackedBytes && built.files <= maxFiles) {
      return;
    }
    const source = await treeSize(sourceTree);
    const what =
      built.bytes > maxUnpackedBytes
        ? `is ${humanSize(built.bytes)} (${built.bytes} bytes: source ${humanSize(source.bytes)}, installed dependencies and build output ${humanSize(built.bytes - source.bytes)}); the limit is ${formatSize(maxUnpackedBytes)}`
        : `has ${built.files} files; the limit is ${maxFiles}`;
    throw new UserError(
      "RUNLET_PACKAGE_TOO_LARGE",
      `The built package of ${functionName} ${what}. Trim the dependencies (development-only packages belong in devDependencies, which are not installed) or ask the operator to raise the package limit.`,
      { details: { bytes: built.bytes, files: built.files, limitBytes: maxUnpackedBytes } },
    );
  }
}

/** What a source needs, in order: dependencies first, then compilation. */
async function planSteps(runtime: RuntimeName, sourceTree: string): Promise<Step[]> {
  switch (runtime) {
    case "node":
      return (await hasNodeDependencies(sourceTree)) ? ["npm"] : [];
    case "typescript":
      return (await hasNodeDependencies(sourceTree)) ? ["npm", "esbuild"] : ["esbuild"];
    case "python":
      return (await hasPythonRequirements(sourceTree)) ? ["pip"] : [];
    case "go":
      return ["go"];
    case "java":
      return ["java"];
    case "exec":
      return [];
  }
}

function runStep(name: Step, ctx: BuildContext): Promise<void> {
  switch (name) {
    case "npm":
      return installNodeDependencies(ctx);
    case "pip":
      return installPythonDependencies(ctx);
    case "esbuild":
      return compileTypeScript(ctx);
    case "go":
      return compileGo(ctx);
    case "java":
      return buildJava(ctx);
  }
}

async function treeSize(root: string): Promise<{ bytes: number; files: number }> {
  let bytes = 0;
  let files = 0;
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        await walk(path);
      } else {
        files += 1;
        bytes += (await lstat(path)).size;
      }
    }
  };
  await walk(root);
  return { bytes, files };
}
