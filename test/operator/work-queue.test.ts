// The operator's work queue: de-duplication by key, one worker per key, per-key exponential back-off with a cap.
import { describe, expect, it } from "vitest";
import { WorkQueue } from "../../src/operator/work-queue.js";
import { ManualClock } from "../helpers/manual-clock.js";

describe("work queue", () => {
  it("queues a key once however often it is added", async () => {
    const queue = new WorkQueue({ clock: new ManualClock() });
    queue.add("ns/a");
    queue.add("ns/b");
    queue.add("ns/a");
    expect(queue.depth).toBe(2);
    expect(await queue.get()).toBe("ns/a");
    expect(await queue.get()).toBe("ns/b");
    expect(queue.depth).toBe(0);
  });

  it("never hands a key being worked on to a second worker, and queues it again when it changed meanwhile", async () => {
    const queue = new WorkQueue({ clock: new ManualClock() });
    queue.add("ns/a");
    const first = await queue.get();
    expect(first).toBe("ns/a");
    queue.add("ns/a"); // changed while being reconciled
    queue.add("ns/b");
    // The second worker gets b, not a second copy of a.
    expect(await queue.get()).toBe("ns/b");
    expect(queue.depth).toBe(0);
    queue.done("ns/a");
    expect(queue.depth).toBe(1);
    expect(await queue.get()).toBe("ns/a");
  });

  it("hands a key added later to a worker already waiting", async () => {
    const queue = new WorkQueue({ clock: new ManualClock() });
    const waiting = queue.get();
    queue.add("ns/a");
    expect(await waiting).toBe("ns/a");
  });

  it("backs a failing key off exponentially up to the cap, and forgets its failures on success", async () => {
    const clock = new ManualClock();
    const queue = new WorkQueue({ clock, baseDelayMs: 100, maxDelayMs: 1_000 });
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      delays.push(queue.addRateLimited("ns/a"));
    }
    expect(delays).toEqual([100, 200, 400, 800, 1_000, 1_000]);
    // The earliest pending delay wins: the key is due after 100 ms, once.
    expect(queue.depth).toBe(1);
    await clock.advance(99);
    expect(queue.depth).toBe(1);
    const got = queue.get();
    await clock.advance(1);
    expect(await got).toBe("ns/a");
    queue.done("ns/a");
    queue.forget("ns/a");
    expect(queue.failures("ns/a")).toBe(0);
    expect(queue.addRateLimited("ns/a")).toBe(100);
  });

  it("wakes waiting workers with no key when shut down", async () => {
    const queue = new WorkQueue({ clock: new ManualClock() });
    const waiting = [queue.get(), queue.get()];
    queue.shutDown();
    expect(await Promise.all(waiting)).toEqual([undefined, undefined]);
    queue.add("ns/a");
    expect(await queue.get()).toBeUndefined();
  });
});
