/**
 * Python dependencies: requirements.txt installed with `pip install --target` into a layer
 * keyed by the requirements and tool versions, then linked into the package at
 * `.runlet/python` (the Python runtime puts that directory on sys.path).
 */
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { linkTree } from "../host/tree-link.js";
import { insideLayer, installLayer, seen, toolEnv, type BuildContext } from "./build-context.js";

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
    .update(ctx.runsPackageCode ? "pip-layer-1\0" : "pip-layer-1-wheels-only\0")
    .update(`${python.version}\0`)
    .update(requirements)
    .digest("hex")}`;
  const layerDir = await installLayer(ctx, {
    key,
    step: "pip install",
    detail: `pip install --target ${pythonDependenciesDir} -r requirements.txt`,
    cachedDetail: "requirements.txt unchanged: reusing the installed packages",
    inputs: ["requirements.txt"],
    cache: "pip",
    tool: (dir, cacheDir) => ({
      command: python.python,
      args: [
        "-m",
        "pip",
        "install",
        "--target",
        seen(ctx, join(dir, "python"), `${insideLayer}/python`),
        "--no-input",
        // A source distribution's setup.py is code; wheels install without running any.
        ...(ctx.runsPackageCode ? [] : ["--only-binary", ":all:"]),
        "--disable-pip-version-check",
        "--progress-bar",
        "off",
        "-r",
        seen(ctx, join(dir, "requirements.txt"), `${insideLayer}/requirements.txt`),
      ],
      env: toolEnv(ctx, [dirname(python.python)], {
        PIP_CACHE_DIR: cacheDir,
        PIP_ROOT_USER_ACTION: "ignore",
        PYTHONDONTWRITEBYTECODE: "1",
      }),
      toolDirs: [python.prefix],
    }),
  });
  const installed = join(layerDir, "python");
  if (await stat(installed).catch(() => undefined)) {
    await linkTree(installed, join(ctx.outDir, pythonDependenciesDir));
  }
}
