// Waiting on cluster state in tests: poll with a deadline, or take events from a watch with a deadline.
import { setTimeout as delay } from "node:timers/promises";

export interface PollOptions {
  /** Give up after this long. */
  readonly timeoutMs: number;
  /**
   * Longest pause between probes; the first ones come quicker.
   * @default 500
   */
  readonly maxIntervalMs?: number;
}

/**
 * Calls `probe` until it returns something other than undefined. `describe` is called on
 * timeout and should say what was last seen, so a failure explains itself.
 */
export async function pollUntil<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  options: PollOptions & { readonly describe?: () => string },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  const maxInterval = options.maxIntervalMs ?? 500;
  let lastError: unknown;
  for (let interval = 25; ; interval = Math.min(interval * 2, maxInterval)) {
    try {
      const value = await probe();
      if (value !== undefined) {
        return value;
      }
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const seen = options.describe === undefined ? "" : `; last seen: ${options.describe()}`;
      const failed = lastError === undefined ? "" : `; last error: ${String(lastError)}`;
      throw new Error(
        `timed out after ${String(options.timeoutMs)} ms waiting for ${what}${seen}${failed}`,
      );
    }
    await delay(interval);
  }
}

/**
 * Buffers events (e.g. from a Kubernetes watch) so a test can wait for the next one that
 * matches, without missing any that arrived before it started waiting.
 */
interface Waiter<E> {
  readonly match: (event: E) => boolean;
  readonly resolve: (event: E) => void;
  readonly reject: (error: Error) => void;
}

export class EventLog<E> {
  readonly #events: E[] = [];
  readonly #waiters = new Set<Waiter<E>>();
  #closed: Error | undefined;

  push(event: E): void {
    this.#events.push(event);
    for (const waiter of this.#waiters) {
      if (waiter.match(event)) {
        this.#waiters.delete(waiter);
        waiter.resolve(event);
      }
    }
  }

  /** Fails every current and later wait, e.g. when the watch ends with an error. */
  close(reason: Error): void {
    this.#closed = reason;
    for (const waiter of this.#waiters) {
      waiter.reject(reason);
    }
    this.#waiters.clear();
  }

  get events(): readonly E[] {
    return this.#events;
  }

  /** The first event, already seen or still to come, that satisfies `match`. */
  async first(what: string, match: (event: E) => boolean, timeoutMs: number): Promise<E> {
    const seen = this.#events.find(match);
    if (seen !== undefined) {
      return seen;
    }
    if (this.#closed !== undefined) {
      throw new Error(`waiting for ${what}: the event source closed`, { cause: this.#closed });
    }
    const controller = new AbortController();
    let waiter: Waiter<E> | undefined;
    const found = new Promise<E>((resolve, reject) => {
      waiter = {
        match,
        resolve,
        reject: (reason) =>
          reject(new Error(`waiting for ${what}: the event source closed`, { cause: reason })),
      };
      this.#waiters.add(waiter);
    });
    try {
      return await Promise.race([
        found,
        delay(timeoutMs, undefined, { signal: controller.signal }).then(() => {
          throw new Error(
            `timed out after ${String(timeoutMs)} ms waiting for ${what}; ` +
              `${String(this.#events.length)} event(s) seen`,
          );
        }),
      ]);
    } finally {
      if (waiter !== undefined) {
        this.#waiters.delete(waiter);
      }
      controller.abort();
    }
  }
}
