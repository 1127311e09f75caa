/**
 * Go functions: the main package compiled (CGO off, static) to `.runlet/bin/function`, which
 * the exec runtime runs in HTTP mode (the program serves on $PORT). Modules come through
 * GOPROXY into a module cache shared by all builds; compiled packages are cached in GOCACHE.
 */
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join, posix } from "node:path";
import { insideOut, runStepTool, seen, toolEnv, type BuildContext } from "./build-context.js";
import { step } from "./build-events.js";
import { prepareGoTemplate } from "./go-templates.js";

/** The compiled program inside a built package, run from the package directory. */
export const goBinary = ".runlet/bin/function";

/** The command the exec runtime runs for a built Go function. */
export const goCommand = `./${goBinary}`;

export async function compileGo(ctx: BuildContext): Promise<void> {
  const go = await ctx.tools.go();
  // Code written for another platform's Go template gets the main package that template has.
  const templateDir =
    ctx.compat === undefined
      ? undefined
      : await prepareGoTemplate(ctx.outDir, ctx.compat, ctx.handler);
  if (templateDir === undefined && !existsSync(join(ctx.outDir, "go.mod"))) {
    // A single-file function needs no module file of its own; stdlib-only code builds as is.
    await writeFile(join(ctx.outDir, "go.mod"), "module function\n\ngo 1.21\n");
    ctx.emit({ type: "notice", text: "no go.mod in the source: building as module `function`" });
  }
  // The handler names the main package's file (main.go) or directory.
  const handlerDir = ctx.handler.endsWith(".go") ? posix.dirname(ctx.handler) : ctx.handler;
  // A generated main module is built from its own directory (a nested go.mod is its own module).
  const wrapped = templateDir !== undefined && templateDir !== ".";
  const packagePath =
    templateDir !== undefined || handlerDir === "." || handlerDir === "" ? "." : `./${handlerDir}`;
  await mkdir(join(ctx.outDir, dirname(goBinary)), { recursive: true });
  const buildCache = ctx.cacheDir("go-build");
  const modCache = ctx.cacheDir("go-mod");
  const out = seen(ctx, ctx.outDir, insideOut);
  // -s -w drop the symbol table and DWARF (a third of the size); panics still name functions.
  const args = ["build", "-trimpath", "-ldflags=-s -w", "-o", `${out}/${goBinary}`, packagePath];
  await step(
    ctx.emit,
    "go build",
    `go ${args.slice(0, 4).join(" ")} ${goBinary} ${packagePath}`,
    () =>
      runStepTool(ctx, {
        step: "go build",
        command: go.go,
        args,
        cwd: wrapped ? `${out}/${templateDir}` : out,
        env: toolEnv(ctx, [dirname(go.go)], {
          GOROOT: go.goroot,
          GOCACHE: seen(ctx, buildCache, "/cache/go-build"),
          GOMODCACHE: seen(ctx, modCache, "/cache/go-mod"),
          GOPATH: seen(ctx, join(ctx.scratchDir, "gopath"), "/tmp/gopath"),
          GOFLAGS: "-mod=mod",
          CGO_ENABLED: "0",
          // Never fetch another toolchain at build time: the installed Go builds or says why not.
          GOTOOLCHAIN: "local",
        }),
        mounts: [
          { host: ctx.outDir, inside: insideOut, writable: true },
          { host: buildCache, inside: "/cache/go-build", writable: true },
          { host: modCache, inside: "/cache/go-mod", writable: true },
        ],
        toolDirs: [go.goroot],
      }),
  );
}
