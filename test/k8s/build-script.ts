// Runs one of the cached-build scripts (cluster/build.sh, node/build.sh, tools/build.sh) and returns the bin dir it prints.
import { spawn } from "node:child_process";
import { access, constants } from "node:fs/promises";
import * as path from "node:path";

export interface BuildOptions {
  /**
   * Where the script's progress lines go; they matter on a cold build, which takes many minutes.
   * @default process.stderr
   */
  readonly progress?: NodeJS.WritableStream;
}

/**
 * Runs `script`, which does nothing when its binaries are already cached and otherwise builds
 * them under a lock, and checks that each of `binaries` (paths relative to the bin dir) is
 * there and executable. Rejects with the script's last lines (naming the failed step) when the
 * build fails.
 */
export async function runBuildScript(
  script: string,
  binaries: readonly string[],
  options: BuildOptions = {},
  args: readonly string[] = [],
): Promise<string> {
  const progress = options.progress ?? process.stderr;
  const shown = path.relative(process.cwd(), script);
  const { code, signal, stdout, stderrTail } = await run(script, args, progress);
  if (code !== 0) {
    throw new Error(
      `${shown} failed (${signal ?? `exit ${String(code)}`}); its last output:\n` +
        stderrTail.join("\n"),
    );
  }
  const dir = stdout.trim().split("\n").pop()?.trim() ?? "";
  if (!path.isAbsolute(dir)) {
    throw new Error(`${shown} printed no bin dir (stdout: ${JSON.stringify(stdout)})`);
  }
  for (const binary of binaries) {
    await access(path.join(dir, binary), constants.X_OK);
  }
  return dir;
}

interface ScriptResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderrTail: readonly string[];
}

function run(
  script: string,
  args: readonly string[],
  progress: NodeJS.WritableStream,
): Promise<ScriptResult> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [script, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    const tail: string[] = [];
    let partial = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      progress.write(chunk);
      const lines = (partial + chunk).split("\n");
      partial = lines.pop() ?? "";
      tail.push(...lines);
      tail.splice(0, Math.max(0, tail.length - 60));
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (partial !== "") {
        tail.push(partial);
      }
      resolve({ code, signal, stdout, stderrTail: tail });
    });
  });
}
