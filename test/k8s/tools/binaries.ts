// Builds (once, cached outside the repo by build.sh) and locates the install's tools: nats-server and helm.
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { runBuildScript, type BuildOptions } from "../build-script.js";

const BUILD_SCRIPT = fileURLToPath(new URL("./build.sh", import.meta.url));

export type Tool = "nats-server" | "helm";

/**
 * Runs build.sh for `tool`, which does nothing when the binary for its version is cached and
 * otherwise builds it under a lock (helm: about 11 minutes cold on 2 cores); resolves with the
 * binary's absolute path.
 */
export async function buildTool(tool: Tool, options: BuildOptions = {}): Promise<string> {
  const dir = await runBuildScript(BUILD_SCRIPT, [tool], options, [tool]);
  return path.join(dir, tool);
}

/** Where build.sh puts (or has put) `tool`, without building anything. */
export function toolPath(tool: Tool): string {
  const result = spawnSync("bash", [BUILD_SCRIPT, tool, "--bin-dir"], { encoding: "utf8" });
  const dir = result.stdout.trim();
  if (result.status !== 0 || !path.isAbsolute(dir)) {
    throw new Error(`${BUILD_SCRIPT} ${tool} --bin-dir failed: ${result.stderr}`);
  }
  return path.join(dir, tool);
}
