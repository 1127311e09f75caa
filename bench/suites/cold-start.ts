/**
 * Cold starts (issue 6): the time of a call that finds no running instance of its function,
 * with a warm pool of generic instances (`poolSize` > 0: the call specializes one) and without
 * (`poolSize` 0: the call spawns a process), next to a warm call; and a 200-call burst against
 * a function scaled to zero.
 *
 * A cold call here is a call to a function whose instances were all reaped: functions are
 * deployed with `scale.idleTimeout: 1s` (deploy starts one instance to check the code loads),
 * and each is called once after the status API shows zero replicas for it and the warm pool
 * (gateway metric `runlet_warm_pool_idle`) is full again.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { startRunletProcess, type RunletProcess } from "../lib/runlet-api.js";
import { percentile, spread, type Spread } from "../lib/stats.js";

const fixtures = fileURLToPath(new URL("../fixtures/", import.meta.url));

export type BenchRuntime = "node" | "python";

export interface ColdStartOptions {
  readonly runtimes: readonly BenchRuntime[];
  readonly poolSize: number;
  /** Cold calls per mode (at least 100 for the figure). */
  readonly calls: number;
  readonly warmCalls: number;
  readonly bursts: number;
  readonly burstSize: number;
  /** Pause between two cold calls, so the pool is refilled before the next one. */
  readonly gapMs: number;
  readonly log: (line: string) => void;
}

export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly min: number;
  readonly max: number;
}

export interface BurstResult {
  /** Time from the first request sent to the last answer, per burst. */
  readonly allAnswered: Spread;
  /** Instances started during the burst (coldStarts after − before), per burst. */
  readonly specialized: Spread;
  readonly specializedFromPool: Spread;
  readonly p50: Spread;
  readonly p99: Spread;
  readonly ok: number;
  readonly sent: number;
}

export interface ModeResult {
  /** Absent in results from before Python was measured: node. */
  readonly runtime?: BenchRuntime;
  readonly mode: "pool" | "zero";
  readonly poolSize: number;
  /** Generic instances ready once the functions were deployed (0 when the platform has no pool). */
  readonly idleInstances: number;
  readonly cold: LatencySummary;
  /** Cold calls after which the status showed a new instance start. */
  readonly confirmedCold: number;
  /** Cold calls served by specializing a pooled instance (status `coldStartsFromPool`). */
  readonly fromPool: number;
  readonly warm: LatencySummary;
  readonly burst: BurstResult;
}

export interface ColdStartResult {
  readonly poolSupported: boolean;
  readonly modes: readonly ModeResult[];
  readonly settings: Omit<ColdStartOptions, "log">;
}

function summarize(values: readonly number[]): LatencySummary {
  return {
    count: values.length,
    p50: percentile(values, 50),
    p99: percentile(values, 99),
    min: values.length ? Math.min(...values) : Number.NaN,
    max: values.length ? Math.max(...values) : Number.NaN,
  };
}

/** Generic instances ready in the warm pool, from the gateway's Prometheus metrics. */
async function poolIdle(runlet: RunletProcess, runtime: BenchRuntime): Promise<number> {
  const response = await fetch(`${runlet.url}/metrics`);
  const text = await response.text();
  const line = text
    .split("\n")
    .find((l) => l.startsWith(`runlet_warm_pool_idle{runtime="${runtime}"}`));
  return line === undefined ? 0 : Number(line.split(" ").at(-1));
}

async function waitFor(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await sleep(50);
  }
}

async function replicas(runlet: RunletProcess, name: string): Promise<number> {
  const status = await runlet.status(name);
  return status.instances.reduce((sum, i) => sum + i.replicas, 0);
}

/** Instances started for a function so far, and how many of them came from the warm pool. */
async function coldStarts(
  runlet: RunletProcess,
  name: string,
): Promise<{ all: number; fromPool: number }> {
  const status = await runlet.status(name);
  return {
    all: status.instances.reduce((sum, i) => sum + i.coldStarts, 0),
    fromPool: status.instances.reduce((sum, i) => sum + (i.coldStartsFromPool ?? 0), 0),
  };
}

async function timedCall(url: string): Promise<{ ms: number; ok: boolean }> {
  const started = performance.now();
  const response = await fetch(url);
  await response.arrayBuffer();
  return { ms: performance.now() - started, ok: response.ok };
}

async function runMode(
  mode: "pool" | "zero",
  runtime: BenchRuntime,
  options: ColdStartOptions,
): Promise<ModeResult> {
  const log = (line: string): void => options.log(`  ${runtime} ${line}`);
  const poolSize = mode === "pool" ? options.poolSize : 0;
  const fixture = `${fixtures}runlet/${runtime === "node" ? "hello" : "hello-python"}`;
  const runlet = await startRunletProcess({ poolSize });
  try {
    const poolFull = async (): Promise<boolean> => (await poolIdle(runlet, runtime)) >= poolSize;
    const perRound = Math.min(25, options.calls);
    const names = Array.from({ length: perRound }, (_, i) => `cold-${i}`);
    // A short stable window too, so a burst's panic mode does not hold instances for 60 s.
    const spec = { runtime, scale: { min: 0, idleTimeout: "1s", window: "2s" } };
    for (const name of names) {
      await runlet.deploy(name, fixture, spec);
    }
    // A runtime's pool starts with its first function: let it fill, and see whether there is one.
    await waitFor("the warm pool to fill", poolFull, 10_000).catch(() => undefined);
    const idleInstances = await poolIdle(runlet, runtime);
    log(`${mode}: poolSize ${poolSize}, ${idleInstances} idle generic instance(s) after deploy`);
    const cold: number[] = [];
    let confirmed = 0;
    let fromPool = 0;
    let failed = 0;
    while (cold.length < options.calls) {
      await waitFor(
        "every cold-* function to scale to zero",
        async () =>
          (await Promise.all(names.map((n) => replicas(runlet, n)))).every((r) => r === 0),
        30_000,
      );
      for (const name of names) {
        if (cold.length >= options.calls) {
          break;
        }
        // Each cold call finds a full pool (a refill is one process start, ~0.1 s).
        await waitFor("the warm pool to refill", poolFull, 5000).catch(() => undefined);
        await sleep(options.gapMs);
        const before = await coldStarts(runlet, name);
        const call = await timedCall(`${runlet.url}/function/${name}`);
        if (!call.ok) {
          failed += 1;
          continue;
        }
        cold.push(call.ms);
        const after = await coldStarts(runlet, name);
        confirmed += after.all > before.all ? 1 : 0;
        fromPool += after.fromPool > before.fromPool ? 1 : 0;
      }
      log(
        `${mode}: ${cold.length}/${options.calls} cold calls, p50 so far ${percentile(cold, 50).toFixed(1)} ms`,
      );
    }
    if (failed > 0) {
      log(`${mode}: ${failed} cold call(s) failed`);
    }

    // Warm: the same kind of function, instance already running.
    await runlet.deploy("warm", fixture, { runtime, scale: { min: 1 } });
    const warmUrl = `${runlet.url}/function/warm`;
    for (let i = 0; i < 20; i += 1) {
      await timedCall(warmUrl);
    }
    const warm: number[] = [];
    for (let i = 0; i < options.warmCalls; i += 1) {
      warm.push((await timedCall(warmUrl)).ms);
    }

    const allAnswered: number[] = [];
    const specialized: number[] = [];
    const specializedFromPool: number[] = [];
    const burstP50: number[] = [];
    const burstP99: number[] = [];
    let ok = 0;
    let sent = 0;
    for (let b = 0; b < options.bursts; b += 1) {
      const name = `burst-${b}`;
      await runlet.deploy(name, fixture, spec);
      await waitFor(
        `${name} to scale to zero`,
        async () => (await replicas(runlet, name)) === 0,
        30_000,
      );
      await waitFor("the warm pool to refill", poolFull, 5000).catch(() => undefined);
      await sleep(options.gapMs);
      const before = await coldStarts(runlet, name);
      const started = performance.now();
      const calls = await Promise.all(
        Array.from({ length: options.burstSize }, () =>
          timedCall(`${runlet.url}/function/${name}`).catch(() => ({ ms: Number.NaN, ok: false })),
        ),
      );
      allAnswered.push(performance.now() - started);
      const after = await coldStarts(runlet, name);
      specialized.push(after.all - before.all);
      specializedFromPool.push(after.fromPool - before.fromPool);
      const times = calls.filter((c) => c.ok).map((c) => c.ms);
      burstP50.push(percentile(times, 50));
      burstP99.push(percentile(times, 99));
      ok += times.length;
      sent += calls.length;
      log(
        `${mode}: burst ${b + 1}/${options.bursts}: ${times.length}/${calls.length} ok, all answered in ${allAnswered.at(-1)?.toFixed(0)} ms, ${after.all - before.all} instance(s) started (${after.fromPool - before.fromPool} from the pool)`,
      );
    }
    return {
      runtime,
      mode,
      poolSize,
      idleInstances,
      cold: summarize(cold),
      confirmedCold: confirmed,
      fromPool,
      warm: summarize(warm),
      burst: {
        allAnswered: spread(allAnswered),
        specialized: spread(specialized),
        specializedFromPool: spread(specializedFromPool),
        p50: spread(burstP50),
        p99: spread(burstP99),
        ok,
        sent,
      },
    };
  } finally {
    await runlet.stop();
  }
}

export async function runColdStart(options: ColdStartOptions): Promise<ColdStartResult> {
  const modes: ModeResult[] = [];
  for (const runtime of options.runtimes) {
    modes.push(await runMode("pool", runtime, options));
    modes.push(await runMode("zero", runtime, options));
  }
  const { log: _log, ...settings } = options;
  const nodePool = modes.find((m) => m.runtime === "node" && m.mode === "pool");
  return { poolSupported: (nodePool?.idleInstances ?? 0) > 0, modes, settings };
}
