/**
 * Servers under test run as child processes of the runner, so the load generator (in the
 * runner) and the server never share an event loop. Each is spawned with a clean environment,
 * probed until it answers, and killed with its process group on dispose.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

export interface ServerProcess {
  readonly name: string;
  readonly url: string;
  readonly child: ChildProcess;
  /** What it printed so far (kept short), for error messages. */
  output(): string;
  stop(): Promise<void>;
}

export interface SpawnOptions {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  /** URL probed until it answers 2xx; also the URL the load goes to unless `url` is set. */
  readonly probeUrl: string;
  readonly url?: string;
  /** Whether a probe's status means ready. @default a 2xx */
  readonly ready?: (status: number) => boolean;
  /** @default 20000 */
  readonly readyTimeoutMs?: number;
}

/**
 * The environment children get: PATH and HOME only. NODE_EXTRA_CA_CERTS, which this machine
 * sets, costs 45–65 ms per node start and means nothing to a local benchmark.
 */
export function cleanEnv(extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of ["PATH", "HOME", "TMPDIR", "LANG"]) {
    const value = process.env[key];
    if (value !== undefined) {
      env[key] = value;
    }
  }
  return { ...env, NODE_ENV: "production", ...extra };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function spawnServer(options: SpawnOptions): Promise<ServerProcess> {
  const child = spawn(options.command, [...options.args], {
    cwd: options.cwd,
    env: cleanEnv(options.env),
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let output = "";
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString("utf8")).slice(-4000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once("exit", () => {
      exited = true;
      resolve();
    });
  });
  const stop = async (): Promise<void> => {
    if (exited || child.pid === undefined) {
      return;
    }
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {
      return;
    }
    const killed = await Promise.race([exit.then(() => true), sleep(3000).then(() => false)]);
    if (!killed) {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
      await exit;
    }
  };
  const deadline = Date.now() + (options.readyTimeoutMs ?? 20_000);
  for (;;) {
    if (exited) {
      throw new Error(`${options.name} exited before it answered:\n${output}`);
    }
    try {
      const response = await fetch(options.probeUrl, { signal: AbortSignal.timeout(1000) });
      await response.arrayBuffer();
      if (options.ready ? options.ready(response.status) : response.ok) {
        break;
      }
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${options.name} did not answer ${options.probeUrl} in time:\n${output}`);
    }
    await sleep(50);
  }
  return {
    name: options.name,
    url: options.url ?? options.probeUrl,
    child,
    output: () => output,
    stop,
  };
}

const ticksPerSecond = 100; // USER_HZ on Linux

interface ProcStat {
  readonly pid: number;
  readonly ppid: number;
  readonly cpuS: number;
}

function readProcStats(): ProcStat[] {
  const stats: ProcStat[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) {
      continue;
    }
    try {
      const text = readFileSync(`/proc/${entry}/stat`, "utf8");
      // Fields after "(comm)": state ppid ... utime(14) stime(15), 1-based over the whole line.
      const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
      stats.push({
        pid: Number(entry),
        ppid: Number(fields[1]),
        cpuS: (Number(fields[11]) + Number(fields[12])) / ticksPerSecond,
      });
    } catch {
      // exited while we looked
    }
  }
  return stats;
}

/** CPU seconds used so far by a process (`self`) and by its live descendants. */
export function processTreeCpu(pid: number): { self: number; descendants: number } {
  const stats = readProcStats();
  const children = new Map<number, ProcStat[]>();
  for (const stat of stats) {
    const list = children.get(stat.ppid) ?? [];
    list.push(stat);
    children.set(stat.ppid, list);
  }
  const self = stats.find((s) => s.pid === pid)?.cpuS ?? 0;
  let descendants = 0;
  const queue = [...(children.get(pid) ?? [])];
  for (let next = queue.shift(); next; next = queue.shift()) {
    descendants += next.cpuS;
    queue.push(...(children.get(next.pid) ?? []));
  }
  return { self, descendants };
}
