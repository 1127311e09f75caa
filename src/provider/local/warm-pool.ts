/**
 * Generic local instances started ahead of need, per runtime (DESIGN.md "executor"). A cold
 * start takes one and specializes it instead of spawning a process; the provider refills the
 * pool once that cold start has loaded its function, one start at a time, so a refill never
 * competes with a cold start or a burst for the CPU of a small machine.
 */
import type { InstanceRuntime } from "../../spec/function-spec.js";
import type { Instance } from "../types.js";

export interface WarmPoolOptions<I extends Instance> {
  readonly runtime: InstanceRuntime;
  /** Generic instances kept ready; 0 disables the pool. */
  readonly size: number;
  /** Starts one generic instance for the pool. */
  readonly start: () => Promise<I>;
  /** Called when a refill fails (the pool retries on the next take). */
  readonly onError: (error: unknown) => void;
}

export class WarmPool<I extends Instance> {
  readonly runtime: InstanceRuntime;
  readonly #options: WarmPoolOptions<I>;
  readonly #idle: I[] = [];
  #starting = 0;
  #closed = false;
  #failures = 0;

  constructor(options: WarmPoolOptions<I>) {
    this.runtime = options.runtime;
    this.#options = options;
  }

  get idle(): number {
    return this.#idle.length;
  }

  get starting(): number {
    return this.#starting;
  }

  get size(): number {
    return this.#options.size;
  }

  /**
   * A ready generic instance, or undefined when the pool is empty. The caller calls fill() once
   * it has specialized what it took: starting a process costs a core for tens of milliseconds,
   * which a cold start in progress on a small machine would otherwise share.
   */
  take(): I | undefined {
    let instance = this.#idle.shift();
    while (instance?.exitInfo) {
      instance = this.#idle.shift();
    }
    return instance;
  }

  /** Starts instances until the pool is full (sequentially). */
  fill(): void {
    if (this.#closed || this.#starting > 0 || this.#idle.length >= this.#options.size) {
      return;
    }
    // After repeated failures, stop hammering the host; the next take() tries again.
    if (this.#failures >= 3) {
      this.#failures = 0;
      return;
    }
    this.#starting += 1;
    void this.#options.start().then(
      (instance) => {
        this.#starting -= 1;
        this.#failures = 0;
        if (this.#closed) {
          void instance.stop();
          return;
        }
        this.#idle.push(instance);
        void instance.exited.then(() => {
          const index = this.#idle.indexOf(instance);
          if (index !== -1) {
            this.#idle.splice(index, 1);
            this.fill();
          }
        });
        this.fill();
      },
      (error: unknown) => {
        this.#starting -= 1;
        if (this.#closed) {
          return;
        }
        this.#failures += 1;
        this.#options.onError(error);
        this.fill();
      },
    );
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#idle.splice(0).map((instance) => instance.stop()));
  }
}
