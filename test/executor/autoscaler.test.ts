import { describe, expect, it } from "vitest";
import { Autoscaler } from "../../src/executor/autoscaler.js";

const settings = { target: 7, min: 0, max: 10, stableWindowMs: 60_000, idleTimeoutMs: 300_000 };

/** Feeds one sample a second from `from` to `to` (ms), all at `concurrency`. */
function feed(scaler: Autoscaler, from: number, to: number, concurrency: number): void {
  for (let at = from; at <= to; at += 1000) {
    scaler.record(at, concurrency);
  }
}

describe("autoscaler", () => {
  it("sizes for the stable-window average at the target per instance", () => {
    const scaler = new Autoscaler(settings, 0);
    feed(scaler, 0, 60_000, 20);
    expect(scaler.decide(60_000, 3)).toMatchObject({ desired: 3, panic: false });
    expect(scaler.decide(60_000, 3).reason).toContain("20.0 concurrent on average over 60s");
  });

  it("panics on a burst twice the capacity and does not scale down until a stable window passed", () => {
    const scaler = new Autoscaler(settings, 0);
    feed(scaler, 0, 53_000, 0);
    feed(scaler, 54_000, 60_000, 70);
    const burst = scaler.decide(60_000, 1);
    expect(burst.panic).toBe(true);
    expect(burst.desired).toBe(10);
    // The burst ends: still panicking, so the instances stay.
    feed(scaler, 61_000, 100_000, 0);
    expect(scaler.decide(100_000, 10)).toMatchObject({ desired: 10, panic: true });
    // A stable window later, the average decides again.
    feed(scaler, 101_000, 125_000, 0);
    const calm = scaler.decide(125_000, 10);
    expect(calm.panic).toBe(false);
    expect(calm.desired).toBe(1);
  });

  it("scales to zero only after the idle timeout, and keeps min", () => {
    const scaler = new Autoscaler(
      { ...settings, idleTimeoutMs: 30_000, stableWindowMs: 10_000 },
      0,
    );
    scaler.touch(1000);
    feed(scaler, 0, 20_000, 0);
    expect(scaler.decide(20_000, 1).desired).toBe(1);
    feed(scaler, 21_000, 31_000, 0);
    const zero = scaler.decide(31_000, 1);
    expect(zero.desired).toBe(0);
    expect(zero.reason).toContain("scale to zero");
    const keep = new Autoscaler({ ...settings, min: 2, idleTimeoutMs: 1000 }, 0);
    feed(keep, 0, 120_000, 0);
    expect(keep.decide(120_000, 2)).toMatchObject({ desired: 2 });
  });

  it("never goes above max", () => {
    const scaler = new Autoscaler({ ...settings, max: 3 }, 0);
    feed(scaler, 0, 60_000, 500);
    expect(scaler.decide(60_000, 3).desired).toBe(3);
  });
});
