/**
 * Function logs: a bounded ring per function on disk (SQLite), plus live subscribers for
 * `logs --follow`. Lines are buffered and written in one transaction every few milliseconds,
 * so a chatty function costs one commit per batch rather than one per line.
 */
import { EventEmitter } from "node:events";
import type { Db } from "./database.js";

/** The event for lines stored here first; no function name can be it (names are DNS labels). */
const localAppend = Symbol("local append");

export interface StoredLogLine {
  readonly id: number;
  readonly functionName: string;
  readonly instance: string;
  readonly callId: string | undefined;
  readonly stream: "stdout" | "stderr";
  readonly time: number;
  readonly text: string;
}

export type NewLogLine = Omit<StoredLogLine, "id">;

export interface LogQuery {
  readonly functionName: string;
  /** Last N lines. */
  readonly tail?: number;
  /** Only lines at or after this time (ms). */
  readonly since?: number;
  readonly instance?: string;
}

interface LogRow {
  id: number;
  function_name: string;
  instance: string;
  call_id: string | null;
  stream: "stdout" | "stderr";
  time: number;
  text: string;
}

export interface LogStoreOptions {
  /** Lines kept per function. @default 10000 */
  readonly maxLinesPerFunction?: number;
  /** Longest line kept; longer ones are cut. @default 16384 */
  readonly maxLineLength?: number;
  /** @default 50 */
  readonly flushIntervalMs?: number;
}

export class LogStore {
  readonly #db: Db;
  readonly #events = new EventEmitter();
  readonly #pending: NewLogLine[] = [];
  readonly #maxLines: number;
  readonly #maxLineLength: number;
  readonly #flushIntervalMs: number;
  readonly #touched = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #nextId = 0;
  #closed = false;

  constructor(db: Db, options: LogStoreOptions = {}) {
    this.#db = db;
    this.#maxLines = options.maxLinesPerFunction ?? 10_000;
    this.#maxLineLength = options.maxLineLength ?? 16_384;
    this.#flushIntervalMs = options.flushIntervalMs ?? 50;
    this.#events.setMaxListeners(0);
  }

  /** Lines kept per function: the bound a shared copy of the logs keeps too. */
  get maxLinesPerFunction(): number {
    return this.#maxLines;
  }

  /**
   * Stores a line and tells its subscribers. `peer`: a line another gateway replica stored
   * first (log-replication.ts), which is not passed on again.
   */
  append(line: NewLogLine, origin: "local" | "peer" = "local"): void {
    if (this.#closed) {
      // An instance stopped during shutdown may still print; the database is gone by then.
      return;
    }
    const text =
      line.text.length > this.#maxLineLength
        ? `${line.text.slice(0, this.#maxLineLength)}… [cut]`
        : line.text;
    const entry = { ...line, text };
    if (origin === "local") {
      // Cut first: what other replicas receive is bounded as what is stored here.
      this.#events.emit(localAppend, entry);
    }
    this.#pending.push(entry);
    this.#nextId += 1;
    this.#events.emit(line.functionName, { ...entry, id: -this.#nextId });
    this.#timer ??= setTimeout(() => this.flush(), this.#flushIntervalMs);
  }

  flush(): void {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#pending.length === 0) {
      return;
    }
    const batch = this.#pending.splice(0);
    const insert = this.#db.prepare(
      "INSERT INTO logs (function_name, instance, call_id, stream, time, text) VALUES (?, ?, ?, ?, ?, ?)",
    );
    this.#db.transaction(() => {
      for (const line of batch) {
        insert.run(
          line.functionName,
          line.instance,
          line.callId ?? null,
          line.stream,
          line.time,
          line.text,
        );
        this.#touched.add(line.functionName);
      }
    })();
    this.#trim();
  }

  query(query: LogQuery): StoredLogLine[] {
    this.flush();
    const conditions = ["function_name = ?"];
    const params: (string | number)[] = [query.functionName];
    if (query.since !== undefined) {
      conditions.push("time >= ?");
      params.push(query.since);
    }
    if (query.instance !== undefined) {
      conditions.push("instance = ?");
      params.push(query.instance);
    }
    const limit = query.tail !== undefined && query.tail > 0 ? query.tail : -1;
    const rows = this.#db
      .prepare<(string | number)[], LogRow>(
        `SELECT * FROM logs WHERE ${conditions.join(" AND ")} ORDER BY id DESC LIMIT ${limit}`,
      )
      .all(...params);
    return rows.reverse().map(toLine);
  }

  /** Calls `listener` for every line stored here first (not a peer's), until unsubscribed. */
  onLocalAppend(listener: (line: NewLogLine) => void): () => void {
    this.#events.on(localAppend, listener);
    return () => this.#events.off(localAppend, listener);
  }

  /** Forgets every line (a replica about to replay the cluster's log stream). */
  clear(): void {
    this.flush();
    this.#db.prepare("DELETE FROM logs").run();
  }

  /** Calls `listener` for every new line of a function until the returned function is called. */
  subscribe(functionName: string, listener: (line: StoredLogLine) => void): () => void {
    this.#events.on(functionName, listener);
    return () => this.#events.off(functionName, listener);
  }

  remove(functionName: string): void {
    this.flush();
    this.#db.prepare("DELETE FROM logs WHERE function_name = ?").run(functionName);
  }

  close(): void {
    this.flush();
    this.#closed = true;
  }

  #trim(): void {
    for (const name of this.#touched) {
      this.#db
        .prepare(
          `DELETE FROM logs WHERE function_name = ? AND id <= (
             SELECT id FROM logs WHERE function_name = ? ORDER BY id DESC LIMIT 1 OFFSET ?)`,
        )
        .run(name, name, this.#maxLines);
    }
    this.#touched.clear();
  }
}

function toLine(row: LogRow): StoredLogLine {
  return {
    id: row.id,
    functionName: row.function_name,
    instance: row.instance,
    callId: row.call_id ?? undefined,
    stream: row.stream,
    time: row.time,
    text: row.text,
  };
}
