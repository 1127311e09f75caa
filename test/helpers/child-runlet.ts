/** Test helper: a real platform in a child process (so a test can SIGKILL it), and its output. */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { adminToken, eventually } from "./runlet.js";

export interface ChildRunlet {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Every line the child printed so far. */
  readonly lines: string[];
  /** The gateway URL the script printed as `url <URL>`. */
  readonly url: string;
  /** SIGKILL, and wait for the exit. */
  kill(): Promise<void>;
}

/**
 * Runs `serverScript` (an ES module that starts a platform and prints `url <URL>`) with
 * DATA_DIR and TOKEN (and `env`) in its environment, and waits for its URL.
 */
export async function startChildRunlet(
  serverScript: string,
  dataDir: string,
  env: Record<string, string> = {},
): Promise<ChildRunlet> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "--input-type=module", "-e", serverScript],
    {
      env: { ...process.env, ...env, DATA_DIR: dataDir, TOKEN: adminToken },
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const exited = once(child, "exit");
  const lines: string[] = [];
  createInterface({ input: child.stdout }).on("line", (line) => lines.push(line));
  const kill = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
    }
    await exited;
  };
  try {
    const url = await eventually(() => lines.find((line) => line.startsWith("url "))?.slice(4), {
      timeoutMs: 30_000,
      what: "the server's url",
    });
    return { child, pid: child.pid ?? 0, lines, url, kill };
  } catch (error) {
    await kill();
    throw error;
  }
}
