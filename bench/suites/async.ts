/**
 * Async calls (issue 6): how many async calls the gateway accepts per second (each one stored
 * durably before its 202), how fast the queue drains for a no-op function, and how many
 * accepted calls are lost when the server is killed with SIGKILL while 1,000 are queued
 * (expected: none).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runLoad } from "../lib/load.js";
import { startRunletProcess, type RunletProcess } from "../lib/runlet-api.js";
import { spread, type Spread } from "../lib/stats.js";

export interface AsyncResult {
  readonly settings: {
    readonly connections: number;
    readonly acceptDurationS: number;
    readonly drainCalls: number;
    readonly repeats: number;
    readonly killCalls: number;
    readonly killFunctionMs: number;
  };
  /** 202 answers per second, per run. */
  readonly acceptedPerS: Spread;
  readonly acceptP50Ms: Spread;
  readonly acceptP99Ms: Spread;
  readonly acceptFailures: number;
  /** Queued calls run per second, first attempt started to last call finished, per run. */
  readonly drainPerS: Spread;
  readonly drainMs: Spread;
  readonly kill: {
    readonly accepted: number;
    readonly queuedAtKill: number;
    readonly runningAtKill: number;
    readonly succeededAtKill: number;
    readonly succeededAfterRestart: number;
    readonly lost: number;
    /** Calls that ran more than once (cut off by the kill, run again after the restart). */
    readonly ranAgain: number;
    readonly recoveryMs: number;
  };
}

export interface AsyncOptions {
  readonly connections: number;
  readonly acceptDurationS: number;
  readonly drainCalls: number;
  readonly repeats: number;
  readonly killCalls: number;
  readonly log: (line: string) => void;
}

const fixtures = fileURLToPath(new URL("../fixtures/runlet/", import.meta.url));

/** Stored calls of one function by state, from /metrics (runlet_async_calls). */
async function callCounts(runlet: RunletProcess, name: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${runlet.url}/metrics`)).text();
  const counts: Record<string, number> = {};
  const pattern = new RegExp(
    `^runlet_async_calls\\{function_name="${name}",state="(\\w+)"\\} (\\d+)$`,
    "gm",
  );
  for (const match of text.matchAll(pattern)) {
    counts[match[1] ?? ""] = Number(match[2]);
  }
  return counts;
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 300_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function finishedCount(counts: Record<string, number>): number {
  return (counts["succeeded"] ?? 0) + (counts["failed"] ?? 0) + (counts["dead"] ?? 0);
}

/** POSTs `count` async calls over `connections` parallel loops; resolves to the accepted ids. */
async function enqueueMany(
  url: string,
  count: number,
  connections: number,
  path = "",
): Promise<string[]> {
  const ids: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (next < count) {
        next += 1;
        const response = await fetch(`${url}${path}`, { method: "POST", body: "{}" });
        await response.arrayBuffer();
        if (response.status === 202) {
          ids.push(response.headers.get("x-call-id") ?? "");
        }
      }
    }),
  );
  return ids;
}

interface StoredCall {
  id: string;
  state: string;
  attempts: number;
  startedAt?: string;
  finishedAt?: string;
}

/**
 * Fills a queue on a platform whose workers are off (RUNLET_ASYNC_CONCURRENCY 0), stops it,
 * opens the same data directory with workers on, and times the drain from the stored
 * timestamps: first attempt started → last call finished (server clock, no polling error).
 */
async function drainFromFullQueue(options: AsyncOptions): Promise<number> {
  const dataDir = await mkdtemp(join(tmpdir(), "runlet-bench-drain-"));
  try {
    const filler = await startRunletProcess({ dataDir, asyncConcurrency: 0 });
    try {
      await filler.deploy("drain", join(fixtures, "hello"));
      const ids = await enqueueMany(
        `${filler.url}/async-function/drain`,
        options.drainCalls,
        options.connections,
      );
      if (ids.length !== options.drainCalls) {
        throw new Error(`only ${ids.length} of ${options.drainCalls} calls were accepted`);
      }
    } finally {
      await filler.stop();
    }
    const worker = await startRunletProcess({ dataDir });
    try {
      await waitFor(
        async () => ((await callCounts(worker, "drain"))["succeeded"] ?? 0) >= options.drainCalls,
        "the drain",
      );
      const response = await worker.api(`/api/v1/calls?function=drain&limit=1000`);
      const calls = (await response.json()) as StoredCall[];
      const started = Math.min(...calls.map((call) => Date.parse(call.startedAt ?? "")));
      const finished = Math.max(...calls.map((call) => Date.parse(call.finishedAt ?? "")));
      return finished - started;
    } finally {
      await worker.stop();
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

export async function runAsync(options: AsyncOptions): Promise<AsyncResult> {
  const { log } = options;
  const accepted: number[] = [];
  const p50: number[] = [];
  const p99: number[] = [];
  let acceptFailures = 0;
  const drainPerS: number[] = [];
  const drainMs: number[] = [];
  const runlet = await startRunletProcess();
  try {
    for (let repeat = 0; repeat < options.repeats; repeat += 1) {
      const name = `noop-${repeat}`;
      await runlet.deploy(name, join(fixtures, "hello"));
      log(`accept: ${options.connections} connections for ${options.acceptDurationS} s`);
      const load = await runLoad({
        url: `${runlet.url}/async-function/${name}`,
        connections: options.connections,
        durationS: options.acceptDurationS,
        method: "POST",
        body: "{}",
      });
      accepted.push(load.rps);
      p50.push(load.p50);
      p99.push(load.p99);
      acceptFailures += load.non2xx + load.errors + load.timeouts;
      await waitFor(
        async () => finishedCount(await callCounts(runlet, name)) >= load.ok,
        "the accepted calls to drain",
      );
    }
  } finally {
    await runlet.stop();
  }

  for (let repeat = 0; repeat < options.repeats; repeat += 1) {
    log(`drain: ${options.drainCalls} calls queued while no worker runs`);
    const elapsed = await drainFromFullQueue(options);
    drainMs.push(elapsed);
    drainPerS.push(options.drainCalls / (elapsed / 1000));
  }

  log(`SIGKILL with ${options.killCalls} calls queued`);
  const dataDir = await mkdtemp(join(tmpdir(), "runlet-bench-async-"));
  try {
    // 4 at a time × 100 ms: about 40 calls/s, so nearly all of them are still queued at the kill.
    const killMs = 100;
    const first = await startRunletProcess({ dataDir });
    await first.deploy("sleepy", join(fixtures, "sleep"), { scale: { max: 1, concurrency: 4 } });
    const ids = await enqueueMany(
      `${first.url}/async-function/sleepy`,
      options.killCalls,
      options.connections,
      `?ms=${killMs}`,
    );
    const atKill = await callCounts(first, "sleepy");
    first.child.kill("SIGKILL");
    await new Promise((resolve) => first.child.once("exit", resolve));
    await first.stop();
    const restarted = performance.now();
    const second = await startRunletProcess({ dataDir });
    try {
      await waitFor(
        async () => finishedCount(await callCounts(second, "sleepy")) >= ids.length,
        "every accepted call to finish after the restart",
      );
      const recoveryMs = performance.now() - restarted;
      const response = await second.api(`/api/v1/calls?function=sleepy&limit=1000`);
      const calls = (await response.json()) as StoredCall[];
      const byId = new Map(calls.map((call) => [call.id, call]));
      const succeeded = ids.filter((id) => byId.get(id)?.state === "succeeded").length;
      return {
        settings: {
          connections: options.connections,
          acceptDurationS: options.acceptDurationS,
          drainCalls: options.drainCalls,
          repeats: options.repeats,
          killCalls: options.killCalls,
          killFunctionMs: killMs,
        },
        acceptedPerS: spread(accepted),
        acceptP50Ms: spread(p50),
        acceptP99Ms: spread(p99),
        acceptFailures,
        drainPerS: spread(drainPerS),
        drainMs: spread(drainMs),
        kill: {
          accepted: ids.length,
          queuedAtKill: atKill["queued"] ?? 0,
          runningAtKill: atKill["running"] ?? 0,
          succeededAtKill: atKill["succeeded"] ?? 0,
          succeededAfterRestart: succeeded,
          lost: ids.length - succeeded,
          ranAgain: calls.filter((call) => call.attempts > 1).length,
          recoveryMs,
        },
      };
    } finally {
      await second.stop();
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}
