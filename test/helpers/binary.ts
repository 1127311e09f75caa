/** Runs the built `runlet` binary as a user would (npm test builds it first). */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { onTestFinished } from "vitest";

export const runletBin = fileURLToPath(new URL("../../bin/runlet.js", import.meta.url));

export interface RunningServer {
  readonly child: ChildProcess;
  readonly url: string;
  readonly output: () => string;
  readonly exited: Promise<number | null>;
}

/** Clean environment for the binary: the test's own variables must not leak in. */
export function binaryEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env["PATH"], HOME: extra["HOME"] ?? process.env["HOME"], ...extra };
}

/** Starts `runlet up` and waits until it prints its gateway URL. */
export async function startServer(
  args: string[],
  env: Record<string, string>,
): Promise<RunningServer> {
  const child = spawn(process.execPath, [runletBin, "up", ...args], {
    env: binaryEnv(env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code)),
  );
  onTestFinished(() => {
    if (child.exitCode === null) {
      child.kill("SIGKILL");
    }
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`runlet up did not start:\n${output}`)),
      30_000,
    );
    const check = (): void => {
      const match = /gateway\s+(https?:\/\/\S+)/.exec(output);
      if (match?.[1] && output.includes("Press Ctrl-C")) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout.on("data", check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`runlet up exited with ${code}:\n${output}`));
    });
  });
  return { child, url, output: () => output, exited };
}

export interface BinaryResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function runBinary(
  args: string[],
  options: { cwd: string; env: Record<string, string>; input?: string },
): Promise<BinaryResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [runletBin, ...args], {
      cwd: options.cwd,
      env: binaryEnv(options.env),
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? "");
  });
}
