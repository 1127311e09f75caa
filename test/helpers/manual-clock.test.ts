/** The fed clock the platform's timing tests run on: it must fire what is due, in order, and nothing else. */
import { describe, expect, it } from "vitest";
import { ManualClock } from "./manual-clock.js";

describe("ManualClock", () => {
  it("fires timers in due order, each seeing its own due time, and none before it", async () => {
    const clock = new ManualClock(1000);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push(`late@${clock.now()}`), 300);
    clock.setTimeout(() => fired.push(`early@${clock.now()}`), 100);
    const cancelled = clock.setTimeout(() => fired.push("cancelled"), 200);
    clock.clearTimeout(cancelled);
    await clock.advance(99);
    expect(fired).toEqual([]);
    await clock.advance(250);
    expect(fired).toEqual(["early@1100", "late@1300"]);
    expect(clock.now()).toBe(1349);
    expect(clock.pending).toBe(0);
  });

  it("repeats an interval until it is cleared", async () => {
    const clock = new ManualClock(0);
    const ticks: number[] = [];
    const interval = clock.setInterval(() => ticks.push(clock.now()), 1000);
    await clock.advance(3500);
    expect(ticks).toEqual([1000, 2000, 3000]);
    clock.clearInterval(interval);
    await clock.advance(5000);
    expect(ticks).toEqual([1000, 2000, 3000]);
  });

  it("lets the promises a timer starts settle, so a timer they set on the way still fires", async () => {
    const clock = new ManualClock(0);
    const seen: number[] = [];
    clock.setTimeout(() => {
      void Promise.resolve()
        .then(() => new Promise<void>((resolve) => setImmediate(resolve)))
        .then(() => clock.setTimeout(() => seen.push(clock.now()), 50));
    }, 100);
    await clock.advance(200);
    expect(seen).toEqual([150]);
  });

  it("advances to a point in time, firing what falls due up to it, and never goes back", async () => {
    const clock = new ManualClock(10_000);
    const fired: number[] = [];
    clock.setTimeout(() => fired.push(clock.now()), 500);
    await clock.advanceTo(10_499);
    expect(fired).toEqual([]);
    await clock.advanceTo(10_500);
    expect(fired).toEqual([10_500]);
    expect(clock.now()).toBe(10_500);
    await expect(clock.advanceTo(10_000)).rejects.toThrow("does not go back");
    await expect(clock.advanceTo(Number.NaN)).rejects.toThrow("does not go back");
    expect(clock.now()).toBe(10_500);
  });
});
