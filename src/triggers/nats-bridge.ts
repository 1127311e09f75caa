/**
 * NATS triggers: each message on a subject becomes a call to the function. A request's own
 * reply subject (and the trigger's `reply` subject) gets the response; failures go to the
 * trigger's `errorSubject`. With `stream`, messages come from a durable JetStream consumer and
 * are acknowledged only after the function succeeded; a failure is redelivered after
 * `retryDelay`, until `maxDeliver` deliveries, then given up (and reported).
 *
 * One connection per platform; the client reconnects forever and restores core
 * subscriptions itself, and a JetStream consumer resumes pulling after a reconnect.
 */
import { randomUUID } from "node:crypto";
import {
  AckPolicy,
  DeliverPolicy,
  headers as natsHeaders,
  type ConsumerMessages,
  type JsMsg,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type Subscription,
} from "nats";
import { UserError, errorBody, statusOf } from "../errors.js";
import { connectNats, redactNatsServers } from "../host/nats-servers.js";
import type { NatsTriggerSpec } from "../spec/trigger-spec.js";
import { parseDuration } from "../spec/units.js";
import type { TriggerRecord } from "../store/trigger-store.js";
import type { TriggerCallResult, TriggerHost } from "./trigger-host.js";

export interface NatsBridgeOptions {
  readonly url: string;
  readonly host: TriggerHost;
}

interface Source {
  readonly key: string;
  readonly stop: () => Promise<void>;
}

const defaultMaxDeliver = 5;
const defaultRetryDelayMs = 1000;

export class NatsBridge {
  readonly #url: string;
  readonly #host: TriggerHost;
  readonly #sources = new Map<string, Source>();
  #connection: Promise<NatsConnection> | undefined;
  #nc: NatsConnection | undefined;
  #closed = false;
  /** Serializes reconcile passes (they start and stop consumers asynchronously). */
  #reconciling: Promise<void> = Promise.resolve();

  constructor(options: NatsBridgeOptions) {
    this.#url = options.url;
    this.#host = options.host;
  }

  /** Checks what can only be checked on the server: a JetStream trigger's stream exists. */
  async checkSource(record: TriggerRecord): Promise<void> {
    if (!("nats" in record.spec) || record.spec.stream === undefined) {
      return;
    }
    const nc = await this.#connectNow();
    const jsm = await nc.jetstreamManager();
    try {
      await jsm.streams.info(record.spec.stream);
    } catch (error) {
      throw new UserError(
        "RUNLET_INVALID_SPEC",
        `Trigger ${record.name}: the JetStream stream ${record.spec.stream} does not exist on ${redactNatsServers(this.#url)} (${errorText(error)}); create it first, e.g. nats stream add ${record.spec.stream} --subjects '${record.spec.nats}'`,
      );
    }
  }

  reconcile(records: readonly TriggerRecord[]): void {
    this.#reconciling = this.#reconciling
      .then(() => this.#reconcile(records))
      .catch((error: unknown) => this.#host.onError(error));
  }

  async close(): Promise<void> {
    this.#closed = true;
    // A pass may be waiting for a server that is not there: shutdown does not wait on it.
    await within(this.#reconciling, 2000);
    const sources = [...this.#sources.values()];
    this.#sources.clear();
    await within(Promise.all(sources.map((source) => source.stop().catch(() => undefined))), 5000);
    const nc = this.#nc;
    this.#nc = undefined;
    this.#connection = undefined;
    if (nc) {
      await within(
        nc.drain().catch(() => nc.close()),
        5000,
      );
      await nc.close().catch(() => undefined);
    }
    // Still connecting: the connection closes itself when it comes (see #connect).
  }

  async #reconcile(records: readonly TriggerRecord[]): Promise<void> {
    const wanted = new Map(records.map((record) => [record.name, record]));
    for (const [name, source] of this.#sources) {
      const record = wanted.get(name);
      if (!record || keyOf(record) !== source.key) {
        this.#sources.delete(name);
        await source.stop();
      }
    }
    for (const record of records) {
      if (this.#closed || this.#sources.has(record.name)) {
        continue;
      }
      try {
        const nc = await this.#connect();
        const spec = record.spec as NatsTriggerSpec;
        const stop =
          spec.stream === undefined
            ? this.#subscribe(nc, record, spec)
            : await this.#consume(nc, record, spec);
        this.#sources.set(record.name, { key: keyOf(record), stop });
      } catch (error) {
        this.#host.onError(
          new Error(`NATS trigger ${record.name} could not start`, { cause: error }),
        );
      }
    }
  }

  /** The connection, waiting for the server however long it takes (the platform starts anyway). */
  #connect(): Promise<NatsConnection> {
    this.#connection ??= connectNats(this.#url, {
      name: "runlet",
      waitOnFirstConnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1000,
    }).then(async (nc) => {
      if (this.#closed) {
        await nc.close();
        throw new Error("the platform is shutting down");
      }
      this.#nc = nc;
      void this.#watch(nc);
      return nc;
    });
    return this.#connection;
  }

  /** The connection for a check a caller waits on: fail fast with a clear error. */
  async #connectNow(): Promise<NatsConnection> {
    const timeout = new Promise<never>((_resolve, reject) => {
      setTimeout(
        () =>
          reject(
            new UserError(
              "RUNLET_NATS_UNAVAILABLE",
              `The NATS server at ${redactNatsServers(this.#url)} cannot be reached; start it, or check runlet up --nats.`,
            ),
          ),
        5000,
      ).unref();
    });
    return Promise.race([this.#connect(), timeout]);
  }

  async #watch(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      if (status.type === "disconnect" || status.type === "error") {
        this.#host.onError(new Error(`NATS ${status.type}: ${String(status.data)}`));
      }
    }
  }

  #subscribe(
    nc: NatsConnection,
    record: TriggerRecord,
    spec: NatsTriggerSpec,
  ): () => Promise<void> {
    const subscription: Subscription = nc.subscribe(spec.nats, {
      queue: spec.queue,
      callback: (error, msg) => {
        if (error) {
          this.#host.onError(error);
          return;
        }
        void this.#handleCore(nc, record, spec, msg);
      },
    });
    return async () => {
      subscription.unsubscribe();
    };
  }

  async #handleCore(
    nc: NatsConnection,
    record: TriggerRecord,
    spec: NatsTriggerSpec,
    msg: Msg,
  ): Promise<void> {
    const outcome = await this.#call(record, msg.subject, msg.data, msg.headers);
    if (outcome.ok) {
      this.#publishResult(nc, spec, msg.reply, outcome.result);
    } else {
      this.#publishError(nc, record, spec, msg.subject, msg.data, outcome);
      if (msg.reply) {
        // The requester is waiting: tell it, rather than letting it time out.
        const hdrs = natsHeaders();
        hdrs.set("Runlet-Status", String(outcome.status));
        nc.publish(msg.reply, Buffer.from(JSON.stringify(outcome.body)), { headers: hdrs });
      }
    }
  }

  async #consume(
    nc: NatsConnection,
    record: TriggerRecord,
    spec: NatsTriggerSpec,
  ): Promise<() => Promise<void>> {
    const stream = spec.stream ?? "";
    const durable = spec.consumer ?? `runlet-${record.name.replace(/[^A-Za-z0-9_-]/g, "_")}`;
    const maxDeliver = spec.maxDeliver ?? defaultMaxDeliver;
    const retryDelayMs =
      spec.retryDelay === undefined ? defaultRetryDelayMs : (parseDuration(spec.retryDelay) ?? 0);
    const timeoutMs = this.#host.functionTimeoutMs(record.target) ?? 30_000;
    const jsm = await nc.jetstreamManager();
    const config = {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: spec.nats,
      max_deliver: maxDeliver,
      // Longer than a call may take, so a slow success is not redelivered meanwhile.
      ack_wait: (timeoutMs + 10_000) * 1_000_000,
      max_ack_pending: 64,
    };
    const existing = await jsm.consumers.info(stream, durable).catch(() => undefined);
    if (existing) {
      const { durable_name: _name, deliver_policy: _policy, ...update } = config;
      await jsm.consumers.update(stream, durable, update);
    } else {
      await jsm.consumers.add(stream, config);
    }
    const consumer = await nc.jetstream().consumers.get(stream, durable);
    const messages: ConsumerMessages = await consumer.consume({ max_messages: 16 });
    const inFlight = new Set<Promise<void>>();
    const loop = (async () => {
      for await (const message of messages) {
        const handled = this.#handleJetStream(nc, record, spec, message, maxDeliver, retryDelayMs);
        inFlight.add(handled);
        void handled.finally(() => inFlight.delete(handled));
      }
    })();
    return async () => {
      await messages.close();
      await loop.catch(() => undefined);
      await Promise.all(inFlight);
    };
  }

  async #handleJetStream(
    nc: NatsConnection,
    record: TriggerRecord,
    spec: NatsTriggerSpec,
    message: JsMsg,
    maxDeliver: number,
    retryDelayMs: number,
  ): Promise<void> {
    const outcome = await this.#call(record, message.subject, message.data, message.headers, {
      "x-nats-stream": message.info.stream,
      "x-nats-delivery": String(message.info.deliveryCount),
    });
    if (outcome.ok) {
      this.#publishResult(nc, spec, undefined, outcome.result);
      message.ack();
      return;
    }
    if (message.info.deliveryCount >= maxDeliver) {
      // The last delivery failed too: give the message up and say so.
      // No reason text: servers before 2.10.4 ignore "+TERM <reason>".
      message.term();
      this.#publishError(nc, record, spec, message.subject, message.data, outcome);
      return;
    }
    message.nak(retryDelayMs);
  }

  async #call(
    record: TriggerRecord,
    subject: string,
    data: Uint8Array,
    msgHeaders: MsgHdrs | undefined,
    extra: Record<string, string> = {},
  ): Promise<
    | { ok: true; result: TriggerCallResult }
    | { ok: false; status: number; body: unknown; result?: TriggerCallResult }
  > {
    const headers: Record<string, string> = {};
    for (const [key, values] of msgHeaders ?? []) {
      const value = values[0];
      if (value !== undefined && /^[A-Za-z0-9-]+$/.test(key)) {
        headers[key.toLowerCase()] = value;
      }
    }
    headers["x-runlet-trigger"] = record.name;
    headers["x-nats-subject"] = subject;
    Object.assign(headers, extra);
    headers["content-type"] ??= looksLikeJson(data)
      ? "application/json"
      : "application/octet-stream";
    try {
      const result = await this.#host.call({
        name: record.target,
        method: "POST",
        path: "/",
        headers,
        body: Buffer.from(data),
        callId: randomUUID(),
      });
      if (result.status < 400) {
        return { ok: true, result };
      }
      return { ok: false, status: result.status, body: parseBody(result.body), result };
    } catch (error) {
      return {
        ok: false,
        status: statusOf("RUNLET_INTERNAL"),
        body: errorBody("RUNLET_INTERNAL", errorText(error)),
      };
    }
  }

  #publishResult(
    nc: NatsConnection,
    spec: NatsTriggerSpec,
    requestReply: string | undefined,
    result: TriggerCallResult,
  ): void {
    for (const subject of [requestReply, spec.reply]) {
      if (subject) {
        nc.publish(subject, result.body);
      }
    }
  }

  #publishError(
    nc: NatsConnection,
    record: TriggerRecord,
    spec: NatsTriggerSpec,
    subject: string,
    data: Uint8Array,
    outcome: { status: number; body: unknown },
  ): void {
    if (!spec.errorSubject) {
      return;
    }
    const report = {
      trigger: record.name,
      function: record.target,
      subject,
      status: outcome.status,
      response: outcome.body,
      data: Buffer.from(data).toString("utf8"),
    };
    nc.publish(spec.errorSubject, Buffer.from(JSON.stringify(report)));
  }
}

/** Waits for `promise`, but no longer than `ms`. */
async function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    promise.catch(() => undefined),
    new Promise((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}

function keyOf(record: TriggerRecord): string {
  return `${record.target} ${JSON.stringify(record.spec)}`;
}

function looksLikeJson(data: Uint8Array): boolean {
  const first = data.find(
    (byte) => byte !== 0x20 && byte !== 0x0a && byte !== 0x0d && byte !== 0x09,
  );
  return first === 0x7b || first === 0x5b;
}

function parseBody(body: Buffer): unknown {
  const text = body.toString("utf8");
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
