/**
 * Durable async calls on NATS JetStream, for several gateway replicas sharing one queue
 * (Kubernetes mode). The same port and the same semantics as the SQLite CallQueue
 * (docs/async.md): a call is accepted once its message is in the work stream; any replica
 * takes it from a shared pull consumer, runs it through its router, retries it with the same
 * back-off (a delayed NAK), dead-letters it after maxRetries, keeps its result and delivers
 * its callback. A replica killed mid-call sends no ACK, so JetStream redelivers the message to
 * another replica once the ack wait (the lease) runs out: at least once, as embedded.
 *
 * Records (state, attempts, result headers, callback) live in a KV bucket, result bodies in a
 * second one; every record change is a compare-and-set on the bucket's revision. The work
 * message is written first and the record second, so every record has a message; a message
 * whose record is missing (not written yet, or expired) recreates it.
 */
import { isInNamespace } from "../spec/namespaces.js";
import { errorJson, isUserError, UserError } from "../errors.js";
import { systemClock, type Clock } from "../clock.js";
import type { FunctionCallResult } from "../router/call.js";
import { connectNats, type NatsServers } from "../host/nats-servers.js";
import { formatSize } from "../spec/units.js";
import type { CallQuery, CallRecord, DueCallback, NewCall } from "../store/call-store.js";
import { seal, unseal } from "../store/seal.js";
import {
  AckPolicy,
  headers as natsHeaders,
  nanos,
  RetentionPolicy,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type KV,
  type NatsConnection,
} from "nats";
import type { AsyncCallQueue, CallCount, EnqueueRequest } from "./async-call-queue.js";
import { retryDelay } from "./backoff.js";
import { CallbackAddressPolicy } from "./callback-address.js";
import { callbackDispatcher, deliverCallback, type CallbackTransport } from "./callback.js";
import {
  assertSameFunction,
  attemptOutcome,
  callNotFound,
  newCallOf,
  storedResult,
} from "./call-request.js";
import {
  resolveCallQueueOptions,
  type CallQueueHost,
  type CallQueueOptions,
  type ResolvedCallQueueOptions,
} from "./call-queue.js";
import {
  callbackHeader,
  callHeader,
  decodeRecord,
  encodeRecord,
  isFinished,
  queuedCall,
  recordKey,
  toCallRecord,
  type CallMessageMeta,
  type StoredCall,
} from "./jetstream-records.js";

export interface JetStreamQueueSettings {
  /**
   * NATS server URL(s), e.g. nats://runlet-nats.runlet-system:4222 (RUNLET_NATS_URL), with
   * credentials in them when the server asks for some (host/nats-servers.ts).
   */
  readonly servers: NatsServers;
  /** Prefix of the stream, consumers, buckets and subjects. @default "RUNLET" */
  readonly name?: string;
  /** JetStream replicas of the stream and buckets (3 on a NATS cluster). @default 1 */
  readonly replicas?: number;
}

/** What the queue is built from (Platform.open's `queue` option passes these). */
export interface JetStreamQueueParts {
  readonly host: CallQueueHost;
  /** The 32-byte secrets key that seals credential headers stored with a call. */
  readonly sealKey: Buffer;
  readonly options?: CallQueueOptions;
  /** Record timestamps; back-off delays are server-side and run on real time. @default systemClock */
  readonly clock?: Clock;
}

/** Room left in a message for its headers and the protocol. */
const headroomBytes = 16 * 1024;
/** How soon a call that found its function at capacity here is offered again. */
const busyRetryMs = 200;
/** Callback deliveries hold their message at most this long between heartbeats. */
const callbackAckWaitMs = 30_000;

interface Running {
  readonly functionName: string;
  readonly controller: AbortController;
}

export class JetStreamCallQueue implements AsyncCallQueue {
  readonly options: ResolvedCallQueueOptions;
  readonly #settings: Required<JetStreamQueueSettings>;
  readonly #host: CallQueueHost;
  readonly #sealKey: Buffer;
  readonly #clock: Clock;
  readonly #transport: CallbackTransport;
  readonly #running = new Map<string, Running>();
  readonly #runningByFunction = new Map<string, number>();
  readonly #callbacks = new Map<string, AbortController>();
  readonly #settled = new Set<() => void>();
  readonly #loops: Promise<void>[] = [];
  #nc: NatsConnection | undefined;
  #js: JetStreamClient | undefined;
  #jsm: JetStreamManager | undefined;
  #records: KV | undefined;
  #results: KV | undefined;
  #maxPayload = 1024 * 1024;
  #closing = false;

  constructor(settings: JetStreamQueueSettings, parts: JetStreamQueueParts) {
    this.#settings = { name: "RUNLET", replicas: 1, ...settings };
    this.#host = parts.host;
    this.#sealKey = parts.sealKey;
    this.#clock = parts.clock ?? systemClock;
    this.options = resolveCallQueueOptions(parts.options);
    const policy = new CallbackAddressPolicy(this.options.callbackAllow);
    this.#transport = {
      policy,
      dispatcher: callbackDispatcher(policy),
      credentials: parts.host.credentials,
    };
  }

  /** For Platform.open's `queue` option. */
  static factory(
    settings: JetStreamQueueSettings,
  ): (parts: JetStreamQueueParts) => JetStreamCallQueue {
    return (parts) => new JetStreamCallQueue(settings, parts);
  }

  get #stream(): string {
    return `${this.#settings.name}_CALLS`;
  }

  #subject(kind: "run" | "callback", functionName: string): string {
    return `${this.#settings.name.toLowerCase()}.calls.${kind}.${functionName}`;
  }

  /** Connects, makes the stream, consumers and buckets where they are missing, starts the workers. */
  async start(): Promise<void> {
    if (this.#nc) {
      return;
    }
    const nc = await connectNats(this.#settings.servers, {
      name: "runlet-call-queue",
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
    });
    this.#nc = nc;
    this.#maxPayload = nc.info?.max_payload ?? this.#maxPayload;
    const jsm = await nc.jetstreamManager();
    this.#jsm = jsm;
    this.#js = nc.jetstream();
    const prefix = this.#settings.name.toLowerCase();
    const stream = {
      name: this.#stream,
      subjects: [`${prefix}.calls.run.*`, `${prefix}.calls.callback.*`],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      num_replicas: this.#settings.replicas,
      // Repeated call ids within this window are one message (X-Call-Id is idempotent).
      duplicate_window: nanos(120_000),
    };
    await jsm.streams.info(this.#stream).then(
      () => jsm.streams.update(this.#stream, stream),
      () => jsm.streams.add(stream),
    );
    for (const [durable, kind, ackWaitMs] of [
      [`${this.#settings.name}_RUN`, "run", this.options.leaseMs],
      [`${this.#settings.name}_CALLBACK`, "callback", callbackAckWaitMs],
    ] as const) {
      const consumer = {
        durable_name: durable,
        ack_policy: AckPolicy.Explicit,
        ack_wait: nanos(ackWaitMs),
        max_deliver: -1,
        max_ack_pending: -1,
        filter_subject: `${prefix}.calls.${kind}.*`,
      };
      // Replicas started with another lease (ack wait) bring the shared consumer to theirs.
      await jsm.consumers
        .add(this.#stream, consumer)
        .catch(() => jsm.consumers.update(this.#stream, durable, { ack_wait: consumer.ack_wait }));
    }
    const bucket = {
      history: 1,
      ttl: this.options.retentionMs,
      replicas: this.#settings.replicas,
      storage: StorageType.File,
    };
    this.#records = await this.#js.views.kv(`${this.#settings.name}_CALL_RECORDS`, bucket);
    this.#results = await this.#js.views.kv(`${this.#settings.name}_CALL_RESULTS`, bucket);
    if (this.options.maxConcurrency > 0) {
      this.#loops.push(this.#workLoop(`${this.#settings.name}_RUN`, "run"));
      this.#loops.push(this.#workLoop(`${this.#settings.name}_CALLBACK`, "callback"));
    }
  }

  #connected(): { js: JetStreamClient; jsm: JetStreamManager; records: KV; results: KV } {
    if (!this.#js || !this.#jsm || !this.#records || !this.#results) {
      throw new Error("the JetStream call queue is not started");
    }
    return { js: this.#js, jsm: this.#jsm, records: this.#records, results: this.#results };
  }

  async enqueue(request: EnqueueRequest): Promise<CallRecord> {
    if (this.#closing) {
      throw new Error("the platform is shutting down and takes no new async calls");
    }
    const { js, jsm, records } = this.#connected();
    const call = newCallOf(request, {
      revisions: this.#host.revisions,
      credentials: this.#host.credentials,
      policy: this.#transport.policy,
      now: this.#clock.now(),
    });
    const meta = this.#metaOf(call);
    const header = JSON.stringify(meta);
    if (call.body.length + Buffer.byteLength(header) > this.#maxPayload - headroomBytes) {
      throw new UserError(
        "RUNLET_BODY_TOO_LARGE",
        `The request body is larger than the call queue's message limit of ${formatSize(this.#maxPayload - headroomBytes)} (the NATS server's max_payload); send less, or raise max_payload in the NATS server's configuration.`,
      );
    }
    const h = natsHeaders();
    h.set(callHeader, header);
    const ack = await js.publish(this.#subject("run", call.functionName), call.body, {
      msgID: call.id,
      headers: h,
    });
    const key = recordKey(call.id);
    if (ack.duplicate) {
      // The same id within the dedupe window: the first enqueue's record (maybe still being written).
      return assertSameFunction(await this.#waitForRecord(call.id), call);
    }
    const record = queuedCall(meta, call.body.length, ack.seq);
    try {
      await records.create(key, encodeRecord(record));
      return toCallRecord(record, undefined);
    } catch (error) {
      const existing = await records.get(key);
      if (!existing || existing.operation !== "PUT") {
        throw error;
      }
      const stored = decodeRecord(existing.value);
      if (stored.seq !== ack.seq) {
        // The id names an earlier call: this message is a second copy of nothing.
        await jsm.streams.deleteMessage(this.#stream, ack.seq, false).catch(() => undefined);
      }
      return assertSameFunction(toCallRecord(stored, undefined), call);
    }
  }

  async #waitForRecord(id: string): Promise<CallRecord> {
    for (let tries = 0; tries < 50; tries += 1) {
      const record = await this.get(id);
      if (record) {
        return record;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`call ${id} was accepted by another enqueue whose record never appeared`);
  }

  #metaOf(call: NewCall): CallMessageMeta {
    const sealed = call.sealedHeaders ?? {};
    return {
      id: call.id,
      functionName: call.functionName,
      source: call.source,
      method: call.method,
      path: call.path,
      headers: call.headers,
      ...(Object.keys(sealed).length === 0
        ? {}
        : {
            sealed: seal(
              this.#sealKey,
              Buffer.from(JSON.stringify(sealed)),
              `call:${call.id}`,
            ).toString("base64"),
          }),
      ...(call.callbackUrl === undefined ? {} : { callbackUrl: call.callbackUrl }),
      createdAt: call.createdAt,
    };
  }

  async get(id: string): Promise<CallRecord | undefined> {
    const { records, results } = this.#connected();
    const entry = await records.get(recordKey(id));
    if (!entry || entry.operation !== "PUT") {
      return undefined;
    }
    const stored = decodeRecord(entry.value);
    let body: Buffer | undefined;
    if (stored.result) {
      const result = await results.get(recordKey(id));
      body = result?.operation === "PUT" ? Buffer.from(result.value) : Buffer.alloc(0);
    }
    return toCallRecord(stored, body);
  }

  async require(id: string): Promise<CallRecord> {
    const record = await this.get(id);
    if (!record) {
      throw callNotFound(id);
    }
    return record;
  }

  async list(query: CallQuery = {}): Promise<CallRecord[]> {
    const all = await this.#allRecords();
    return all
      .filter(
        (call) =>
          (query.functionName === undefined || call.functionName === query.functionName) &&
          (query.namespace === undefined || isInNamespace(call.functionName, query.namespace)) &&
          (query.state === undefined || call.state === query.state),
      )
      .sort((a, b) => b.createdAt - a.createdAt || b.seq - a.seq)
      .slice(0, query.limit ?? 50)
      .map((call) => ({ ...toCallRecord(call, undefined), result: undefined }));
  }

  async counts(): Promise<CallCount[]> {
    const counts = new Map<string, CallCount>();
    for (const call of await this.#allRecords()) {
      const key = `${call.functionName}\u0000${call.state}`;
      const count = counts.get(key)?.count ?? 0;
      counts.set(key, { functionName: call.functionName, state: call.state, count: count + 1 });
    }
    return [...counts.values()];
  }

  /** Every stored record: one read of the bucket's keys, then the records, 32 at a time. */
  async #allRecords(): Promise<StoredCall[]> {
    const { records } = this.#connected();
    const keys: string[] = [];
    for await (const key of await records.keys()) {
      keys.push(key);
    }
    const out: StoredCall[] = [];
    for (let i = 0; i < keys.length; i += 32) {
      const entries = await Promise.all(keys.slice(i, i + 32).map((key) => records.get(key)));
      for (const entry of entries) {
        if (entry?.operation === "PUT") {
          out.push(decodeRecord(entry.value));
        }
      }
    }
    return out;
  }

  get runningCount(): number {
    return this.#running.size;
  }

  async close(graceMs = 10_000): Promise<void> {
    this.#closing = true;
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
    await Promise.allSettled(this.#loops);
    await this.#transport.dispatcher.destroy();
    if (this.#nc && !this.#nc.isClosed()) {
      await this.#nc.drain().catch(() => this.#nc?.close());
    }
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

  #settle(): void {
    for (const settle of [...this.#settled]) {
      settle();
    }
  }

  /**
   * Pulls only as many messages as there is room to run: a message waiting in this process
   * would be held from the other replicas, and redelivered to them once its ack wait ran out.
   */
  async #workLoop(durable: string, kind: "run" | "callback"): Promise<void> {
    const { js } = this.#connected();
    const consumer = await js.consumers.get(this.#stream, durable);
    while (!this.#closing) {
      const room =
        kind === "run"
          ? this.options.maxConcurrency - this.#running.size
          : this.options.maxCallbacks - this.#callbacks.size;
      if (room <= 0) {
        await this.#nextSettle(1000);
        continue;
      }
      try {
        const messages = await consumer.fetch({ max_messages: room, expires: 1000 });
        for await (const message of messages) {
          if (this.#closing) {
            message.nak();
            continue;
          }
          if (kind === "run") {
            this.#startAttempt(message);
          } else {
            this.#startCallback(message);
          }
        }
      } catch (error) {
        if (this.#closing) {
          return;
        }
        this.#host.onError(error);
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  }

  #startAttempt(message: JsMsg): void {
    let meta: CallMessageMeta;
    try {
      meta = JSON.parse(message.headers?.get(callHeader) ?? "") as CallMessageMeta;
    } catch {
      message.term("not a Runlet call message");
      return;
    }
    const controller = new AbortController();
    this.#running.set(meta.id, { functionName: meta.functionName, controller });
    this.#runningByFunction.set(
      meta.functionName,
      (this.#runningByFunction.get(meta.functionName) ?? 0) + 1,
    );
    // The message stays ours while the attempt runs.
    const heartbeat = setInterval(() => message.working(), Math.max(50, this.options.leaseMs / 3));
    void this.#attempt(message, meta, controller)
      .catch((error: unknown) => {
        this.#host.onError(error);
        message.nak(1000);
      })
      .finally(() => {
        clearInterval(heartbeat);
        this.#running.delete(meta.id);
        const left = (this.#runningByFunction.get(meta.functionName) ?? 1) - 1;
        if (left > 0) {
          this.#runningByFunction.set(meta.functionName, left);
        } else {
          this.#runningByFunction.delete(meta.functionName);
        }
        this.#settle();
      });
  }

  /** Changes a record by compare-and-set, reading it again when another writer came first. */
  async #change(
    id: string,
    change: (current: StoredCall) => StoredCall | undefined,
  ): Promise<StoredCall | undefined> {
    const { records } = this.#connected();
    const key = recordKey(id);
    for (let tries = 0; tries < 10; tries += 1) {
      const entry = await records.get(key);
      if (!entry || entry.operation !== "PUT") {
        return undefined;
      }
      const next = change(decodeRecord(entry.value));
      if (next === undefined) {
        return decodeRecord(entry.value);
      }
      try {
        await records.update(key, encodeRecord(next), entry.revision);
        return next;
      } catch {
        // another replica wrote it meanwhile: read it again
      }
    }
    throw new Error(`call ${id}: its record kept changing under this write`);
  }

  async #attempt(
    message: JsMsg,
    meta: CallMessageMeta,
    controller: AbortController,
  ): Promise<void> {
    const { records } = this.#connected();
    const key = recordKey(meta.id);
    let entry = await records.get(key);
    if (!entry || entry.operation !== "PUT") {
      // Its enqueue has not written the record yet, or the record expired: write it from the message.
      await records
        .create(key, encodeRecord(queuedCall(meta, message.data.length, message.seq)))
        .catch(() => undefined);
      entry = await records.get(key);
      if (!entry || entry.operation !== "PUT") {
        message.nak(1000);
        return;
      }
    }
    const stored = decodeRecord(entry.value);
    if (stored.seq !== message.seq) {
      message.term("a second message for a call stored with another one");
      return;
    }
    if (isFinished(stored.state)) {
      // Finished before its ACK was sent: make sure its callback is queued, then let it go.
      if (stored.callback?.state === "pending") {
        await this.#publishCallback(stored);
      }
      message.ack();
      return;
    }
    const now = this.#clock.now();
    if (stored.state === "queued" && (stored.nextAttemptAt ?? 0) > now) {
      message.nak(Math.max(1, (stored.nextAttemptAt ?? now) - now));
      return;
    }
    const target = this.#host.revisions.find(meta.functionName);
    const capacity = target
      ? target.config.scale.max * target.config.scale.concurrency
      : this.options.maxConcurrency;
    if ((this.#runningByFunction.get(meta.functionName) ?? 0) > capacity) {
      message.nak(busyRetryMs);
      return;
    }
    const claimed = await this.#change(meta.id, (current) =>
      current.seq !== message.seq || isFinished(current.state)
        ? undefined
        : {
            ...current,
            state: "running",
            attempts: current.attempts + 1,
            startedAt: now,
            ...(current.state === "running"
              ? {
                  lastError:
                    "the attempt was interrupted (the server stopped or lost the call); it runs again",
                }
              : {}),
          },
    );
    if (!claimed || claimed.state !== "running") {
      message.ack();
      return;
    }
    const headers: Record<string, string> = { ...meta.headers };
    if (meta.sealed !== undefined) {
      Object.assign(headers, this.#unsealHeaders(meta.id, meta.sealed));
    }
    let result: FunctionCallResult;
    try {
      result = await this.#host.call(
        {
          name: meta.functionName,
          method: meta.method,
          path: meta.path,
          headers: { ...headers, "x-runlet-attempt": String(claimed.attempts) },
          body: Buffer.from(message.data),
          callId: meta.id,
        },
        controller.signal,
      );
    } catch (error) {
      if (!isUserError(error) || error.code !== "RUNLET_FUNCTION_NOT_FOUND") {
        throw error;
      }
      result = {
        status: 404,
        headers: { "content-type": "application/json" },
        body: Buffer.from(errorJson(error.code, error.message)),
        durationMs: 0,
      };
      await this.#finish(
        message,
        claimed,
        "failed",
        result,
        `the function was removed before the call ran: ${error.message}`,
        claimed.failures,
      );
      return;
    }
    if (controller.signal.aborted && this.#closing) {
      // Cut short by shutdown, not the function's fault: another replica (or the next start) runs it.
      await this.#change(meta.id, (current) =>
        current.state !== "running"
          ? undefined
          : { ...current, state: "queued", nextAttemptAt: this.#clock.now() },
      );
      message.nak();
      this.#emit(meta.functionName, "interrupted", result);
      return;
    }
    const outcome = attemptOutcome(
      result,
      claimed.failures,
      this.#host.revisions.find(meta.functionName)?.config.maxRetries,
    );
    if (outcome.state !== "retry") {
      await this.#finish(message, claimed, outcome.state, result, outcome.error, outcome.failures);
      return;
    }
    const delay = retryDelay(
      { baseMs: this.options.retryBaseMs, maxMs: this.options.retryMaxMs },
      outcome.failures,
    );
    await this.#change(meta.id, (current) =>
      isFinished(current.state)
        ? undefined
        : {
            ...current,
            state: "queued",
            nextAttemptAt: this.#clock.now() + delay,
            failures: outcome.failures,
            statusCode: result.status,
            lastError: outcome.error,
            durationMs: result.durationMs,
          },
    );
    message.nak(delay);
    this.#emit(meta.functionName, "retry", result);
  }

  /** Result body, then record, then the callback message, then the ACK: each step may be redone. */
  async #finish(
    message: JsMsg,
    claimed: StoredCall,
    state: "succeeded" | "failed" | "dead",
    result: FunctionCallResult,
    error: string | undefined,
    failures: number,
  ): Promise<void> {
    const { results } = this.#connected();
    const limit = Math.min(this.options.maxResultBytes, this.#maxPayload - headroomBytes);
    const kept = storedResult(result, limit);
    await results.put(recordKey(claimed.id), kept.body);
    const finished = await this.#change(claimed.id, (current) =>
      isFinished(current.state)
        ? undefined
        : {
            ...current,
            state,
            finishedAt: this.#clock.now(),
            failures,
            statusCode: result.status,
            lastError: error,
            durationMs: result.durationMs,
            result: { headers: kept.headers, size: kept.size, stored: kept.body.length },
            ...(current.callback
              ? { callback: { ...current.callback, state: "pending" as const } }
              : {}),
          },
    );
    if (finished?.callback?.state === "pending") {
      await this.#publishCallback(finished);
    }
    await message.ackAck();
    this.#emit(claimed.functionName, state, result);
  }

  async #publishCallback(call: StoredCall): Promise<void> {
    const { js } = this.#connected();
    const h = natsHeaders();
    h.set(callbackHeader, call.id);
    await js.publish(this.#subject("callback", call.functionName), new Uint8Array(0), {
      msgID: `${call.id}:callback`,
      headers: h,
    });
  }

  #unsealHeaders(id: string, sealed: string): Record<string, string> {
    try {
      const opened = unseal(this.#sealKey, Buffer.from(sealed, "base64"), `call:${id}`);
      return JSON.parse(opened.toString("utf8")) as Record<string, string>;
    } catch {
      return {}; // the secrets key was replaced: the call runs without them, as embedded
    }
  }

  #emit(functionName: string, outcome: string, result: FunctionCallResult): void {
    this.#host.onAttempt({
      functionName,
      outcome,
      statusCode: result.status,
      durationMs: result.durationMs,
    });
  }

  #startCallback(message: JsMsg): void {
    const id = message.headers?.get(callbackHeader) ?? "";
    const controller = new AbortController();
    this.#callbacks.set(`${id}:${message.seq}`, controller);
    const heartbeat = setInterval(() => message.working(), callbackAckWaitMs / 3);
    void this.#callback(message, id, controller)
      .catch((error: unknown) => {
        this.#host.onError(error);
        message.nak(1000);
      })
      .finally(() => {
        clearInterval(heartbeat);
        this.#callbacks.delete(`${id}:${message.seq}`);
        this.#settle();
      });
  }

  async #callback(message: JsMsg, id: string, controller: AbortController): Promise<void> {
    const record = await this.get(id);
    const stored = record?.callback;
    if (!record || stored?.state !== "pending") {
      message.ack();
      return;
    }
    const due: DueCallback = {
      id,
      functionName: record.functionName,
      url: stored.url,
      attempts: stored.attempts,
      state: record.state,
      statusCode: record.statusCode,
      durationMs: record.durationMs,
      result: record.result,
    };
    const timer = setTimeout(
      () => controller.abort(new Error(`no answer within ${this.options.callbackTimeoutMs} ms`)),
      this.options.callbackTimeoutMs,
    );
    let outcome;
    try {
      outcome = await deliverCallback(due, controller.signal, this.#transport);
    } finally {
      clearTimeout(timer);
    }
    if (this.#closing && controller.signal.aborted) {
      message.nak(); // still pending: another replica delivers it
      return;
    }
    const attempts = stored.attempts + 1;
    const givingUp =
      outcome.refused || (!outcome.delivered && attempts >= this.options.callbackMaxAttempts);
    const state = outcome.delivered ? "delivered" : givingUp ? "failed" : "pending";
    await this.#change(id, (current) =>
      current.callback
        ? {
            ...current,
            callback: {
              ...current.callback,
              state,
              attempts,
              status: outcome.status,
              error: outcome.error,
            },
          }
        : undefined,
    );
    if (state === "pending") {
      message.nak(
        retryDelay({ baseMs: this.options.retryBaseMs, maxMs: this.options.retryMaxMs }, attempts),
      );
    } else {
      await message.ackAck();
    }
  }
}
