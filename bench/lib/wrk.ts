/**
 * Closed-loop HTTP load with wrk, for the warm-path throughput runs. wrk is C and spends less
 * than half of autocannon's CPU per request; on a 2-core machine the generator's CPU is taken
 * from the servers under test, and with autocannon the raw floor was bounded by the generator
 * (a full core), not by the server. Percentiles come from wrk's own histogram (microsecond
 * resolution), printed by a Lua done() hook as JSON; the generator's CPU from the shell's
 * `times` after wrk exits.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LoadOptions, LoadResult } from "./load.js";

const reportScript = `
done = function(summary, latency, requests)
  io.write(string.format(
    '\\nRUNLET_WRK {"requests":%d,"durationUs":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50":%d,"p95":%d,"p99":%d}\\n',
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
`;

interface WrkReport {
  readonly requests: number;
  readonly durationUs: number;
  readonly connect: number;
  readonly read: number;
  readonly write: number;
  readonly status: number;
  readonly timeout: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
}

let checked = false;

/** Installs wrk from apt when it is missing, once per run; fails with how to fix it. */
export function ensureWrk(): void {
  if (checked) {
    return;
  }
  const present = (): boolean => {
    try {
      execFileSync("sh", ["-c", "command -v wrk"], { stdio: "ignore" });
      return true;
    } catch {
      return false;
    }
  };
  if (!present()) {
    try {
      execFileSync(
        "sh",
        ["-c", "(apt-get install -y -q wrk || (apt-get update -q && apt-get install -y -q wrk))"],
        { stdio: "inherit" },
      );
    } catch {
      // reported below
    }
    if (!present()) {
      throw new Error("the warm-path runs need wrk; install it with: apt-get install wrk");
    }
  }
  checked = true;
}

export async function runWrk(options: LoadOptions): Promise<LoadResult> {
  ensureWrk();
  if (options.amount !== undefined) {
    throw new Error("wrk runs for a duration; use runLoad() for a fixed number of requests");
  }
  const dir = mkdtempSync(join(tmpdir(), "runlet-wrk-"));
  try {
    const lines = [reportScript];
    if (options.method && options.method !== "GET") {
      lines.push(`wrk.method = ${JSON.stringify(options.method)}`);
    }
    if (options.body !== undefined) {
      lines.push(`wrk.body = ${JSON.stringify(options.body)}`);
    }
    for (const [name, value] of Object.entries(options.headers ?? {})) {
      lines.push(`wrk.headers[${JSON.stringify(name)}] = ${JSON.stringify(value)}`);
    }
    const script = join(dir, "report.lua");
    writeFileSync(script, lines.join("\n"));
    const args = [
      "-t1",
      `-c${options.connections}`,
      `-d${options.durationS ?? 5}s`,
      `--timeout`,
      `${options.timeoutS ?? 10}s`,
      "-s",
      script,
      options.url,
    ];
    // `times` prints the shell's and then its children's user and system CPU.
    const output = await run("bash", ["-c", 'wrk "$@" && times', "wrk", ...args]);
    const marker = output.split("\n").find((line) => line.startsWith("RUNLET_WRK "));
    if (!marker) {
      throw new Error(`wrk printed no report:\n${output}`);
    }
    const report = JSON.parse(marker.slice("RUNLET_WRK ".length)) as WrkReport;
    const times = output.trim().split("\n").at(-1) ?? "";
    const elapsedS = report.durationUs / 1e6;
    const ok = report.requests - report.status;
    return {
      ok,
      non2xx: report.status,
      errors: report.connect + report.read + report.write,
      timeouts: report.timeout,
      elapsedS,
      rps: ok / elapsedS,
      latenciesMs: new Float64Array(0),
      p50: report.p50 / 1000,
      p95: report.p95 / 1000,
      p99: report.p99 / 1000,
      generatorCpu: childCpuSeconds(times) / elapsedS,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Seconds of user + system CPU in the children line of `times` ("0m1.234s 0m0.567s"). */
function childCpuSeconds(line: string): number {
  const parts = [...line.matchAll(/(\d+)m([\d.]+)s/g)];
  return parts.reduce(
    (sum, [, minutes, seconds]) => sum + Number(minutes) * 60 + Number(seconds),
    0,
  );
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve(output) : reject(new Error(`wrk exited with ${code}:\n${output}`)),
    );
  });
}
