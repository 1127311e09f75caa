/**
 * `node --import tsx bench/one-connection.ts [--before DIR] [--rounds 5] [--duration 3]
 * [--connections 1,10,50,100] [--syscalls]`: the warm path through Runlet's gateway against the
 * raw floor, and against another build of Runlet when --before names a tree holding its dist/,
 * runtimes/ and bench/servers/ (a copy made before a change), in one interleaved run: every
 * round runs every target at every connection count, so drift on a shared machine hits all
 * alike (in an order that turns every round), and each ratio is taken within a round. --syscalls also counts, with strace -c, the
 * system calls the gateway and the instance make per call at one connection.
 * Run `npm run build` first: this tree's Runlet runs from its dist/.
 */
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { startRunletProcess, type RunletProcess } from "./lib/runlet-api.js";
import { freePort, processTreeCpu, spawnServer, type ServerProcess } from "./lib/servers.js";
import { fmt, spread, type Spread } from "./lib/stats.js";
import { table } from "./lib/table.js";
import { runWrk } from "./lib/wrk.js";

const { values } = parseArgs({
  options: {
    before: { type: "string" },
    rounds: { type: "string", default: "5" },
    duration: { type: "string", default: "3" },
    connections: { type: "string", default: "1,10,50,100" },
    syscalls: { type: "boolean", default: false },
  },
});
const rounds = Number(values.rounds);
const durationS = Number(values.duration);
const connections = values.connections.split(",").map(Number);
const fixtures = fileURLToPath(new URL("./fixtures/", import.meta.url));
const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(", ");

interface Target {
  readonly id: string;
  readonly url: string;
  /** The process taking the connections; its descendants are counted with it. */
  readonly pid: number;
  readonly stop: () => Promise<void>;
  readonly runlet?: RunletProcess;
}

async function startRaw(): Promise<ServerProcess> {
  const port = await freePort();
  return spawnServer({
    name: "raw node:http",
    command: process.execPath,
    args: [`${fixtures}raw-hello.mjs`],
    env: { PORT: String(port) },
    probeUrl: `http://127.0.0.1:${port}/`,
  });
}

async function startRunlet(id: string, root?: string): Promise<Target> {
  const runlet = await startRunletProcess(root === undefined ? {} : { root });
  await runlet.deploy("hello", `${fixtures}runlet/hello`, { scale: { min: 1 } });
  return {
    id,
    url: `${runlet.url}/function/hello`,
    pid: runlet.child.pid ?? 0,
    stop: () => runlet.stop(),
    runlet,
  };
}

/** Pids of the process tree under `pid` whose command line contains `needle`. */
function descendants(pid: number, needle: string): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (/^\d+$/.test(entry)) {
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
        parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
      } catch {
        // gone
      }
    }
  }
  const found: number[] = [];
  for (const [child] of parents) {
    let up = parents.get(child);
    while (up !== undefined && up !== pid && up > 1) {
      up = parents.get(up);
    }
    if (up === pid) {
      try {
        if (readFileSync(`/proc/${child}/cmdline`, "utf8").includes(needle)) {
          found.push(child);
        }
      } catch {
        // gone
      }
    }
  }
  return found;
}

/** strace -c -f on `pids` while wrk runs at one connection: system calls per answered call. */
async function countSyscalls(
  target: Target,
  pids: readonly number[],
  label: string,
): Promise<void> {
  const strace = spawn("strace", ["-c", "-f", "-qq", ...pids.flatMap((p) => ["-p", String(p)])], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let report = "";
  strace.stderr.on("data", (chunk: Buffer) => (report += chunk.toString()));
  await new Promise((resolve) => setTimeout(resolve, 500));
  const result = await runWrk({ url: target.url, connections: 1, durationS });
  strace.kill("SIGINT");
  await new Promise((resolve) => strace.once("close", resolve));
  console.log(`\n${label}: ${result.ok} calls under strace (${fmt(result.rps)} req/s)`);
  const rows: string[][] = [];
  for (const line of report.split("\n")) {
    const parts = line.trim().split(/\s+/);
    // % time, seconds, usecs/call, calls, [errors], syscall
    if (parts.length >= 5 && /^\d/.test(parts[0] ?? "") && parts.at(-1) !== "total") {
      const calls = Number(parts[3]);
      rows.push([parts.at(-1) ?? "", fmt(calls / Math.max(1, result.ok))]);
    }
  }
  console.log(table(["syscall", "per call"], rows));
}

const started = load();
const raw = await startRaw();
const targets: Target[] = [
  { id: "raw", url: raw.url, pid: raw.child.pid ?? 0, stop: () => raw.stop() },
];
try {
  targets.push(await startRunlet("after"));
  if (values.before !== undefined) {
    targets.push(await startRunlet("before", values.before));
  }
  for (const target of targets) {
    await runWrk({ url: target.url, connections: 50, durationS: 2 });
  }
  const samples = new Map<
    string,
    { rps: number; p50: number; p99: number; frontUs: number; behindUs: number }[]
  >();
  for (let round = 1; round <= rounds; round += 1) {
    for (const c of connections) {
      // The order turns every round, so no target always runs right after another.
      const order = targets.map((_, i) => targets[(i + round) % targets.length]);
      for (const target of order) {
        if (!target) {
          continue;
        }
        const cpuBefore = processTreeCpu(target.pid);
        const r = await runWrk({ url: target.url, connections: c, durationS });
        const cpuAfter = processTreeCpu(target.pid);
        const perCall = (s: number): number => (s * 1e6) / Math.max(1, r.ok);
        const frontUs = perCall(cpuAfter.self - cpuBefore.self);
        const behindUs = perCall(cpuAfter.descendants - cpuBefore.descendants);
        const key = `${target.id}@${c}`;
        samples.set(key, [
          ...(samples.get(key) ?? []),
          { rps: r.rps, p50: r.p50, p99: r.p99, frontUs, behindUs },
        ]);
        console.log(
          `[${round}/${rounds}] c=${String(c).padStart(3)} ${target.id.padEnd(6)} ${fmt(r.rps).padStart(7)} req/s  p50 ${fmt(r.p50 * 1000)} µs  p99 ${fmt(r.p99 * 1000)} µs  CPU ${fmt(frontUs)} + ${fmt(behindUs)} µs/call`,
        );
      }
    }
  }
  const cell = (s: Spread, unit = ""): string =>
    `${fmt(s.median, unit)} [${fmt(s.min)}–${fmt(s.max)}]`;
  const ratioOf = (a: string, b: string, c: number): Spread => {
    const x = samples.get(`${a}@${c}`) ?? [];
    const y = samples.get(`${b}@${c}`) ?? [];
    return spread(x.map((s, i) => s.rps / (y[i]?.rps ?? Number.NaN)));
  };
  const p50Ratio = (c: number): Spread => {
    const x = samples.get(`after@${c}`) ?? [];
    const y = samples.get(`before@${c}`) ?? [];
    return spread(x.map((s, i) => s.p50 / (y[i]?.p50 ?? Number.NaN)));
  };
  const rows: string[][] = [];
  for (const target of targets) {
    for (const c of connections) {
      const runs = samples.get(`${target.id}@${c}`) ?? [];
      rows.push([
        target.id,
        String(c),
        cell(spread(runs.map((r) => r.rps))),
        fmt(spread(runs.map((r) => r.p50 * 1000)).median),
        fmt(spread(runs.map((r) => r.p99 * 1000)).median),
        `${fmt(spread(runs.map((r) => r.frontUs)).median)} + ${fmt(spread(runs.map((r) => r.behindUs)).median)}`,
        target.id === "raw" ? "–" : cell(ratioOf(target.id, "raw", c)),
        target.id === "after" && values.before !== undefined
          ? `${cell(ratioOf("after", "before", c))}; p50 ${cell(p50Ratio(c))}`
          : "–",
      ]);
    }
  }
  console.log(
    `\n${rounds} rounds of ${durationS} s per cell; load average at the start ${started}, at the end ${load()}\n`,
  );
  console.log(
    table(
      [
        "target",
        "c",
        "req/s",
        "p50 µs",
        "p99 µs",
        "CPU µs/call (front + behind)",
        "share of floor",
        "after / before: req/s; p50",
      ],
      rows,
    ),
  );
  if (values.syscalls) {
    for (const target of targets.filter((t) => t.runlet)) {
      const gateway = target.runlet?.child.pid ?? 0;
      const instances = descendants(gateway, "server.mjs");
      await countSyscalls(target, [gateway], `${target.id}: gateway (pid ${gateway})`);
      await countSyscalls(
        target,
        instances,
        `${target.id}: instance (pids ${instances.join(", ")})`,
      );
    }
  }
} finally {
  await Promise.all(targets.map((t) => t.stop()));
}
