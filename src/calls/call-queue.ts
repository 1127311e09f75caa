/**
 * Durable async calls: `enqueue()` stores a call in SQLite before anyone is told it was
 * accepted; workers take due calls per function (up to the function's capacity, under a
 * platform-wide cap), run them through the same router as sync calls, retry failures with
 * exponential back-off, dead-letter calls that exhaust maxRetries, deliver callbacks (retried
 * too), and delete finished calls after the retention time. Delivery is at least once: a call
 * running when the process dies runs again on the next start, with the same call id.
 */
import { randomUUID } from "node:crypto";
import { UserError, errorJson, isUserError } from "../errors.js";
import { systemClock, type Clock, type TimerHandle } from "../clock.js";
import type { FunctionCall, FunctionCallResult } from "../router/call.js";
import type { PlatformCredentials } from "../router/credentials.js";
import { requireTarget, type RevisionLookup } from "../router/revision-lookup.js";
import { formatSize } from "../spec/units.js";
import type { CallStore } from "../store/call-store.js";
import {
  type CallQuery,
  type CallRecord,
  type ClaimedCall,
  type DueCallback,
  type FinishedAttempt,
  type NewCall,
} from "../store/call-store.js";
import { retryDelay } from "./backoff.js";
import { CallbackAddressPolicy } from "./callback-address.js";
import { callbackDispatcher, deliverCallback, type CallbackTransport } from "./callback.js";

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

type ResolvedOptions = Required<CallQueueOptions>;

/**
 * Request headers that carry credentials. A platform credential in one is never stored; a
 * function's own (its bearer token, a cookie) is stored sealed, for the attempt to send it.
 */
const credentialHeaders = new Set(["authorization", "proxy-authorization", "cookie"]);

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

export interface EnqueueRequest {
  readonly name: string;
  readonly method: string;
  /** Path inside the function, with the query string. */
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
  /** Where the result is POSTed; must be an http(s) URL. */
  readonly callbackUrl?: string;
  /** Who makes the call: "http", "cli", "cron:<trigger>", "nats:<trigger>"… @default "http" */
  readonly source?: string;
  /** A caller-chosen id makes enqueueing idempotent: the same id returns the stored call. */
  readonly callId?: string;
}

/** One finished attempt, for metrics. */
export interface CallAttemptEvent {
  readonly functionName: string;
  /** succeeded | retry | failed | dead | interrupted */
  readonly outcome: string;
  readonly statusCode: number | undefined;
  readonly durationMs: number;
}

const callIdPattern = /^[\w.:-]{1,128}$/;

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

export class CallQueue {
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
  start(): void {
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
   * Stores a call and returns its record; the call is durable when this returns. Throws a
   * UserError for an unknown function (404), a bad callback URL or call id (400), a body over
   * the function's limit (413), or a call id already used for another function (409).
   */
  enqueue(request: EnqueueRequest): CallRecord {
    const call = this.#newCall(request);
    const record = this.store.insert(call) ? queuedRecord(call) : this.#existing(call);
    this.#wake();
    return record;
  }

  /**
   * enqueue() for callers that can wait a moment (the HTTP route): calls that arrive in the
   * same turn of the event loop are stored in one transaction, one disk write for all of
   * them. Resolves once the call is stored; rejects as enqueue() throws.
   */
  enqueueBatched(request: EnqueueRequest): Promise<CallRecord> {
    const call = this.#newCall(request);
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
    const target = requireTarget(this.#host.revisions, request.name);
    if (request.callbackUrl !== undefined) {
      assertCallbackUrl(request.callbackUrl, this.#callbackTransport.policy);
    }
    const id = request.callId ?? randomUUID();
    if (!callIdPattern.test(id)) {
      throw new UserError(
        "RUNLET_INVALID_REQUEST",
        `Call id "${id.slice(0, 200)}" is not valid; use 1 to 128 letters, digits, '.', ':', '_' or '-'.`,
      );
    }
    if (request.body.length > target.config.maxBodyBytes) {
      throw new UserError(
        "RUNLET_BODY_TOO_LARGE",
        `The request body is larger than this function's limit of ${formatSize(target.config.maxBodyBytes)}; send less, or raise maxBody in the function's spec.`,
      );
    }
    const headers: Record<string, string> = {};
    const sealedHeaders: Record<string, string> = {};
    for (const [key, value] of Object.entries(request.headers)) {
      const name = key.toLowerCase();
      if (!credentialHeaders.has(name)) {
        headers[name] = value;
      } else if (!this.#host.credentials.carries(value)) {
        sealedHeaders[name] = value;
      }
    }
    return {
      id,
      functionName: request.name,
      source: request.source ?? "http",
      method: request.method.toUpperCase(),
      path: request.path.startsWith("/") ? request.path : `/${request.path}`,
      headers,
      sealedHeaders,
      body: request.body,
      callbackUrl: request.callbackUrl,
      createdAt: this.#clock.now(),
    };
  }

  /** The stored call a repeated call id names: the same call again, unless it is another function's. */
  #existing(call: NewCall): CallRecord {
    const existing = this.store.get(call.id);
    if (!existing) {
      throw new Error(`call ${call.id} was neither stored nor found`);
    }
    if (existing.functionName !== call.functionName) {
      throw new UserError(
        "RUNLET_ALREADY_EXISTS",
        `Call id ${call.id} is already used by a call to ${existing.functionName}; use another X-Call-Id.`,
      );
    }
    return existing;
  }

  get(id: string): CallRecord | undefined {
    return this.store.get(id);
  }

  /** Like get(), but a missing call is a 404 UserError. */
  require(id: string): CallRecord {
    const record = this.store.get(id);
    if (!record) {
      throw new UserError(
        "RUNLET_CALL_NOT_FOUND",
        `Call ${id} does not exist (finished calls are kept for a limited time); list recent calls with: runlet calls`,
      );
    }
    return record;
  }

  list(query: CallQuery = {}): CallRecord[] {
    return this.store.list(query);
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
    const { status } = result;
    if (status < 400) {
      this.#finish(call, "succeeded", result, undefined);
      return;
    }
    const error = describeFailure(result);
    if (!isRetryable(status)) {
      this.#finish(call, "failed", result, error);
      return;
    }
    const failures = call.failures + 1;
    const target = this.#host.revisions.find(call.functionName);
    if (!target) {
      this.#finish(
        call,
        "failed",
        result,
        `the function was removed; last attempt: ${error}`,
        failures,
      );
      return;
    }
    const maxRetries = target.config.maxRetries;
    if (failures > maxRetries) {
      this.#finish(
        call,
        "dead",
        result,
        `gave up after ${failures} failed attempts: ${error}`,
        failures,
      );
      return;
    }
    const retry = {
      nextAttemptAt: this.#clock.now() + retryDelay(this.#backoff(), failures),
      failures,
      statusCode: status,
      error,
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
      result: {
        headers: result.headers,
        body: result.body.length > limit ? result.body.subarray(0, limit) : result.body,
        size: result.body.length,
        truncated: result.body.length > limit,
      },
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

/** 5xx (the function failed, timed out or crashed), 429 (no capacity) and 408 run again. */
export function isRetryable(status: number): boolean {
  return status >= 500 || status === 429 || status === 408;
}

function describeFailure(result: FunctionCallResult): string {
  const text = result.body.subarray(0, 2048).toString("utf8");
  try {
    const parsed = JSON.parse(text) as { error?: { message?: unknown } };
    if (typeof parsed.error?.message === "string") {
      return `${result.status}: ${parsed.error.message}`;
    }
  } catch {
    // not a Runlet error body: show the start of it
  }
  const snippet = text.trim().slice(0, 200);
  return snippet ? `${result.status}: ${snippet}` : `the function answered ${result.status}`;
}

function assertCallbackUrl(value: string, policy: CallbackAddressPolicy): void {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:") || !url.hostname) {
    throw new UserError(
      "RUNLET_INVALID_REQUEST",
      `Callback URL "${value.slice(0, 200)}" is not an absolute http:// or https:// URL; send one like https://example.com/hooks/result in X-Callback-Url.`,
    );
  }
  const refusal = policy.refusalOfUrl(url);
  if (refusal !== undefined) {
    throw new UserError(
      "RUNLET_INVALID_REQUEST",
      `Callback URL "${value.slice(0, 200)}" is refused: ${refusal}, where callbacks are not delivered; send a public address in X-Callback-Url, or ${CallbackAddressPolicy.howToAllow(url.hostname)}.`,
    );
  }
}

function queuedRecord(call: NewCall): CallRecord {
  return {
    id: call.id,
    functionName: call.functionName,
    source: call.source,
    method: call.method,
    path: call.path,
    requestSize: call.body.length,
    state: "queued",
    attempts: 0,
    failures: 0,
    createdAt: call.createdAt,
    startedAt: undefined,
    finishedAt: undefined,
    nextAttemptAt: call.createdAt,
    durationMs: undefined,
    statusCode: undefined,
    lastError: undefined,
    result: undefined,
    callback:
      call.callbackUrl === undefined
        ? undefined
        : {
            url: call.callbackUrl,
            state: undefined,
            attempts: 0,
            status: undefined,
            error: undefined,
          },
  };
}
