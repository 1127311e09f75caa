/**
 * A Clock that moves only when a test says so: timers fire in due order as `advance()` passes
 * them, with the promises they start given a chance to settle in between.
 */
import type { Clock, TimerHandle } from "../../src/clock.js";

interface Timer extends TimerHandle {
  due: number;
  readonly every: number | undefined;
  readonly callback: () => void;
  readonly order: number;
}

export class ManualClock implements Clock {
  #now: number;
  #order = 0;
  readonly #timers = new Set<Timer>();

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    return this.#add(callback, ms, undefined);
  }

  setInterval(callback: () => void, ms: number): TimerHandle {
    return this.#add(callback, ms, Math.max(1, ms));
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    this.#cancel(handle);
  }

  clearInterval(handle: TimerHandle | undefined): void {
    this.#cancel(handle);
  }

  /** Timers waiting to fire. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Moves time on to `at` (ms since the epoch), as advance() does; never back. */
  async advanceTo(at: number): Promise<void> {
    // Written so that NaN is refused too.
    if (!(at >= this.#now)) {
      throw new Error(`the clock is at ${this.#now} and does not go back to ${at}`);
    }
    await this.advance(at - this.#now);
  }

  /** Moves time on by `ms`, firing every timer that falls due on the way, in order. */
  async advance(ms: number): Promise<void> {
    const until = this.#now + ms;
    for (;;) {
      await settle();
      const next = [...this.#timers]
        .filter((timer) => timer.due <= until)
        .sort((a, b) => a.due - b.due || a.order - b.order)[0];
      if (!next) {
        break;
      }
      this.#now = Math.max(this.#now, next.due);
      if (next.every === undefined) {
        this.#timers.delete(next);
      } else {
        next.due += next.every;
      }
      next.callback();
    }
    this.#now = until;
    await settle();
  }

  #add(callback: () => void, ms: number, every: number | undefined): Timer {
    const timer: Timer = {
      due: this.#now + Math.max(0, ms),
      every,
      callback,
      order: (this.#order += 1),
      unref: () => timer,
    };
    this.#timers.add(timer);
    return timer;
  }

  #cancel(handle: TimerHandle | undefined): void {
    if (handle) {
      this.#timers.delete(handle as Timer);
    }
  }
}

/** Lets promise chains started by a timer run to their next real wait. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i += 1) {
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
