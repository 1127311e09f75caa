/**
 * The executor owns instance lifecycle (DESIGN.md step 3): it starts and specializes
 * instances for a revision, hands out capacity to the router (least in-flight first), holds
 * callers in a bounded queue while instances start, scales up to `max` from the number of
 * waiting and running calls, reaps instances idle past the idle timeout (scale to zero) and
 * replaces instances that die.
 */
import { UserError, errorMessage } from "../errors.js";
import type { Instance, LogLine, Provider } from "../provider/types.js";
import { revisionKey, type RevisionTarget } from "./revision-target.js";

export interface ExecutorOptions {
  readonly provider: Provider;
  readonly onLog: (line: LogLine) => void;
  /** Calls a revision may hold waiting for capacity before new ones get 429. @default 1000 */
  readonly maxQueue?: number;
  /** How often idle instances are looked for. @default 1000 */
  readonly reapIntervalMs?: number;
  /** Injected clock, for tests of idle reaping. @default Date.now */
  readonly now?: () => number;
}

/** A slot on one instance, held by the router for the length of one call. */
export interface Lease {
  readonly instance: Instance;
  /** Gives the capacity back. */
  release(): void;
  /** The call broke the instance (timeout, protocol error): stop it and start afresh. */
  recycle(reason: string): void;
}

export interface RevisionStatus {
  readonly revision: string;
  readonly replicas: number;
  readonly ready: number;
  readonly starting: number;
  readonly inFlight: number;
  readonly queued: number;
  readonly coldStarts: number;
  readonly lastExit: string | undefined;
  readonly lastError: string | undefined;
}

interface Slot {
  readonly instance: Instance;
  inFlight: number;
  lastUsed: number;
  stopping: boolean;
}

interface Waiter {
  readonly resolve: (lease: Lease) => void;
  readonly reject: (error: unknown) => void;
}

class RevisionPool {
  readonly slots: Slot[] = [];
  readonly waiters: Waiter[] = [];
  starting = 0;
  coldStarts = 0;
  retired = false;
  lastExit: string | undefined;
  lastError: string | undefined;

  constructor(public target: RevisionTarget) {}

  get inFlight(): number {
    return this.slots.reduce((sum, slot) => sum + slot.inFlight, 0);
  }

  get live(): Slot[] {
    return this.slots.filter((slot) => !slot.stopping);
  }
}

export class Executor {
  readonly #provider: Provider;
  readonly #onLog: (line: LogLine) => void;
  readonly #maxQueue: number;
  readonly #now: () => number;
  readonly #pools = new Map<string, RevisionPool>();
  readonly #reaper: NodeJS.Timeout;
  #closed = false;

  constructor(options: ExecutorOptions) {
    this.#provider = options.provider;
    this.#onLog = options.onLog;
    this.#maxQueue = options.maxQueue ?? 1000;
    this.#now = options.now ?? Date.now;
    this.#reaper = setInterval(() => this.reap(), options.reapIntervalMs ?? 1000);
    this.#reaper.unref();
  }

  /**
   * Starts one instance of a revision and loads its code; the deploy path uses this to
   * refuse code that does not load before it becomes active. The instance stays as the
   * revision's first replica.
   */
  async prepare(target: RevisionTarget): Promise<void> {
    const pool = this.#pool(target);
    await this.#startInstance(pool, { rethrow: true });
  }

  /** Keeps at least `min` instances of a revision running (after deploy, at boot). */
  ensureMin(target: RevisionTarget): void {
    const pool = this.#pool(target);
    this.#scale(pool);
  }

  /**
   * Waits for a free slot on an instance of the revision, starting instances as needed.
   * `signal` cancels the wait (the caller's timeout or disconnect).
   */
  acquire(target: RevisionTarget, signal?: AbortSignal): Promise<Lease> {
    if (this.#closed) {
      return Promise.reject(new Error("the platform is shutting down"));
    }
    const pool = this.#pool(target);
    const slot = this.#freeSlot(pool);
    if (slot) {
      return Promise.resolve(this.#lease(pool, slot));
    }
    if (pool.waiters.length >= this.#maxQueue) {
      return Promise.reject(
        new UserError(
          "RUNLET_QUEUE_FULL",
          `${target.functionName} has ${pool.waiters.length} calls waiting for capacity; retry shortly or raise scale.max`,
        ),
      );
    }
    return new Promise<Lease>((resolve, reject) => {
      const onAbort = (): void => {
        const index = pool.waiters.indexOf(waiter);
        if (index !== -1) {
          pool.waiters.splice(index, 1);
        }
        reject(signal?.reason);
      };
      const waiter: Waiter = {
        resolve: (lease) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(lease);
        },
        reject: (error) => {
          signal?.removeEventListener("abort", onAbort);
          reject(error);
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      pool.waiters.push(waiter);
      this.#scale(pool);
    });
  }

  /**
   * Retires every revision of a function except `keep`: queued callers move to nothing (they
   * were for the old code), in-flight calls finish, then the instances stop.
   */
  retire(functionName: string, keep?: string): Promise<void> {
    const stops: Promise<void>[] = [];
    for (const [key, pool] of this.#pools) {
      if (pool.target.functionName !== functionName || pool.target.revision === keep) {
        continue;
      }
      pool.retired = true;
      this.#pools.delete(key);
      for (const waiter of pool.waiters.splice(0)) {
        waiter.reject(
          new UserError("RUNLET_FUNCTION_NOT_FOUND", `function ${functionName} was removed`),
        );
      }
      stops.push(this.#drainAndStop(pool));
    }
    return Promise.all(stops).then(() => undefined);
  }

  status(functionName: string): RevisionStatus[] {
    return [...this.#pools.values()]
      .filter((pool) => pool.target.functionName === functionName)
      .map((pool) => ({
        revision: pool.target.revision,
        replicas: pool.live.length + pool.starting,
        ready: pool.live.length,
        starting: pool.starting,
        inFlight: pool.inFlight,
        queued: pool.waiters.length,
        coldStarts: pool.coldStarts,
        lastExit: pool.lastExit,
        lastError: pool.lastError,
      }));
  }

  /** Stops idle instances above `min` and starts missing ones up to `min`. */
  reap(): void {
    const now = this.#now();
    for (const pool of this.#pools.values()) {
      const { min, idleTimeoutMs } = pool.target.config.scale;
      const idle = pool.live
        .filter((slot) => slot.inFlight === 0 && now - slot.lastUsed >= idleTimeoutMs)
        .sort((a, b) => a.lastUsed - b.lastUsed);
      let surplus = pool.live.length - min;
      for (const slot of idle) {
        if (surplus <= 0) {
          break;
        }
        surplus -= 1;
        this.#stopSlot(slot);
      }
      this.#scale(pool);
    }
  }

  /** Drains in-flight calls (up to `graceMs`) and stops every instance. */
  async close(graceMs = 10_000): Promise<void> {
    this.#closed = true;
    clearInterval(this.#reaper);
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    for (const pool of pools) {
      pool.retired = true;
      for (const waiter of pool.waiters.splice(0)) {
        waiter.reject(new Error("the platform is shutting down"));
      }
    }
    const deadline = this.#now() + graceMs;
    await Promise.all(pools.map((pool) => this.#drainAndStop(pool, deadline)));
  }

  #pool(target: RevisionTarget): RevisionPool {
    const key = revisionKey(target);
    let pool = this.#pools.get(key);
    if (!pool) {
      pool = new RevisionPool(target);
      this.#pools.set(key, pool);
    } else {
      pool.target = target;
    }
    return pool;
  }

  #freeSlot(pool: RevisionPool): Slot | undefined {
    let best: Slot | undefined;
    for (const slot of pool.slots) {
      if (slot.stopping || slot.inFlight >= pool.target.config.scale.concurrency) {
        continue;
      }
      if (!best || slot.inFlight < best.inFlight) {
        best = slot;
      }
    }
    return best;
  }

  #lease(pool: RevisionPool, slot: Slot): Lease {
    slot.inFlight += 1;
    slot.lastUsed = this.#now();
    let done = false;
    return {
      instance: slot.instance,
      release: () => {
        if (done) {
          return;
        }
        done = true;
        slot.inFlight -= 1;
        slot.lastUsed = this.#now();
        this.#dispatch(pool);
      },
      recycle: (reason) => {
        if (done) {
          return;
        }
        done = true;
        slot.inFlight -= 1;
        pool.lastExit = `recycled: ${reason}`;
        this.#stopSlot(slot);
        this.#scale(pool);
      },
    };
  }

  /** Hands free capacity to queued callers, first come first served. */
  #dispatch(pool: RevisionPool): void {
    while (pool.waiters.length > 0) {
      const slot = this.#freeSlot(pool);
      if (!slot) {
        return;
      }
      const waiter = pool.waiters.shift();
      waiter?.resolve(this.#lease(pool, slot));
    }
  }

  /** Starts instances until waiting + running calls fit, within [min, max]. */
  #scale(pool: RevisionPool): void {
    if (pool.retired || this.#closed) {
      return;
    }
    const { min, max, concurrency } = pool.target.config.scale;
    const demand = pool.inFlight + pool.waiters.length;
    const wanted = Math.min(max, Math.max(min, Math.ceil(demand / concurrency)));
    let missing = wanted - (pool.live.length + pool.starting);
    while (missing > 0) {
      missing -= 1;
      void this.#startInstance(pool, { rethrow: false });
    }
  }

  async #startInstance(pool: RevisionPool, options: { rethrow: boolean }): Promise<void> {
    pool.starting += 1;
    const { target } = pool;
    let instance: Instance | undefined;
    try {
      instance = await this.#provider.start({ runtime: target.config.runtime, onLog: this.#onLog });
      await instance.specialize({
        name: target.functionName,
        revision: target.revision,
        packagePath: target.packagePath,
        handler: target.config.handler,
        env: target.config.env,
        secrets: target.loadSecrets(),
        timeoutMs: target.config.timeoutMs,
        concurrency: target.config.scale.concurrency,
        memoryBytes: target.config.memoryBytes,
        cpu: target.config.cpu,
      });
    } catch (error) {
      pool.starting -= 1;
      pool.lastError = errorMessage(error);
      await instance?.stop();
      // Nobody else is coming to serve the queue: tell the callers why.
      if (pool.live.length === 0 && pool.starting === 0) {
        for (const waiter of pool.waiters.splice(0)) {
          waiter.reject(error);
        }
      }
      if (options.rethrow) {
        throw error;
      }
      return;
    }
    pool.starting -= 1;
    pool.coldStarts += 1;
    pool.lastError = undefined;
    const slot: Slot = { instance, inFlight: 0, lastUsed: this.#now(), stopping: false };
    if (pool.retired || this.#closed) {
      await instance.stop();
      return;
    }
    pool.slots.push(slot);
    void instance.exited.then((info) => {
      const index = pool.slots.indexOf(slot);
      if (index !== -1) {
        pool.slots.splice(index, 1);
      }
      if (!slot.stopping) {
        pool.lastExit = `instance ${instance.id} ${info.reason}`;
        this.#scale(pool);
      }
    });
    this.#dispatch(pool);
  }

  #stopSlot(slot: Slot): void {
    if (slot.stopping) {
      return;
    }
    slot.stopping = true;
    void slot.instance.stop();
  }

  async #drainAndStop(pool: RevisionPool, deadline = this.#now() + 30_000): Promise<void> {
    // Poll in-flight counts: calls end on their own (each has a timeout), so this ends too.
    while (pool.inFlight > 0 && this.#now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await Promise.all(
      pool.slots.map(async (slot) => {
        slot.stopping = true;
        await slot.instance.stop();
      }),
    );
  }
}
