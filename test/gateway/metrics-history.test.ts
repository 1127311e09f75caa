/**
 * The metrics history (issue 20): points from the gateway's own call numbers at each step,
 * bounded rings for the hour and the day, percentiles from duration buckets, and the HTTP
 * routes the dashboard and `runlet top` read, against a real Runlet.
 */
import { describe, expect, it } from "vitest";
import { CallMetrics } from "../../src/gateway/call-metrics.js";
import { MetricsHistory, quantileMs } from "../../src/gateway/metrics-history.js";
import { ManualClock } from "../helpers/manual-clock.js";
import { eventually, startTestRunlet } from "../helpers/runlet.js";

function historyOver(calls: CallMetrics, names: string[], clock: ManualClock) {
  const load = new Map<string, { replicas: number; inFlight: number }>();
  const history = new MetricsHistory({
    clock,
    stepMs: 1000,
    hourPoints: 5,
    coarseEvery: 3,
    dayPoints: 2,
    source: {
      calls: () => calls.totals(),
      functionNames: () => names,
      load: (name) => load.get(name) ?? { replicas: 0, inFlight: 0 },
    },
  });
  return { history, load };
}

describe("metrics history", () => {
  it("turns each step's calls into rates by status class and p50/p99 per function and platform", async () => {
    const clock = new ManualClock();
    const calls = new CallMetrics();
    const { history, load } = historyOver(calls, ["a", "b"], clock);
    history.start();
    for (let i = 0; i < 98; i++) {
      calls.finished("a", 200, 0.003);
    }
    calls.finished("a", 500, 0.003);
    calls.finished("a", 404, 20);
    calls.finished("b", 200, 0.0005);
    load.set("a", { replicas: 2, inFlight: 3 });
    history.coldStart("a");
    await clock.advance(1000);
    const a = history.view("a", "hour");
    expect(a?.times).toEqual([clock.now() / 1000]);
    expect(a?.series.ok).toEqual([98]);
    expect(a?.series.serverErrors).toEqual([1]);
    expect(a?.series.clientErrors).toEqual([1]);
    // 100 calls: p50 in the 2.5–5 ms bucket, p99 the slow one's (10–30 s bucket).
    expect(a?.series.p50Ms[0]).toBeGreaterThan(2.5);
    expect(a?.series.p50Ms[0]).toBeLessThanOrEqual(5);
    expect(a?.series.p99Ms[0]).toBeGreaterThan(2.5);
    expect(a?.series.coldStarts).toEqual([1]);
    expect(a?.series.replicas).toEqual([2]);
    expect(a?.series.inFlight).toEqual([3]);
    const platform = history.view(undefined, "hour");
    expect(platform?.series.ok).toEqual([99]);
    expect(platform?.series.replicas).toEqual([2]);

    // The next step counts only what came after the first.
    calls.finished("a", 200, 0.001);
    await clock.advance(1000);
    expect(history.view("a", "hour")?.series.ok).toEqual([98, 1]);
    expect(history.view("a", "hour")?.series.coldStarts).toEqual([1, 0]);
    // A step without calls has no latency, not a zero one.
    expect(history.view("b", "hour")?.series.p50Ms).toEqual([0.5, null]);

    const summary = history.summary("a", 2000);
    expect(summary?.requestsPerSecond).toBe(50.5);
    expect(summary?.errorRate).toBeCloseTo(1 / 101, 3);
    expect(summary?.coldStarts).toBe(1);
    history.stop();
    expect(clock.pending).toBe(0);
  });

  it("keeps a bounded number of points, folds steps into the day's, and drops removed functions", async () => {
    const clock = new ManualClock();
    const calls = new CallMetrics();
    const names = ["a"];
    const { history, load } = historyOver(calls, names, clock);
    for (let step = 1; step <= 7; step++) {
      calls.finished("a", 200, 0.001);
      load.set("a", { replicas: step, inFlight: 0 });
      clock.advance(1000);
      history.step();
    }
    const hour = history.view("a", "hour");
    expect(hour?.times.length).toBe(5);
    expect(hour?.series.replicas).toEqual([3, 4, 5, 6, 7]);
    // 7 steps, 3 per day point: two points, each the sum of its calls over 3 s, and the
    // highest replicas seen.
    const day = history.view("a", "day");
    expect(day?.stepSeconds).toBe(3);
    expect(day?.series.ok).toEqual([1, 1]);
    expect(day?.series.replicas).toEqual([3, 6]);
    names.length = 0;
    history.step();
    expect(history.view("a", "hour")).toBeUndefined();
  });

  it("reads quantiles from buckets, interpolating within one", () => {
    const buckets = new Float64Array(16);
    expect(Number.isNaN(quantileMs(buckets, 0.5))).toBe(true);
    buckets[0] = 10; // 0–1 ms
    expect(quantileMs(buckets, 0.5)).toBeCloseTo(0.5, 5);
    buckets[15] = 10; // over 60 s
    expect(quantileMs(buckets, 0.99)).toBe(60_000);
  });
});

describe("metrics history over HTTP", () => {
  it("serves a function's points and the live summary to the admin only", async () => {
    const runlet = await startTestRunlet({ historyStepMs: 100 });
    const deployed = await runlet.deploy("hello", {
      "index.js":
        "export default async (event) => event.query.fail ? { statusCode: 500, body: 'no' } : 'hi';",
    });
    expect(deployed.status).toBe(201);
    for (let i = 0; i < 5; i++) {
      expect((await fetch(`${runlet.url}/function/hello`)).status).toBe(200);
    }
    expect((await fetch(`${runlet.url}/function/hello?fail=1`)).status).toBe(500);
    const history = await eventually(
      async () => {
        const answer = (await (
          await runlet.api("/api/v1/metrics/history?function=hello")
        ).json()) as {
          series: { ok?: number[]; serverErrors?: number[]; coldStarts?: number[] };
          stepSeconds: number;
        };
        const count = (rates: number[] | undefined): number =>
          Math.round((rates ?? []).reduce((sum, rate) => sum + rate * answer.stepSeconds, 0));
        return count(answer.series.ok) === 5 && count(answer.series.serverErrors) === 1
          ? answer
          : undefined;
      },
      { what: "the calls in the history" },
    );
    expect(history.stepSeconds).toBe(0.1);
    expect((history.series.coldStarts ?? []).reduce((s, n) => s + n, 0)).toBeGreaterThanOrEqual(1);

    const summary = (await (await runlet.api("/api/v1/metrics/summary?window=10")).json()) as {
      functions: { name: string; replicas: number; errorRate: number; p50Ms: number | null }[];
      platform: { requestsPerSecond: number };
    };
    const hello = summary.functions.find((fn) => fn.name === "hello");
    expect(hello?.replicas).toBeGreaterThanOrEqual(1);
    expect(hello?.errorRate).toBeCloseTo(1 / 6, 2);
    expect(hello?.p50Ms).not.toBeNull();
    expect(summary.platform.requestsPerSecond).toBeGreaterThan(0);

    for (const path of ["/api/v1/metrics/history", "/api/v1/metrics/summary"]) {
      expect((await fetch(`${runlet.url}${path}`)).status, path).toBe(401);
    }
    const missing = await runlet.api("/api/v1/metrics/history?function=nope");
    expect(missing.status).toBe(404);
    const wrong = await runlet.api("/api/v1/metrics/history?range=week");
    expect(wrong.status).toBe(400);
    expect(((await wrong.json()) as { error: { code: string } }).error.code).toBe(
      "RUNLET_INVALID_SPEC",
    );
  });
});
