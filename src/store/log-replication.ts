/**
 * Function logs shared by gateway replicas (Kubernetes mode): every line a replica stores first
 * (its instances' output, its executor's exit notes) is published to a JetStream stream, and
 * every replica reads the whole stream into its own LogStore. So `runlet logs` (and --follow)
 * answers the same on every replica, a new replica starts with the history, and lines outlive
 * the pods that printed them, which a pod's own log (gone with the pod at scale to zero) does
 * not. The stream is bounded by age and size; older lines are dropped first.
 */
import { randomBytes } from "node:crypto";
import {
  DiscardPolicy,
  headers as natsHeaders,
  nanos,
  RetentionPolicy,
  StorageType,
  type ConsumerMessages,
  type NatsConnection,
} from "nats";
import { connectNats, type NatsServers } from "../host/nats-servers.js";
import type { LogStore, NewLogLine } from "./log-store.js";

export interface LogReplicationOptions {
  /** With credentials in them when the server asks for some (host/nats-servers.ts). */
  readonly servers: NatsServers;
  readonly logs: LogStore;
  /** @default "RUNLET_LOGS" */
  readonly stream?: string;
  /** @default 7 days */
  readonly maxAgeMs?: number;
  /** @default 1 GiB */
  readonly maxBytes?: number;
  readonly onError?: (error: unknown) => void;
}

/** The header naming the replica that published a line. */
const replicaHeader = "Runlet-Replica";

interface WireLine {
  readonly f: string;
  readonly i: string;
  readonly c?: string;
  readonly s: "stdout" | "stderr";
  readonly t: number;
  readonly x: string;
}

export class LogReplication {
  readonly #nc: NatsConnection;
  readonly #messages: ConsumerMessages;
  readonly #stopLocal: () => void;
  readonly #done: Promise<void>;

  private constructor(
    nc: NatsConnection,
    messages: ConsumerMessages,
    stopLocal: () => void,
    done: Promise<void>,
  ) {
    this.#nc = nc;
    this.#messages = messages;
    this.#stopLocal = stopLocal;
    this.#done = done;
  }

  /**
   * Connects, makes the stream if it is missing, replaces the store's lines with the stream's
   * (so a restarted replica holds no line twice) and keeps both in step until closed.
   */
  static async start(options: LogReplicationOptions): Promise<LogReplication> {
    const name = options.stream ?? "RUNLET_LOGS";
    const subjectPrefix = `${name.toLowerCase()}.`;
    const replica = randomBytes(8).toString("hex");
    const nc = await connectNats(options.servers, { name: `runlet-logs-${replica}` });
    try {
      const jsm = await nc.jetstreamManager();
      const stream = {
        name,
        subjects: [`${subjectPrefix}*`],
        retention: RetentionPolicy.Limits,
        storage: StorageType.File,
        discard: DiscardPolicy.Old,
        max_age: nanos(options.maxAgeMs ?? 7 * 86_400_000),
        max_bytes: options.maxBytes ?? 2 ** 30,
        // One subject per function, bounded as each replica's store is: a chatty function
        // drops its own oldest lines, never another function's.
        max_msgs_per_subject: options.logs.maxLinesPerFunction,
      };
      await jsm.streams.info(name).then(
        () => jsm.streams.update(name, stream),
        () => jsm.streams.add(stream),
      );
      const { logs } = options;
      logs.clear();
      const consumer = await nc.jetstream().consumers.get(name);
      const messages = await consumer.consume();
      const done = (async () => {
        for await (const message of messages) {
          if (message.headers?.get(replicaHeader) === replica) {
            continue;
          }
          try {
            const wire = message.json<WireLine>();
            logs.append(
              {
                functionName: wire.f,
                instance: wire.i,
                callId: wire.c,
                stream: wire.s,
                time: wire.t,
                text: wire.x,
              },
              "peer",
            );
          } catch (error) {
            options.onError?.(
              new Error("a log line on the stream is not readable", { cause: error }),
            );
          }
        }
      })();
      const stopLocal = logs.onLocalAppend((line: NewLogLine) => {
        const wire: WireLine = {
          f: line.functionName,
          i: line.instance,
          ...(line.callId === undefined ? {} : { c: line.callId }),
          s: line.stream,
          t: line.time,
          x: line.text,
        };
        const h = natsHeaders();
        h.set(replicaHeader, replica);
        // Fire and forget: a log line is not worth holding a call for.
        nc.publish(`${subjectPrefix}${line.functionName}`, JSON.stringify(wire), { headers: h });
      });
      return new LogReplication(nc, messages, stopLocal, done);
    } catch (error) {
      await nc.close();
      throw error;
    }
  }

  async close(): Promise<void> {
    this.#stopLocal();
    await this.#messages.close();
    await this.#done.catch(() => undefined);
    await this.#nc.drain();
  }
}
