import { describe, expect, it } from "vitest";
import { ManualClock } from "../helpers/manual-clock.js";
import { eventually, startTestRunlet, tempDir } from "../helpers/runlet.js";

const sleeper = `let inFlight = 0;
export default async function (event) {
  inFlight += 1;
  try {
    const ms = Number(event.query.ms ?? 0);
    if (event.query.hang && event.headers["x-runlet-attempt"] === "1") { await new Promise(() => {}); }
    await new Promise((resolve) => setTimeout(resolve, ms));
    return { statusCode: 200, body: "x".repeat(Number(event.query.size ?? 2)) };
  } finally {
    inFlight -= 1;
  }
}
`;

function enqueue(
  runlet: Awaited<ReturnType<typeof startTestRunlet>>,
  name: string,
  path = "/",
  callbackUrl?: string,
) {
  return runlet.platform.calls.enqueue({
    name,
    method: "POST",
    path,
    headers: {},
    body: Buffer.alloc(0),
    ...(callbackUrl ? { callbackUrl } : {}),
  });
}

describe("the async call queue", () => {
  it("runs no more attempts of a function than its capacity, and no more in all than the cap", async () => {
    const runlet = await startTestRunlet({ calls: { maxConcurrency: 3 } });
    await runlet.deploy("narrow", { "index.js": sleeper }, { scale: { max: 1, concurrency: 2 } });
    await runlet.deploy("wide", { "index.js": sleeper });
    const ids = [
      ...(await Promise.all(Array.from({ length: 8 }, () => enqueue(runlet, "narrow", "/?ms=30")))),
      ...(await Promise.all(Array.from({ length: 8 }, () => enqueue(runlet, "wide", "/?ms=30")))),
    ].map((call) => call.id);
    let maxNarrow = 0;
    let maxAll = 0;
    await eventually(
      async () => {
        const running = await runlet.platform.calls.list({ state: "running", limit: 100 });
        maxAll = Math.max(maxAll, running.length);
        maxNarrow = Math.max(
          maxNarrow,
          running.filter((call) => call.functionName === "narrow").length,
        );
        const states = await Promise.all(ids.map((id) => runlet.platform.calls.get(id)));
        return states.every((call) => call?.state === "succeeded") ? true : undefined;
      },
      { intervalMs: 2, what: "all calls to succeed" },
    );
    expect(maxNarrow).toBeGreaterThan(0);
    expect(maxNarrow).toBeLessThanOrEqual(2);
    expect(maxAll).toBeLessThanOrEqual(3);
  });

  it("on close, puts a running call back in the queue, and runs it after the next start", async () => {
    const dataDir = await tempDir();
    const first = await startTestRunlet({ dataDir });
    await first.deploy("slow", { "index.js": sleeper });
    const call = await enqueue(first, "slow", "/?hang=1");
    await eventually(async () => (await first.platform.calls.get(call.id))?.state === "running");
    await first.close(100);

    const second = await startTestRunlet({ dataDir });
    const done = await eventually(async () => {
      const current = await second.platform.calls.get(call.id);
      return current?.state === "succeeded" ? current : undefined;
    });
    // The cut-short attempt counts as an attempt, not as a failure of the function.
    expect(done).toMatchObject({ attempts: 2, failures: 0, statusCode: 200 });
  });

  it("on close, lets a running call that ends within the grace time finish", async () => {
    const dataDir = await tempDir();
    const first = await startTestRunlet({ dataDir });
    await first.deploy("slow", { "index.js": sleeper });
    const call = await enqueue(first, "slow", "/?ms=300");
    await eventually(async () => (await first.platform.calls.get(call.id))?.state === "running");
    await first.close(10_000);
    const second = await startTestRunlet({ dataDir, calls: { maxConcurrency: 0 } });
    expect(await second.platform.calls.get(call.id)).toMatchObject({
      state: "succeeded",
      attempts: 1,
      statusCode: 200,
    });
  });

  it("stores calls without running them when workers are off, and runs them on the next start", async () => {
    const dataDir = await tempDir();
    const accepting = await startTestRunlet({ dataDir, calls: { maxConcurrency: 0 } });
    await accepting.deploy("later", { "index.js": sleeper });
    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      ids.push((await enqueue(accepting, "later")).id);
    }
    const queued = await accepting.platform.calls.list({ functionName: "later" });
    expect(queued.map((c) => c.state)).toEqual(Array(5).fill("queued"));
    await accepting.close(1000);
    const working = await startTestRunlet({ dataDir });
    await eventually(async () => {
      const states = await Promise.all(ids.map((id) => working.platform.calls.get(id)));
      return states.every((call) => call?.state === "succeeded") ? true : undefined;
    });
  });

  it("keeps at most maxResultBytes of a result, and says it was cut", async () => {
    const runlet = await startTestRunlet({ calls: { maxResultBytes: 100 } });
    await runlet.deploy("big", { "index.js": sleeper });
    const call = await enqueue(runlet, "big", "/?size=1000");
    const done = await eventually(async () => {
      const current = await runlet.platform.calls.get(call.id);
      return current?.state === "succeeded" ? current : undefined;
    });
    expect(done.result).toMatchObject({ size: 1000, truncated: true });
    expect(done.result?.body.toString()).toBe("x".repeat(100));
  });

  it("deletes finished calls after the retention time", async () => {
    const clock = new ManualClock();
    const runlet = await startTestRunlet({ clock, calls: { retentionMs: 600_000 } });
    await runlet.deploy("brief", { "index.js": sleeper });
    const call = await enqueue(runlet, "brief");
    const done = await eventually(async () => {
      const current = await runlet.platform.calls.get(call.id);
      return current?.state === "succeeded" ? current : undefined;
    });
    const finishedAt = done.finishedAt ?? 0;
    // Sweeps run every tenth of the retention time (at most a minute apart): kept until it is
    // 10 minutes old, gone by the sweep after.
    await clock.advanceTo(finishedAt + 600_000);
    expect((await runlet.platform.calls.get(call.id))?.state).toBe("succeeded");
    await clock.advanceTo(finishedAt + 660_000);
    expect(await runlet.platform.calls.get(call.id)).toBeUndefined();
  });

  it("fails queued calls of a function that was removed, without retrying", async () => {
    const runlet = await startTestRunlet({ calls: { retryBaseMs: 10 } });
    // Removing waits for the hung call to time out (1s) before the instances stop.
    await runlet.deploy(
      "gone",
      { "index.js": sleeper },
      { timeout: "1s", scale: { max: 1, concurrency: 1 } },
    );
    const running = await enqueue(runlet, "gone", "/?hang=1");
    await eventually(
      async () => (await runlet.platform.calls.get(running.id))?.state === "running",
    );
    const waiting = await enqueue(runlet, "gone");
    expect((await runlet.platform.calls.get(waiting.id))?.state).toBe("queued");
    await runlet.platform.remove("gone");
    const failed = (id: string) =>
      eventually(async () => {
        const current = await runlet.platform.calls.get(id);
        return current?.state === "failed" ? current : undefined;
      });
    expect(await failed(running.id)).toMatchObject({ attempts: 1, statusCode: 504 });
    expect(await failed(waiting.id)).toMatchObject({ attempts: 1, statusCode: 404 });
    for (const id of [running.id, waiting.id]) {
      expect((await runlet.platform.calls.get(id))?.lastError).toContain("removed");
    }
  });
});
