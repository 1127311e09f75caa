/**
 * `node --import tsx bench/pool-cold-start.ts [--before DIR] [--calls 40] [--runtimes node,python]`:
 * warm-pool cold starts through the gateway, this tree's Runlet against another build (a tree
 * holding its dist/, runtimes/ and bench/servers/) in one interleaved run: each round calls
 * one function scaled to zero on each platform in turn, each time with a full pool. Prints
 * p50/p99 at the client and the gateway's own time for the call (X-Duration-Seconds: arrival
 * to answer), and the after/before ratio of the p50s. Run `npm run build` first.
 */
import { loadavg } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { startRunletProcess, type RunletProcess } from "./lib/runlet-api.js";
import { fmt, percentile } from "./lib/stats.js";
import { table } from "./lib/table.js";

const { values } = parseArgs({
  options: {
    before: { type: "string" },
    calls: { type: "string", default: "40" },
    runtimes: { type: "string", default: "node,python" },
    "pool-size": { type: "string", default: "4" },
  },
});
const calls = Number(values.calls);
const poolSize = Number(values["pool-size"]);
const fixtures = fileURLToPath(new URL("./fixtures/", import.meta.url));
const functions = 10;
const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(", ");

async function poolIdle(runlet: RunletProcess, runtime: string): Promise<number> {
  const text = await (await fetch(`${runlet.url}/metrics`)).text();
  const line = text
    .split("\n")
    .find((l) => l.startsWith(`runlet_warm_pool_idle{runtime="${runtime}"}`));
  return line === undefined ? 0 : Number(line.split(" ").at(-1));
}

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check()) && Date.now() < deadline) {
    await sleep(50);
  }
}

async function scaledToZero(runlet: RunletProcess, name: string): Promise<boolean> {
  const status = await runlet.status(name);
  return status.instances.every((i) => i.replicas === 0);
}

interface Platform {
  readonly id: string;
  readonly runlet: RunletProcess;
  readonly client: number[];
  readonly gateway: number[];
}

const started = load();
const rows: string[][] = [];
for (const runtime of values.runtimes.split(",")) {
  const fixture = `${fixtures}runlet/${runtime === "node" ? "hello" : "hello-python"}`;
  const platforms: Platform[] = [];
  try {
    for (const [id, root] of [
      ["after", undefined],
      ["before", values.before],
    ] as const) {
      if (id === "before" && root === undefined) {
        continue;
      }
      const runlet = await startRunletProcess(
        root === undefined ? { poolSize } : { poolSize, root },
      );
      platforms.push({ id, runlet, client: [], gateway: [] });
      for (let i = 0; i < functions; i += 1) {
        await runlet.deploy(`cold-${i}`, fixture, {
          runtime,
          scale: { min: 0, idleTimeout: "1s", window: "2s" },
        });
      }
    }
    for (let done = 0; done < calls;) {
      for (const { runlet } of platforms) {
        await until(async () => {
          const all = await Promise.all(
            Array.from({ length: functions }, (_, i) => scaledToZero(runlet, `cold-${i}`)),
          );
          return all.every(Boolean);
        }, 30_000);
      }
      for (let i = 0; i < functions && done < calls; i += 1, done += 1) {
        for (const platform of platforms) {
          // Every platform's pool full: neither call shares the CPU with the other's refill.
          for (const { runlet } of platforms) {
            await until(async () => (await poolIdle(runlet, runtime)) >= poolSize, 5000);
          }
          await sleep(100);
          const t0 = performance.now();
          const response = await fetch(`${platform.runlet.url}/function/cold-${i}`);
          await response.arrayBuffer();
          platform.client.push(performance.now() - t0);
          platform.gateway.push(Number(response.headers.get("x-duration-seconds")) * 1000);
        }
      }
      console.log(
        `${runtime}: ${done}/${calls} ${platforms.map((p) => `${p.id} p50 ${fmt(percentile(p.client, 50))} ms`).join(", ")}`,
      );
    }
    const after = platforms.find((p) => p.id === "after");
    const before = platforms.find((p) => p.id === "before");
    for (const p of platforms) {
      rows.push([
        runtime,
        p.id,
        String(p.client.length),
        fmt(percentile(p.client, 50)),
        fmt(percentile(p.client, 99)),
        fmt(percentile(p.gateway, 50)),
        fmt(percentile(p.gateway, 99)),
        p === after && before
          ? fmt(percentile(after.client, 50) / percentile(before.client, 50))
          : "–",
      ]);
    }
  } finally {
    await Promise.all(platforms.map((p) => p.runlet.stop()));
  }
}
console.log(`\nload average at the start ${started}, at the end ${load()}\n`);
console.log(
  table(
    [
      "runtime",
      "build",
      "cold calls",
      "p50 ms",
      "p99 ms",
      "gateway p50 ms",
      "gateway p99 ms",
      "after / before p50",
    ],
    rows,
  ),
);
