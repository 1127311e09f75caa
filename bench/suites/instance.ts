/**
 * Issue 3's instance figures: the gateway's warm-call overhead over calling the same instance
 * directly through the provider (its framed channel: one connection, sequential calls), and the memory of an idle
 * generic instance in the warm pool next to a bare `node:http` server (the floor for Node).
 */
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Pool } from "undici";
import { packDirectory } from "../../src/packaging/pack.js";
import { startRunlet } from "../../src/gateway/start.js";
import { percentile, spread, type Spread } from "../lib/stats.js";

export interface InstanceResult {
  readonly settings: { readonly calls: number; readonly rounds: number };
  /** p50 per round, in milliseconds. */
  readonly directP50: Spread;
  readonly gatewayP50: Spread;
  readonly overheadP50: Spread;
  readonly directP99: Spread;
  readonly gatewayP99: Spread;
  /** RSS of each idle generic instance's runtime process, MiB. */
  readonly idleInstanceRssMiB: readonly number[];
  /** RSS of a bare node:http server on a Unix socket, MiB. */
  readonly bareNodeRssMiB: number;
  readonly isolation: string;
}

export interface InstanceOptions {
  readonly calls: number;
  readonly rounds: number;
  readonly log: (line: string) => void;
}

const token = "bench-token";

async function timeCalls(call: () => Promise<void>, calls: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < calls; i += 1) {
    const started = performance.now();
    await call();
    times.push(performance.now() - started);
  }
  return times;
}

/** Resident memory of a process, MiB (from /proc). */
async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
}

/** Pids of the runtime processes (`node …/server.mjs`) in this platform's instance cgroups. */
async function runtimePids(): Promise<number[]> {
  const own = (await readFile("/proc/self/cgroup", "utf8"))
    .split("\n")
    .find((line) => /:memory:/.test(line) || line.startsWith("0::"));
  const path = own?.split(":")[2] ?? "/";
  const candidates = [
    join("/sys/fs/cgroup/memory", path, `runlet-${process.pid}`),
    join("/sys/fs/cgroup", path, `runlet-${process.pid}`),
  ];
  for (const parent of candidates) {
    const groups = await readdir(parent, { withFileTypes: true }).catch(() => []);
    if (groups.length === 0) {
      continue;
    }
    const pids: number[] = [];
    for (const group of groups.filter((g) => g.isDirectory())) {
      const procs = (await readFile(join(parent, group.name, "cgroup.procs"), "utf8"))
        .split("\n")
        .filter(Boolean)
        .map(Number);
      for (const pid of procs) {
        const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
        if (cmdline.includes("server.mjs") && !cmdline.startsWith("bwrap")) {
          pids.push(pid);
        }
      }
    }
    return pids;
  }
  return [];
}

async function bareNodeRss(dir: string): Promise<number> {
  const socket = join(dir, "bare.sock");
  const child = spawn(
    process.execPath,
    [
      "-e",
      `require("node:http").createServer((q, s) => s.end("hello")).listen(${JSON.stringify(socket)}, () => console.log("up"))`,
    ],
    {
      env: { PATH: process.env["PATH"] ?? "" },
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  await new Promise((resolve) => child.stdout.once("data", resolve));
  const pool = new Pool("http://localhost", { socketPath: socket });
  for (let i = 0; i < 20; i += 1) {
    const response = await pool.request({ path: "/", method: "GET" });
    await response.body.text();
  }
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const rss = await rssMiB(child.pid ?? 0);
  await pool.close();
  child.kill("SIGKILL");
  return rss;
}

export async function runInstance(options: InstanceOptions): Promise<InstanceResult> {
  const dir = await mkdtemp(join(tmpdir(), "runlet-bench-instance-"));
  const runlet = await startRunlet({
    dataDir: join(dir, "data"),
    port: 0,
    adminToken: token,
    poolSize: 3,
  });
  try {
    options.log("idle generic instances: waiting for the pool to fill");
    while ((runlet.platform.executor.poolStatus()[0]?.idle ?? 0) < 3) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const idleInstanceRssMiB = await Promise.all((await runtimePids()).map(rssMiB));
    const bareNodeRssMiB = await bareNodeRss(dir);

    options.log("warm-call overhead: direct vs through the gateway");
    const source = join(dir, "src");
    await mkdir(source, { recursive: true });
    await writeFile(join(source, "index.js"), `export default async () => "hello";\n`);
    const packed = await packDirectory(source);
    const auth = { authorization: `Bearer ${token}` };
    await (
      await fetch(`${runlet.url}/api/v1/packages`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/gzip" },
        body: packed.archive,
      })
    ).text();
    await (
      await fetch(`${runlet.url}/api/v1/functions/hello`, {
        method: "PUT",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({ runtime: "node", package: packed.digest }),
      })
    ).text();
    const lease = await runlet.platform.executor.acquire(runlet.platform.target("hello"));
    const instance = lease.instance;
    lease.release();
    const gateway = new Pool(runlet.url, { connections: 1 });
    const direct = async (): Promise<void> => {
      const response = await instance.invoke({
        path: "/",
        method: "GET",
        headers: { "x-call-id": "bench" },
        body: undefined,
        signal: new AbortController().signal,
      });
      if (!Buffer.isBuffer(response.body)) {
        await response.body.toArray();
      }
    };
    const viaGateway = async (): Promise<void> => {
      const response = await gateway.request({ path: "/function/hello", method: "GET" });
      await response.body.text();
    };
    await timeCalls(direct, options.calls);
    await timeCalls(viaGateway, options.calls);
    const rounds: { direct: number[]; gateway: number[] }[] = [];
    for (let round = 0; round < options.rounds; round += 1) {
      rounds.push({
        direct: await timeCalls(direct, options.calls),
        gateway: await timeCalls(viaGateway, options.calls),
      });
    }
    await gateway.close();
    return {
      settings: { calls: options.calls, rounds: options.rounds },
      directP50: spread(rounds.map((r) => percentile(r.direct, 50))),
      gatewayP50: spread(rounds.map((r) => percentile(r.gateway, 50))),
      overheadP50: spread(rounds.map((r) => percentile(r.gateway, 50) - percentile(r.direct, 50))),
      directP99: spread(rounds.map((r) => percentile(r.direct, 99))),
      gatewayP99: spread(rounds.map((r) => percentile(r.gateway, 99))),
      idleInstanceRssMiB,
      bareNodeRssMiB,
      isolation: runlet.platform.provider.isolation,
    };
  } finally {
    await runlet.close(1000);
    await rm(dir, { recursive: true, force: true });
  }
}
