import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { openDatabase } from "../../src/store/database.js";
import { SqliteTriggerStore, type TriggerRecord } from "../../src/store/trigger-store.js";
import { CronScheduler } from "../../src/triggers/cron-scheduler.js";
import type { TriggerAsyncCall, TriggerHost } from "../../src/triggers/trigger-host.js";
import { eventually, startTestRunlet, tempDir, type TestRunlet } from "../helpers/runlet.js";

const tick = `export default async function (event) {
  return { scheduledAt: event.body.scheduledAt, trigger: event.headers["x-runlet-trigger"] };
}
`;

/** Scheduled times (epoch ms) of the cron calls of `functionName`, from the calls' ids. */
async function cronFirings(
  runlet: TestRunlet,
  functionName: string,
  trigger: string,
): Promise<number[]> {
  return (await runlet.platform.calls.list({ functionName, limit: 1000 }))
    .filter((call) => call.source === `cron:${trigger}`)
    .map((call) => Number(call.id.slice(`cron-${trigger}-`.length)))
    .sort((a, b) => a - b);
}

describe("cron triggers", () => {
  it("fires @every 1s as async calls with source cron:<trigger>", async () => {
    const runlet = await startTestRunlet();
    const deployed = await runlet.deploy(
      "ticker",
      { "index.js": tick },
      { triggers: [{ cron: "@every 1s" }] },
    );
    expect(deployed.status).toBe(201);
    const calls = await eventually(
      async () => {
        const done = (await runlet.platform.calls.list({ functionName: "ticker" })).filter(
          (call) => call.source === "cron:ticker.cron-1" && call.state === "succeeded",
        );
        return done.length >= 2 ? done : undefined;
      },
      { what: "two successful cron calls", timeoutMs: 20_000 },
    );
    const result = (await runlet.platform.calls.get(calls[0]?.id ?? ""))?.result;
    expect(JSON.parse(result?.body.toString("utf8") ?? "{}")).toMatchObject({
      trigger: "ticker.cron-1",
    });
  });

  it("fires nothing twice across a restart, and runs missed firings once", async () => {
    const dataDir = await tempDir();
    const first = await startTestRunlet({ dataDir });
    expect((await first.deploy("ticker", { "index.js": tick })).status).toBe(201);
    const created = await first.api("/api/v1/triggers", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "tick", function: "ticker", cron: "@every 1s" }),
    });
    expect(created.status).toBe(201);
    await eventually(
      async () => (await cronFirings(first, "ticker", "tick")).length >= 2 || undefined,
      {
        what: "two firings before the restart",
        timeoutMs: 20_000,
      },
    );
    await first.close(2000);
    const closedAt = Date.now();
    // Stay down across at least two firings.
    await eventually(() => Date.now() > closedAt + 2500 || undefined, { what: "downtime" });

    const reopenedAt = Date.now();
    const second = await startTestRunlet({ dataDir });
    const firings = await eventually(
      async () => {
        const all = await cronFirings(second, "ticker", "tick");
        return all.filter((time) => time > reopenedAt).length >= 2 ? all : undefined;
      },
      { what: "two firings after the restart", timeoutMs: 20_000 },
    );
    expect(firings.filter((time) => time <= closedAt).length).toBeGreaterThanOrEqual(2);
    // The firings missed while down (at least two) ran at most once, coalesced.
    expect(
      firings.filter((time) => time > closedAt && time < reopenedAt).length,
    ).toBeLessThanOrEqual(1);
    // No scheduled time was fired twice.
    expect(new Set(firings).size).toBe(firings.length);
  });
});

describe("CronScheduler", () => {
  const record = (spec: TriggerRecord["spec"]): TriggerRecord => ({
    name: "t",
    functionName: "f",
    target: "f",
    origin: "api",
    spec,
    createdAt: 0,
  });

  async function setup(spec: TriggerRecord["spec"], start: number) {
    const db = openDatabase(join(await tempDir(), "runlet.db"));
    const store = new SqliteTriggerStore(db);
    const trigger = record(spec);
    store.insert(trigger);
    const fired: TriggerAsyncCall[] = [];
    const host: TriggerHost = {
      functionTimeoutMs: () => 1000,
      hasRevision: () => true,
      call: () => Promise.reject(new Error("not used")),
      enqueue: (call) => {
        fired.push(call);
        return Promise.resolve();
      },
      onError: (error) => {
        throw error;
      },
    };
    const clock = { now: start };
    /** A scheduler's life from start to close: what a platform start does. */
    const run = (changed: Partial<TriggerRecord> = {}): void => {
      const scheduler = new CronScheduler({ store, host, now: () => clock.now });
      scheduler.reconcile([{ ...trigger, ...changed }]);
      scheduler.close();
    };
    return { clock, fired, run, db };
  }

  it("coalesces missed @every firings into one and never fires one twice", async () => {
    const start = 1_700_000_000_000;
    const { clock, fired, run } = await setup({ cron: "@every 10s" }, start);
    run();
    expect(fired).toEqual([]);
    clock.now = start + 35_000; // three firings missed
    run();
    expect(fired.map((call) => call.callId)).toEqual([`cron-t-${start + 30_000}`]);
    expect(fired[0]).toMatchObject({ name: "f", source: "cron:t", method: "POST" });
    run(); // a second start at the same moment fires nothing
    expect(fired).toHaveLength(1);
    clock.now = start + 41_000;
    run();
    expect(fired.map((call) => call.callId)).toEqual([
      `cron-t-${start + 30_000}`,
      `cron-t-${start + 40_000}`,
    ]);
  });

  it("starts a changed schedule afresh instead of catching up on it", async () => {
    const start = Date.UTC(2026, 0, 1, 0, 30, 0);
    const { clock, fired, run } = await setup({ cron: "@every 1h" }, start);
    run();
    clock.now = start + 30 * 60_000; // 01:00, no @every 1h firing due yet
    run({ spec: { cron: "0 * * * *" } }); // the new schedule's 01:00 slot is not a missed one
    expect(fired).toEqual([]);
    clock.now = Date.UTC(2026, 0, 1, 2, 0, 1);
    run({ spec: { cron: "0 * * * *" } });
    expect(fired.map((call) => call.callId)).toEqual([`cron-t-${Date.UTC(2026, 0, 1, 2, 0, 0)}`]);
  });

  it("reads cron fields in the trigger's time zone", async () => {
    const start = Date.UTC(2026, 0, 1, 12, 0, 0);
    const { clock, fired, run } = await setup({ cron: "0 9 * * *", tz: "Asia/Tokyo" }, start);
    run();
    clock.now = Date.UTC(2026, 0, 2, 1, 0, 0); // 10:00 in Tokyo
    run();
    // 09:00 in Tokyo is 00:00 UTC.
    expect(fired.map((call) => call.callId)).toEqual([`cron-t-${Date.UTC(2026, 0, 2, 0, 0, 0)}`]);
  });

  it("refuses bad schedules and unknown time zones with the reason", async () => {
    const runlet = await startTestRunlet();
    expect((await runlet.deploy("ticker", { "index.js": tick })).status).toBe(201);
    const create = async (spec: Record<string, unknown>) => {
      const response = await runlet.api("/api/v1/triggers", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: "c", function: "ticker", ...spec }),
      });
      return {
        status: response.status,
        message: ((await response.json()) as { error: { message: string } }).error.message,
      };
    };
    expect(await create({ cron: "* * *" })).toMatchObject({
      status: 400,
      message: expect.stringContaining("5 fields"),
    });
    expect(await create({ cron: "61 * * * *" })).toMatchObject({
      status: 400,
      message: expect.stringContaining("invalid cron schedule"),
    });
    expect(await create({ cron: "@every 10ms" })).toMatchObject({
      status: 400,
      message: expect.stringContaining("at least 1s"),
    });
    expect(await create({ cron: "0 9 * * *", tz: "Mars/Olympus" })).toMatchObject({
      status: 400,
      message: expect.stringContaining('unknown time zone "Mars/Olympus"'),
    });
  });
});
