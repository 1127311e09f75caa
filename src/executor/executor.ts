/**
 * The executor owns instance lifecycle (DESIGN.md step 3): it asks the provider for generic
 * instances of a revision's shape (warm from the provider's pool, or new) and specializes them
 * for the revision, hands out capacity to the router (least in-flight first), holds callers
 * in a bounded queue while instances start, scales each revision between `min` and `max` with
 * a Knative-style autoscaler, reaps idle instances (scale to zero), and replaces instances that
 * die, backing off when a function keeps crashing.
 */
import { systemClock, type Clock, type TimerHandle } from "../clock.js";
import { UserError, errorMessage } from "../errors.js";
import type {
  CancelSignal,
  Instance,
  LogLine,
  PoolStatus,
  Provider,
  StartedInstance,
} from "../provider/types.js";
import { instanceRuntimeOf } from "../spec/function-spec.js";
import { Autoscaler, type AutoscalerSettings, type ScalingDecision } from "./autoscaler.js";
import { revisionKey, type RevisionTarget } from "./revision-target.js";

export interface ExecutorOptions {
  readonly provider: Provider;
  readonly onLog: (line: LogLine) => void;
  /** Calls a revision may hold waiting for capacity before new ones get 429. @default 1000 */
  readonly maxQueue?: number;
  /** How often the autoscaler looks at each revision. @default 1000 */
  readonly tickIntervalMs?: number;
  /** Autoscaler stable window unless a function sets its own. @default 60000 */
  readonly stableWindowMs?: number;
  /** Time for scaling, idle reaping and crash back-off. @default systemClock */
  readonly clock?: Clock;
  /** Told of every cold start, for metrics. */
  readonly onColdStart?: (event: ColdStartEvent) => void;
  /** Told of errors nobody is waiting for. */
  readonly onError?: (error: unknown) => void;
  /** Caps on the instances a group of functions (a namespace) holds at once. @default none */
  readonly instanceQuota?: InstanceQuota;
}

/**
 * What instances a group of functions may hold: the platform groups functions by namespace and
 * gives each namespace's quota. New instances past it are not started; calls queue on the
 * instances there are, and a revision with none is refused (429) rather than left waiting.
 */
export interface InstanceQuota {
  groupOf(functionName: string): string;
  limitOf(
    group: string,
  ): { readonly instances?: number; readonly memoryBytes?: number } | undefined;
}

export interface ColdStartEvent {
  readonly functionName: string;
  readonly ms: number;
  /** Whether a warm generic instance was specialized (else a process was started). */
  readonly fromPool: boolean;
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
  readonly coldStartsFromPool: number;
  readonly lastColdStartMs: number | undefined;
  readonly lastExit: string | undefined;
  readonly lastError: string | undefined;
  readonly lastDecision: ScalingDecision | undefined;
  /** Set while the function keeps crashing and restarts are delayed. */
  readonly crashLoop: { readonly crashes: number; readonly retryAt: string } | undefined;
}

interface Slot {
  readonly instance: Instance;
  readonly startedAt: number;
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
  readonly autoscaler: Autoscaler;
  starting = 0;
  coldStarts = 0;
  coldStartsFromPool = 0;
  lastColdStartMs: number | undefined;
  retired = false;
  crashes = 0;
  backoffUntil = 0;
  backoffTimer: TimerHandle | undefined;
  lastExit: string | undefined;
  lastError: string | undefined;
  lastDecision: ScalingDecision | undefined;

  constructor(
    public target: RevisionTarget,
    settings: AutoscalerSettings,
    now: number,
  ) {
    this.autoscaler = new Autoscaler(settings, now);
  }

  get inFlight(): number {
    return this.slots.reduce((sum, slot) => sum + slot.inFlight, 0);
  }

  get live(): Slot[] {
    return this.slots.filter((slot) => !slot.stopping);
  }
}

interface LeaseEnds {
  released(pool: RevisionPool, slot: Slot): void;
  recycled(pool: RevisionPool, slot: Slot, reason: string): void;
}

/** A slot held for one call: a class, so taking one makes no closures. Ends once. */
class SlotLease implements Lease {
  readonly #pool: RevisionPool;
  readonly #slot: Slot;
  readonly #ends: LeaseEnds;
  #done = false;

  constructor(pool: RevisionPool, slot: Slot, ends: LeaseEnds) {
    this.#pool = pool;
    this.#slot = slot;
    this.#ends = ends;
  }

  get instance(): Instance {
    return this.#slot.instance;
  }

  release(): void {
    if (!this.#done) {
      this.#done = true;
      this.#ends.released(this.#pool, this.#slot);
    }
  }

  recycle(reason: string): void {
    if (!this.#done) {
      this.#done = true;
      this.#ends.recycled(this.#pool, this.#slot, reason);
    }
  }
}

/** An instance that lived this long before dying resets the crash count. */
const stableUptimeMs = 10_000;

/** Autoscaler target: a share of the hard per-instance concurrency, as Knative's 70%. */
const targetUtilization = 0.7;

export class Executor {
  readonly #provider: Provider;
  readonly #options: ExecutorOptions;
  readonly #maxQueue: number;
  readonly #clock: Clock;
  readonly #pools = new Map<string, RevisionPool>();
  readonly #ticker: TimerHandle;
  #closed = false;

  constructor(options: ExecutorOptions) {
    this.#provider = options.provider;
    this.#options = options;
    this.#maxQueue = options.maxQueue ?? 1000;
    this.#clock = options.clock ?? systemClock;
    this.#ticker = this.#clock
      .setInterval(() => this.tick(), options.tickIntervalMs ?? 1000)
      .unref();
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
    this.#scale(this.#pool(target));
  }

  /**
   * A free slot on an instance of the revision right now, or undefined (then acquire() waits
   * for one). The router's common case, without a promise and a turn of the event loop.
   */
  tryAcquire(target: RevisionTarget): Lease | undefined {
    if (this.#closed) {
      return undefined;
    }
    const pool = this.#pool(target);
    pool.autoscaler.touch(this.#clock.now());
    const slot = this.#freeSlot(pool);
    return slot ? this.#lease(pool, slot) : undefined;
  }

  /**
   * Waits for a free slot on an instance of the revision, starting instances as needed.
   * `signal` cancels the wait (the caller's timeout or disconnect).
   */
  acquire(target: RevisionTarget, signal?: CancelSignal): Promise<Lease> {
    if (this.#closed) {
      return Promise.reject(new Error("the platform is shutting down"));
    }
    const lease = this.tryAcquire(target);
    if (lease) {
      return Promise.resolve(lease);
    }
    const pool = this.#pool(target);
    if (pool.crashes >= 3 && this.#clock.now() < pool.backoffUntil && pool.live.length === 0) {
      return Promise.reject(this.#crashLoopError(pool));
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
   * Retires every revision of a function except `keep`: queued callers are refused, in-flight
   * calls finish, then the instances stop.
   */
  retire(functionName: string, keep?: string): Promise<void> {
    const stops: Promise<void>[] = [];
    for (const [key, pool] of this.#pools) {
      if (pool.target.functionName !== functionName || pool.target.revision === keep) {
        continue;
      }
      pool.retired = true;
      this.#clock.clearTimeout(pool.backoffTimer);
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
    const now = this.#clock.now();
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
        coldStartsFromPool: pool.coldStartsFromPool,
        lastColdStartMs: pool.lastColdStartMs,
        lastExit: pool.lastExit,
        lastError: pool.lastError,
        lastDecision: pool.lastDecision,
        crashLoop:
          pool.crashes >= 2
            ? {
                crashes: pool.crashes,
                retryAt: new Date(Math.max(now, pool.backoffUntil)).toISOString(),
              }
            : undefined,
      }));
  }

  /** The provider's warm pools. */
  poolStatus(): PoolStatus[] {
    return this.#provider.poolStatus();
  }

  /** One autoscaler round: sample every revision, then scale it up or down. */
  tick(): void {
    const now = this.#clock.now();
    for (const pool of this.#pools.values()) {
      pool.autoscaler.update(this.#settings(pool.target));
      pool.autoscaler.record(now, pool.inFlight + pool.waiters.length);
      const current = pool.live.length + pool.starting;
      const decision = pool.autoscaler.decide(now, current);
      if (decision.desired !== current || pool.lastDecision?.reason !== decision.reason) {
        pool.lastDecision = decision;
      }
      if (decision.desired > current) {
        this.#startMissing(pool, decision.desired - current);
      } else if (decision.desired < pool.live.length && pool.waiters.length === 0) {
        const idle = pool.live
          .filter((slot) => slot.inFlight === 0)
          .sort((a, b) => a.lastUsed - b.lastUsed);
        for (const slot of idle.slice(0, pool.live.length - decision.desired)) {
          this.#stopSlot(slot);
        }
      }
    }
  }

  /** Drains in-flight calls (up to `graceMs`) and stops every instance. */
  async close(graceMs = 10_000): Promise<void> {
    this.#closed = true;
    this.#clock.clearInterval(this.#ticker);
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    for (const pool of pools) {
      pool.retired = true;
      this.#clock.clearTimeout(pool.backoffTimer);
      for (const waiter of pool.waiters.splice(0)) {
        waiter.reject(new Error("the platform is shutting down"));
      }
    }
    const deadline = Date.now() + graceMs;
    await Promise.all(pools.map((pool) => this.#drainAndStop(pool, deadline)));
  }

  #settings(target: RevisionTarget): AutoscalerSettings {
    const { scale } = target.config;
    return {
      target: scale.target ?? Math.max(1, scale.concurrency * targetUtilization),
      min: scale.min,
      max: scale.max,
      stableWindowMs: scale.windowMs ?? this.#options.stableWindowMs ?? 60_000,
      idleTimeoutMs: scale.idleTimeoutMs,
    };
  }

  #pool(target: RevisionTarget): RevisionPool {
    const key = revisionKey(target);
    let pool = this.#pools.get(key);
    if (!pool) {
      pool = new RevisionPool(target, this.#settings(target), this.#clock.now());
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
    slot.lastUsed = this.#clock.now();
    return new SlotLease(pool, slot, this.#leaseEnds);
  }

  /** What a lease's end does to the executor; one object shared by all leases. */
  readonly #leaseEnds: LeaseEnds = {
    released: (pool, slot) => {
      slot.inFlight -= 1;
      slot.lastUsed = this.#clock.now();
      this.#dispatch(pool);
    },
    recycled: (pool, slot, reason) => {
      slot.inFlight -= 1;
      pool.lastExit = `instance ${slot.instance.id} recycled: ${reason}`;
      this.#stopSlot(slot);
      this.#scale(pool);
    },
  };

  /** Hands free capacity to queued callers, first come first served. */
  #dispatch(pool: RevisionPool): void {
    while (pool.waiters.length > 0) {
      const slot = this.#freeSlot(pool);
      if (!slot) {
        return;
      }
      pool.waiters.shift()?.resolve(this.#lease(pool, slot));
    }
  }

  /** Starts instances at once for calls that are waiting, within [min, max]. */
  #scale(pool: RevisionPool): void {
    if (pool.retired || this.#closed) {
      return;
    }
    const { min, max, concurrency } = pool.target.config.scale;
    const demand = pool.inFlight + pool.waiters.length;
    const wanted = Math.min(max, Math.max(min, Math.ceil(demand / concurrency)));
    this.#startMissing(pool, wanted - (pool.live.length + pool.starting));
  }

  #startMissing(pool: RevisionPool, wanted: number): void {
    if (wanted <= 0 || pool.retired || this.#closed) {
      return;
    }
    const room = this.#quotaRoom(pool);
    const count = Math.min(wanted, room.count);
    if (count <= 0) {
      if (pool.live.length + pool.starting === 0) {
        const error = new UserError("RUNLET_QUOTA_EXCEEDED", room.why ?? "quota exceeded");
        for (const waiter of pool.waiters.splice(0)) {
          waiter.reject(error);
        }
      }
      return;
    }
    const wait = pool.backoffUntil - this.#clock.now();
    if (wait > 0) {
      // Crash-looping: try again when the back-off ends, not on every call.
      pool.backoffTimer ??= this.#clock.setTimeout(() => {
        pool.backoffTimer = undefined;
        this.#scale(pool);
      }, wait);
      return;
    }
    for (let i = 0; i < count; i += 1) {
      void this.#startInstance(pool, { rethrow: false });
    }
  }

  /** How many more instances `pool` may start within its group's quota, and why not more. */
  #quotaRoom(pool: RevisionPool): { count: number; why?: string } {
    const quota = this.#options.instanceQuota;
    const group = quota?.groupOf(pool.target.functionName);
    const limit = group === undefined ? undefined : quota?.limitOf(group);
    if (limit === undefined || group === undefined) {
      return { count: Number.POSITIVE_INFINITY };
    }
    let instances = 0;
    let memoryBytes = 0;
    for (const other of this.#pools.values()) {
      if (quota?.groupOf(other.target.functionName) === group) {
        const held = other.live.length + other.starting;
        instances += held;
        memoryBytes += held * other.target.config.memoryBytes;
      }
    }
    const byInstances = (limit.instances ?? Number.POSITIVE_INFINITY) - instances;
    const byMemory = Math.floor(
      ((limit.memoryBytes ?? Number.POSITIVE_INFINITY) - memoryBytes) /
        pool.target.config.memoryBytes,
    );
    const count = Math.max(0, Math.min(byInstances, byMemory));
    if (count > 0) {
      return { count };
    }
    const held =
      byInstances <= 0
        ? `${instances} instances, its quota of ${limit.instances ?? 0}`
        : `${formatMiB(memoryBytes)} of memory, and ${pool.target.functionName} needs ${formatMiB(pool.target.config.memoryBytes)} more than its quota of ${formatMiB(limit.memoryBytes ?? 0)} leaves`;
    return {
      count,
      why: `Namespace ${group} holds ${held}; ${pool.target.functionName} gets an instance when one of the namespace's goes idle. Retry later, or ask an admin to raise the quota (runlet namespace quota ${group} ...).`,
    };
  }

  async #startInstance(pool: RevisionPool, options: { rethrow: boolean }): Promise<void> {
    pool.starting += 1;
    const { target } = pool;
    const { config } = target;
    const started = performance.now();
    let instance: Instance | undefined;
    let fromPool = false;
    try {
      // Before an instance is taken: a package that fails its check costs no pooled instance.
      await target.checkPackage?.();
      const start: StartedInstance = await this.#provider.start({
        runtime: instanceRuntimeOf(config.runtime),
        network: config.network,
        memoryBytes: config.memoryBytes,
        cpu: config.cpu,
        onLog: this.#options.onLog,
      });
      ({ instance, fromPool } = start);
      await instance.specialize({
        name: target.functionName,
        revision: target.revision,
        packageDigest: target.packageDigest,
        handler: config.handler,
        env: config.env,
        secrets: config.secrets,
        configs: config.configs,
        timeoutMs: config.timeoutMs,
        concurrency: config.scale.concurrency,
        compat: config.compat,
        command: config.command,
        mode: config.mode,
      });
    } catch (error) {
      pool.starting -= 1;
      pool.lastError = errorMessage(error);
      this.#noteCrash(pool);
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
    const ms = performance.now() - started;
    pool.starting -= 1;
    pool.coldStarts += 1;
    pool.coldStartsFromPool += fromPool ? 1 : 0;
    pool.lastColdStartMs = ms;
    pool.lastError = undefined;
    this.#options.onColdStart?.({ functionName: target.functionName, ms, fromPool });
    if (pool.retired || this.#closed) {
      await instance.stop();
      return;
    }
    const slot: Slot = {
      instance,
      startedAt: this.#clock.now(),
      inFlight: 0,
      lastUsed: this.#clock.now(),
      stopping: false,
    };
    pool.slots.push(slot);
    const started_ = instance;
    void started_.exited.then((info) => {
      const index = pool.slots.indexOf(slot);
      if (index !== -1) {
        pool.slots.splice(index, 1);
      }
      if (!slot.stopping) {
        pool.lastExit = `instance ${started_.id} ${info.message}`;
        this.#options.onLog({
          time: Date.now(),
          instanceId: started_.id,
          functionName: target.functionName,
          callId: undefined,
          stream: "stderr",
          text: `runlet: instance ${started_.id} ${info.message}`,
        });
        // An instance that ran a good while before dying is not part of a crash loop.
        if (this.#clock.now() - slot.startedAt > stableUptimeMs) {
          pool.crashes = 0;
        }
        this.#noteCrash(pool);
        this.#scale(pool);
      }
    });
    this.#dispatch(pool);
  }

  /** Counts a crash; from the second in a row, restarts wait 250 ms × 2ⁿ (up to 30 s). */
  #noteCrash(pool: RevisionPool): void {
    pool.crashes += 1;
    if (pool.crashes >= 2) {
      pool.backoffUntil = this.#clock.now() + Math.min(30_000, 250 * 2 ** (pool.crashes - 2));
    }
    if (pool.crashes >= 3 && pool.live.length === 0) {
      const error = this.#crashLoopError(pool);
      for (const waiter of pool.waiters.splice(0)) {
        waiter.reject(error);
      }
    }
  }

  #crashLoopError(pool: RevisionPool): Error {
    const seconds = Math.max(0, Math.ceil((pool.backoffUntil - this.#clock.now()) / 1000));
    return new CrashLoopError(
      `${pool.target.functionName} keeps crashing (${pool.crashes} times in a row; last: ${pool.lastExit ?? pool.lastError ?? "unknown"}); the next start is in ${seconds}s`,
    );
  }

  #stopSlot(slot: Slot): void {
    if (slot.stopping) {
      return;
    }
    slot.stopping = true;
    void slot.instance.stop();
  }

  async #drainAndStop(pool: RevisionPool, deadline = Date.now() + 30_000): Promise<void> {
    // Poll in-flight counts: calls end on their own (each has a timeout), so this ends too.
    // Wall-clock time, like the calls' own timeouts: a drain waits for real calls to end.
    while (pool.inFlight > 0 && Date.now() < deadline) {
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

/** A function whose instances keep dying; the router answers 502 with this message. */
export class CrashLoopError extends Error {}

function formatMiB(bytes: number): string {
  return `${Math.round(bytes / 2 ** 20)} MiB`;
}
