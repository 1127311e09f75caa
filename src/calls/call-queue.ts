/**
 * Durable async calls: `enqueue()` stores a call in SQLite before anyone is told it was
 * accepted; workers take due calls per function (up to the function's capacity, under a
 * platform-wide cap), run them through the same router as sync calls, retry failures with
 * exponential back-off, dead-letter calls that exhaust maxRetries, deliver callbacks (retried
 * too), and delete finished calls after the retention time. Delivery is at least once: a call
 * running when the process dies runs again on the next start, with the same call id.
 */
import { isUserError, errorJson } from "../errors.js";
import { systemClock, type Clock, type TimerHandle } from "../clock.js";
import type { FunctionCall, FunctionCallResult } from "../router/call.js";
import type { PlatformCredentials } from "../router/credentials.js";
import type { RevisionLookup } from "../router/revision-lookup.js";
import type { CallStore } from "../store/call-store.js";
import {
  type CallQuery,
  type CallRecord,
  type ClaimedCall,
  type DueCallback,
  type FinishedAttempt,
  type NewCall,
} from "../store/call-store.js";
import type { AsyncCallQueue, CallCount, EnqueueRequest } from "./async-call-queue.js";
import { retryDelay } from "./backoff.js";
import { CallbackAddressPolicy } from "./callback-address.js";
import { callbackDispatcher, deliverCallback, type CallbackTransport } from "./callback.js";
import {
  assertSameFunction,
  attemptOutcome,
  callNotFound,
  newCallOf,
  queuedRecord,
  storedResult,
} from "./call-request.js";

export type { EnqueueRequest } from "./async-call-queue.js";
export { isRetryable } from "./call-request.js";

export interface CallQueueOptions {
  /**
   * Attempts running at once across all functions; 0 accepts and stores calls but runs none
   * (they run once a platform with workers opens the same data directory). @default 100
   */
  readonly maxConcurrency?: number;
  /** First retry delay; each further retry doubles it (with jitter). @default 1000 */
  readonly retryBaseMs?: number;
  /** Longest retry delay. @default 300000 (5 minutes) */
  readonly retryMaxMs?: number;
  /** Largest result body stored (and sent to the callback); the rest is cut. @default 1 MiB */
  readonly maxResultBytes?: number;
  /** How long finished calls are kept. @default 7 days */
  readonly retentionMs?: number;
  /** Delivery attempts per callback before it is given up. @default 5 */
  readonly callbackMaxAttempts?: number;
  /** @default 10000 */
  readonly callbackTimeoutMs?: number;
  /** Callback deliveries at once. @default 16 */
  readonly maxCallbacks?: number;
  /** How long a running call is owned without a heartbeat. @default 60000 */
  readonly leaseMs?: number;
  /**
   * Addresses and CIDR ranges callbacks may go to although they are loopback, private,
   * link-local… (refused otherwise, issue 13), e.g. ["127.0.0.1/32"]. @default []
   */
  readonly callbackAllow?: readonly string[];
}

export type ResolvedCallQueueOptions = Required<CallQueueOptions>;
type ResolvedOptions = ResolvedCallQueueOptions;

export function resolveCallQueueOptions(options: CallQueueOptions = {}): ResolvedOptions {
  return {
    maxConcurrency: options.maxConcurrency ?? 100,
    retryBaseMs: options.retryBaseMs ?? 1000,
    retryMaxMs: options.retryMaxMs ?? 300_000,
    maxResultBytes: options.maxResultBytes ?? 2 ** 20,
    retentionMs: options.retentionMs ?? 7 * 24 * 3_600_000,
    callbackMaxAttempts: options.callbackMaxAttempts ?? 5,
    callbackTimeoutMs: options.callbackTimeoutMs ?? 10_000,
    maxCallbacks: options.maxCallbacks ?? 16,
    leaseMs: options.leaseMs ?? 60_000,
    callbackAllow: options.callbackAllow ?? [],
  };
}

/** One finished attempt, for metrics. */
export interface CallAttemptEvent {
  readonly functionName: string;
  /** succeeded | retry | failed | dead | interrupted */
  readonly outcome: string;
  readonly statusCode: number | undefined;
  readonly durationMs: number;
}

/** What the queue needs of the platform around it (the composition root provides it). */
export interface CallQueueHost {
  readonly revisions: RevisionLookup;
  /** Never stored with a call, never sent to a callback. */
  readonly credentials: PlatformCredentials;
  /** Runs one attempt through the router; unknown functions throw RUNLET_FUNCTION_NOT_FOUND. */
  call(call: FunctionCall, signal: AbortSignal): Promise<FunctionCallResult>;
  /** Failures nobody waits for. */
  onError(error: unknown): void;
  /** Every finished attempt, for metrics. */
  onAttempt(event: CallAttemptEvent): void;
}

export interface CallQueueParts {
  readonly host: CallQueueHost;
  readonly store: CallStore;
  readonly options?: CallQueueOptions;
  /** @default systemClock */
  readonly clock?: Clock;
}

export class CallQueue implements AsyncCallQueue {
  readonly store: CallStore;
  readonly options: ResolvedOptions;
  readonly #host: CallQueueHost;
  readonly #clock: Clock;
  readonly #callbackTransport: CallbackTransport;
  readonly #running = new Map<string, { functionName: string; controller: AbortController }>();
  readonly #runningByFunction = new Map<string, number>();
  readonly #callbacks = new Map<string, AbortController>();
  /** Callbacks whose outcome is not written yet: still pending on disk, not to start again. */
  readonly #callbacksUnwritten = new Set<string>();
  readonly #settled = new Set<() => void>();
  readonly #batch: {
    call: NewCall;
    resolve: (record: CallRecord) => void;
    reject: (error: unknown) => void;
  }[] = [];
  #pumpScheduled = false;
  /** State changes waiting to be written, in one transaction per turn of the event loop. */
  #writes: (() => void)[] = [];
  #wakeTimer: TimerHandle | undefined;
  #heartbeat: TimerHandle | undefined;
  #sweeper: TimerHandle | undefined;
  #started = false;
  #closing = false;

  constructor(parts: CallQueueParts) {
    this.#host = parts.host;
    this.#clock = parts.clock ?? systemClock;
    this.store = parts.store;
    this.options = resolveCallQueueOptions(parts.options);
    const policy = new CallbackAddressPolicy(this.options.callbackAllow);
    this.#callbackTransport = {
      policy,
      dispatcher: callbackDispatcher(policy),
      credentials: parts.host.credentials,
    };
  }

  /** Re-queues calls a previous process left running, then starts working. */
  start(): Promise<void> {
    this.#startNow();
    return Promise.resolve();
  }

  #startNow(): void {
    if (this.#started) {
      return;
    }
    this.#started = true;
    this.store.requeueRunning(this.#clock.now(), false);
    this.#sweep();
    this.#heartbeat = this.#clock
      .setInterval(() => this.#renewLeases(), Math.max(50, this.options.leaseMs / 3))
      .unref();
    this.#sweeper = this.#clock
      .setInterval(
        () => this.#sweep(),
        Math.min(60_000, Math.max(1000, this.options.retentionMs / 10)),
      )
      .unref();
    this.#wake();
  }

  /**
   * Stores a call and resolves with its record once it is durable: calls that arrive in the
   * same turn of the event loop are stored in one transaction, one disk write for all of
   * them. Rejects with the UserErrors AsyncCallQueue.enqueue documents.
   */
  enqueue(request: EnqueueRequest): Promise<CallRecord> {
    let call: NewCall;
    try {
      call = this.#newCall(request);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    return new Promise((resolve, reject) => {
      this.#batch.push({ call, resolve, reject });
      if (this.#batch.length === 1) {
        setImmediate(() => this.#storeBatch());
      }
    });
  }

  #storeBatch(): void {
    const batch = this.#batch.splice(0);
    let inserted: boolean[];
    try {
      inserted = this.store.insertMany(batch.map((entry) => entry.call));
    } catch (error) {
      for (const entry of batch) {
        entry.reject(error);
      }
      return;
    }
    batch.forEach((entry, index) => {
      try {
        entry.resolve(inserted[index] ? queuedRecord(entry.call) : this.#existing(entry.call));
      } catch (error) {
        entry.reject(error);
      }
    });
    this.#wake();
  }

  /** Validates a request into the call to store; throws the UserErrors enqueue() documents. */
  #newCall(request: EnqueueRequest): NewCall {
    if (this.#closing) {
      throw new Error("the platform is shutting down and takes no new async calls");
    }
    return newCallOf(request, {
      revisions: this.#host.revisions,
      credentials: this.#host.credentials,
      policy: this.#callbackTransport.policy,
      now: this.#clock.now(),
    });
  }

  /** The stored call a repeated call id names: the same call again, unless it is another function's. */
  #existing(call: NewCall): CallRecord {
    const existing = this.store.get(call.id);
    if (!existing) {
      throw new Error(`call ${call.id} was neither stored nor found`);
    }
    return assertSameFunction(existing, call);
  }

  get(id: string): Promise<CallRecord | undefined> {
    return Promise.resolve(this.store.get(id));
  }

  async require(id: string): Promise<CallRecord> {
    const record = this.store.get(id);
    if (!record) {
      throw callNotFound(id);
    }
    return record;
  }

  list(query: CallQuery = {}): Promise<CallRecord[]> {
    return Promise.resolve(this.store.list(query));
  }

  counts(): Promise<CallCount[]> {
    return Promise.resolve(this.store.counts());
  }

  /** Attempts running now. */
  get runningCount(): number {
    return this.#running.size;
  }

  /**
   * Stops taking calls; waits up to graceMs for running attempts, then cancels the rest and
   * puts them back in the queue (they run again on the next start).
   */
  async close(graceMs = 10_000): Promise<void> {
    this.#closing = true;
    if (this.#batch.length > 0) {
      this.#storeBatch(); // accepted calls waiting for their write are stored, not dropped
    }
    this.#clock.clearTimeout(this.#wakeTimer);
    this.#clock.clearInterval(this.#heartbeat);
    this.#clock.clearInterval(this.#sweeper);
    // The grace period is wall-clock time, like the running calls' own timeouts.
    const deadline = Date.now() + graceMs;
    while (this.#running.size > 0 && Date.now() < deadline) {
      await this.#nextSettle(deadline - Date.now());
    }
    for (const { controller } of this.#running.values()) {
      controller.abort(new Error("the platform is shutting down"));
    }
    for (const controller of this.#callbacks.values()) {
      controller.abort(new Error("the platform is shutting down"));
    }
    while (this.#running.size > 0 || this.#callbacks.size > 0) {
      await this.#nextSettle(1000);
    }
    this.#flushWrites();
    await this.#callbackTransport.dispatcher.destroy();
  }

  #nextSettle(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#settled.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(1, timeoutMs));
      this.#settled.add(done);
    });
  }

  /**
   * Queues a state change: attempts that end together are written in one transaction, one
   * disk write for all. Losing a change in a crash is safe: the call was still `running` on
   * disk, so it runs again (at least once).
   */
  #defer(write: () => void): void {
    this.#writes.push(write);
    if (this.#writes.length === 1) {
      setImmediate(() => {
        this.#flushWrites();
        this.#wake();
      });
    }
  }

  #flushWrites(): void {
    const writes = this.#writes;
    if (writes.length === 0) {
      return;
    }
    this.#writes = [];
    try {
      this.store.inTransaction(() => {
        for (const write of writes) {
          write();
        }
      });
    } catch (error) {
      this.#host.onError(error);
    }
  }

  #wake(): void {
    if (this.#pumpScheduled || this.#closing || !this.#started) {
      return;
    }
    this.#pumpScheduled = true;
    setImmediate(() => {
      this.#pumpScheduled = false;
      try {
        this.#pump();
      } catch (error) {
        this.#host.onError(error);
        this.#schedule(1000);
      }
    });
  }

  /** Starts every due call there is capacity for, and every due callback. */
  #pump(): void {
    if (this.#closing) {
      return;
    }
    const now = this.#clock.now();
    const { maxConcurrency } = this.options;
    if (this.#running.size < maxConcurrency) {
      for (const name of this.store.queuedFunctions()) {
        const free = maxConcurrency - this.#running.size;
        if (free <= 0) {
          break;
        }
        const target = this.#host.revisions.find(name);
        // Removed since the call was accepted: its attempt fails with a 404 below.
        const capacity = target
          ? target.config.scale.max * target.config.scale.concurrency
          : maxConcurrency;
        const room = Math.min(free, capacity - (this.#runningByFunction.get(name) ?? 0));
        if (room <= 0) {
          continue;
        }
        const leaseUntil = now + this.options.leaseMs;
        for (const call of this.store.claim(name, now, room, leaseUntil)) {
          this.#startAttempt(call);
        }
      }
    }
    const callbackRoom = this.options.maxCallbacks - this.#callbacks.size;
    if (callbackRoom > 0) {
      for (const due of this.store.dueCallbacks(
        now,
        callbackRoom,
        new Set([...this.#callbacks.keys(), ...this.#callbacksUnwritten]),
      )) {
        this.#startCallback(due);
      }
    }
    const next = this.store.nextDueAt();
    // Due work that found no room is started when a running attempt ends; poll as a backstop.
    this.#schedule(next === undefined ? 5000 : next > now ? Math.min(next - now, 5000) : 1000);
  }

  #schedule(delayMs: number): void {
    this.#clock.clearTimeout(this.#wakeTimer);
    this.#wakeTimer = this.#clock.setTimeout(() => this.#wake(), delayMs).unref();
  }

  #startAttempt(call: ClaimedCall): void {
    const controller = new AbortController();
    this.#running.set(call.id, { functionName: call.functionName, controller });
    this.#runningByFunction.set(
      call.functionName,
      (this.#runningByFunction.get(call.functionName) ?? 0) + 1,
    );
    void this.#attempt(call, controller)
      .catch((error: unknown) => this.#host.onError(error))
      .finally(() => {
        this.#running.delete(call.id);
        const left = (this.#runningByFunction.get(call.functionName) ?? 1) - 1;
        if (left > 0) {
          this.#runningByFunction.set(call.functionName, left);
        } else {
          this.#runningByFunction.delete(call.functionName);
        }
        for (const settle of [...this.#settled]) {
          settle();
        }
        this.#wake();
      });
  }

  async #attempt(call: ClaimedCall, controller: AbortController): Promise<void> {
    let result: FunctionCallResult;
    try {
      result = await this.#host.call(
        {
          name: call.functionName,
          method: call.method,
          path: call.path,
          headers: { ...call.headers, "x-runlet-attempt": String(call.attempt) },
          body: call.body,
          callId: call.id,
        },
        controller.signal,
      );
    } catch (error) {
      if (!isUserError(error) || error.code !== "RUNLET_FUNCTION_NOT_FOUND") {
        throw error;
      }
      const body = Buffer.from(errorJson(error.code, error.message));
      this.#finish(
        call,
        "failed",
        {
          status: 404,
          headers: { "content-type": "application/json" },
          body,
          durationMs: 0,
        },
        `the function was removed before the call ran: ${error.message}`,
      );
      return;
    }
    if (controller.signal.aborted && this.#closing) {
      // Cut short by shutdown, not the function's fault: run it again on the next start.
      const now = this.#clock.now();
      this.#defer(() => this.store.requeueOne(call.id, now));
      this.#emit(call, "interrupted", result);
      return;
    }
    const target = this.#host.revisions.find(call.functionName);
    const outcome = attemptOutcome(result, call.failures, target?.config.maxRetries);
    if (outcome.state !== "retry") {
      this.#finish(call, outcome.state, result, outcome.error, outcome.failures);
      return;
    }
    const retry = {
      nextAttemptAt: this.#clock.now() + retryDelay(this.#backoff(), outcome.failures),
      failures: outcome.failures,
      statusCode: result.status,
      error: outcome.error,
      durationMs: result.durationMs,
    };
    this.#defer(() => this.store.retryLater(call.id, retry));
    this.#emit(call, "retry", result);
  }

  #finish(
    call: ClaimedCall,
    state: "succeeded" | "failed" | "dead",
    result: FunctionCallResult,
    error: string | undefined,
    failures = call.failures,
  ): void {
    const limit = this.options.maxResultBytes;
    const finished: FinishedAttempt = {
      state,
      statusCode: result.status,
      error,
      durationMs: result.durationMs,
      failures,
      finishedAt: this.#clock.now(),
      result: storedResult(result, limit),
    };
    this.#defer(() => this.store.finish(call.id, finished));
    this.#emit(call, state, result);
  }

  #emit(call: ClaimedCall, outcome: string, result: FunctionCallResult): void {
    const event: CallAttemptEvent = {
      functionName: call.functionName,
      outcome,
      statusCode: result.status,
      durationMs: result.durationMs,
    };
    this.#host.onAttempt(event);
  }

  #startCallback(due: DueCallback): void {
    const controller = new AbortController();
    this.#callbacks.set(due.id, controller);
    const timer = this.#clock.setTimeout(
      () => controller.abort(new Error(`no answer within ${this.options.callbackTimeoutMs} ms`)),
      this.options.callbackTimeoutMs,
    );
    void deliverCallback(due, controller.signal, this.#callbackTransport)
      .then((outcome) => {
        if (this.#closing && controller.signal.aborted) {
          return; // still pending: delivered after the next start
        }
        const attempts = due.attempts + 1;
        // A refused address stays refused: no retries.
        const givingUp =
          outcome.refused || (!outcome.delivered && attempts >= this.options.callbackMaxAttempts);
        const outcomeToStore: Parameters<CallStore["callbackAttempted"]>[1] = {
          state: outcome.delivered ? "delivered" : givingUp ? "failed" : "pending",
          status: outcome.status,
          error: outcome.error,
          nextAt:
            outcome.delivered || givingUp
              ? undefined
              : this.#clock.now() + retryDelay(this.#backoff(), attempts),
        };
        this.#callbacksUnwritten.add(due.id);
        this.#defer(() => {
          this.#callbacksUnwritten.delete(due.id);
          this.store.callbackAttempted(due.id, outcomeToStore);
        });
      })
      .catch((error: unknown) => this.#host.onError(error))
      .finally(() => {
        this.#clock.clearTimeout(timer);
        this.#callbacks.delete(due.id);
        for (const settle of [...this.#settled]) {
          settle();
        }
        this.#wake();
      });
  }

  #backoff(): { baseMs: number; maxMs: number } {
    return { baseMs: this.options.retryBaseMs, maxMs: this.options.retryMaxMs };
  }

  #renewLeases(): void {
    try {
      const now = this.#clock.now();
      this.store.renewLeases([...this.#running.keys()], now + this.options.leaseMs);
      // Running calls nobody renews any more (lost by a worker) go back to the queue.
      if (this.store.requeueRunning(now, true) > 0) {
        this.#wake();
      }
    } catch (error) {
      this.#host.onError(error);
    }
  }

  #sweep(): void {
    try {
      this.store.sweep(this.#clock.now() - this.options.retentionMs);
    } catch (error) {
      this.#host.onError(error);
    }
  }
}
