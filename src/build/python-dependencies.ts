/**
 * Python dependencies: requirements.txt installed with `pip install --target` into a layer
 * keyed by the requirements and tool versions, then linked into the package at
 * `.runlet/python` (the Python runtime puts that directory on sys.path).
 */
import { createHash } from "node:crypto";
import { copyFile, readFile, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { linkTree } from "../provider/local/sandbox.js";
import {
  dependencyLayer,
  insideLayer,
  runStepTool,
  seen,
  toolEnv,
  type BuildContext,
} from "./build-context.js";

/** Where installed Python dependencies live inside a built package. */
export const pythonDependenciesDir = ".runlet/python";

/** Whether requirements.txt names anything to install. */
export async function hasPythonRequirements(outDir: string): Promise<boolean> {
  const text = await readFile(join(outDir, "requirements.txt"), "utf8").catch(() => "");
  return text.split("\n").some((line) => line.replace(/#.*/, "").trim() !== "");
}

export async function installPythonDependencies(ctx: BuildContext): Promise<void> {
  const python = await ctx.tools.python();
  const requirements = await readFile(join(ctx.outDir, "requirements.txt"));
  const key = `pip-${createHash("sha256")
    .update("pip-layer-1\0")
    .update(`${python.version}\0`)
    .update(requirements)
    .digest("hex")}`;
  const stepName = "pip install";
  const started = Date.now();
  let ran = false;
  const layer = await dependencyLayer(ctx, key, async (dir) => {
    ran = true;
    const target = seen(ctx, join(dir, "python"), `${insideLayer}/python`);
    const args = [
      "-m",
      "pip",
      "install",
      "--target",
      target,
      "--no-input",
      "--disable-pip-version-check",
      "--progress-bar",
      "off",
      "-r",
      seen(ctx, join(dir, "requirements.txt"), `${insideLayer}/requirements.txt`),
    ];
    ctx.emit({
      type: "step",
      step: stepName,
      status: "start",
      detail: `pip install --target ${pythonDependenciesDir} -r requirements.txt`,
    });
    await copyFile(join(ctx.outDir, "requirements.txt"), join(dir, "requirements.txt"));
    const cache = ctx.cacheDir("pip");
    try {
      await runStepTool(ctx, {
        step: stepName,
        command: python.python,
        args,
        cwd: seen(ctx, dir, insideLayer),
        env: toolEnv(ctx, [dirname(python.python)], {
          PIP_CACHE_DIR: seen(ctx, cache, "/cache/pip"),
          PIP_ROOT_USER_ACTION: "ignore",
          PYTHONDONTWRITEBYTECODE: "1",
        }),
        mounts: [
          { host: dir, inside: insideLayer, writable: true },
          { host: cache, inside: "/cache/pip", writable: true },
        ],
        toolDirs: [python.prefix],
      });
    } catch (error) {
      ctx.emit({
        type: "step",
        step: stepName,
        status: "failed",
        durationMs: Date.now() - started,
      });
      throw error;
    }
  });
  ctx.emit(
    ran
      ? { type: "step", step: stepName, status: "done", durationMs: Date.now() - started }
      : {
          type: "step",
          step: stepName,
          status: "cached",
          durationMs: Date.now() - started,
          detail: "requirements.txt unchanged: reusing the installed packages",
        },
  );
  const installed = join(layer.dir, "python");
  if (await stat(installed).catch(() => undefined)) {
    await linkTree(installed, join(ctx.outDir, pythonDependenciesDir));
  }
}
