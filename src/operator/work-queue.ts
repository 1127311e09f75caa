/**
 * The operator's work queue: keys ("namespace/name"), not events, so a burst of changes to one
 * object is one reconcile of its latest state. A key is queued at most once; a key being
 * worked on is never handed to a second worker, and a change that arrives meanwhile queues it
 * again once the first worker is done. A failed key comes back after a per-key exponential
 * back-off with a cap; a success forgets its failures.
 */
import { systemClock, type Clock, type TimerHandle } from "../clock.js";

export interface WorkQueueOptions {
  /** Back-off after a key's first failure, doubled on each further one. @default 100 */
  readonly baseDelayMs?: number;
  /** The longest back-off. @default 60_000 */
  readonly maxDelayMs?: number;
  /** @default systemClock */
  readonly clock?: Clock;
}

export class WorkQueue {
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #clock: Clock;
  /** Keys ready to be handed out, in order; `#queued` mirrors it for lookups. */
  readonly #ready: string[] = [];
  readonly #queued = new Set<string>();
  readonly #processing = new Set<string>();
  /** Keys that changed while being processed: queued again by done(). */
  readonly #dirty = new Set<string>();
  readonly #failures = new Map<string, number>();
  /** Keys waiting for a delay, with when they are due and the timer that adds them. */
  readonly #delayed = new Map<string, { readonly due: number; readonly timer: TimerHandle }>();
  #waiters: ((key: string | undefined) => void)[] = [];
  #shutDown = false;

  constructor(options: WorkQueueOptions = {}) {
    this.#baseDelayMs = options.baseDelayMs ?? 100;
    this.#maxDelayMs = options.maxDelayMs ?? 60_000;
    this.#clock = options.clock ?? systemClock;
  }

  /** Keys waiting to be worked on (ready or delayed), for the queue-depth metric. */
  get depth(): number {
    let delayedOnly = 0;
    for (const key of this.#delayed.keys()) {
      if (!this.#queued.has(key)) {
        delayedOnly += 1;
      }
    }
    return this.#ready.length + delayedOnly;
  }

  get processing(): number {
    return this.#processing.size;
  }

  add(key: string): void {
    if (this.#shutDown) {
      return;
    }
    if (this.#processing.has(key)) {
      this.#dirty.add(key);
      return;
    }
    if (this.#queued.has(key)) {
      return;
    }
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) {
      this.#processing.add(key);
      waiter(key);
      return;
    }
    this.#queued.add(key);
    this.#ready.push(key);
  }

  /** Adds `key` after `ms`; an earlier pending delay for it wins. */
  addAfter(key: string, ms: number): void {
    if (this.#shutDown) {
      return;
    }
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const due = this.#clock.now() + ms;
    const pending = this.#delayed.get(key);
    if (pending !== undefined) {
      if (pending.due <= due) {
        return;
      }
      this.#clock.clearTimeout(pending.timer);
    }
    const timer = this.#clock.setTimeout(() => {
      this.#delayed.delete(key);
      this.add(key);
    }, ms);
    timer.unref();
    this.#delayed.set(key, { due, timer });
  }

  /** After a failure: adds `key` after its back-off, and counts the failure. */
  addRateLimited(key: string): number {
    const failures = this.#failures.get(key) ?? 0;
    this.#failures.set(key, failures + 1);
    const ms = Math.min(this.#baseDelayMs * 2 ** failures, this.#maxDelayMs);
    this.addAfter(key, ms);
    return ms;
  }

  /** After a success: the next failure starts from the base back-off again. */
  forget(key: string): void {
    this.#failures.delete(key);
  }

  failures(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  /**
   * The next key to work on, waiting for one; undefined once the queue is shut down (or its
   * waiters released). The
   * caller owns the key until it calls done(key).
   */
  async get(): Promise<string | undefined> {
    const key = this.#ready.shift();
    if (key !== undefined) {
      this.#queued.delete(key);
      this.#processing.add(key);
      return key;
    }
    if (this.#shutDown) {
      return undefined;
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  done(key: string): void {
    this.#processing.delete(key);
    if (this.#dirty.delete(key)) {
      this.add(key);
    }
  }

  /** Wakes every waiting get() with undefined (workers told to stop); keys stay queued. */
  releaseWaiters(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) {
      waiter(undefined);
    }
  }

  /** Wakes every waiting get() with undefined; pending and delayed keys are dropped. */
  shutDown(): void {
    this.#shutDown = true;
    for (const { timer } of this.#delayed.values()) {
      this.#clock.clearTimeout(timer);
    }
    this.#delayed.clear();
    this.#ready.length = 0;
    this.#queued.clear();
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) {
      waiter(undefined);
    }
  }
}
