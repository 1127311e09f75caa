/** Runs `main(argv)` in-process with captured output, a temp cwd and a private HOME. */
import { PassThrough, Readable } from "node:stream";
import { main } from "../../src/cli/main.js";

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliOptions {
  readonly cwd: string;
  readonly env?: Record<string, string | undefined>;
  readonly stdin?: string;
}

export async function runCli(argv: readonly string[], options: CliOptions): Promise<CliResult> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on("data", (chunk: Buffer) => out.push(chunk));
  stderr.on("data", (chunk: Buffer) => err.push(chunk));
  const stdin = Readable.from(
    options.stdin === undefined ? [] : [Buffer.from(options.stdin)],
  ) as Readable & { isTTY?: boolean };
  stdin.isTTY = options.stdin === undefined;
  const code = await main(argv, {
    stdout,
    stderr,
    stdin,
    env: { HOME: options.cwd, ...options.env },
    cwd: options.cwd,
    stopSignal: () => new Promise(() => {}),
  });
  return {
    code,
    stdout: Buffer.concat(out).toString("utf8"),
    stderr: Buffer.concat(err).toString("utf8"),
  };
}
