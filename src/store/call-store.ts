/**
 * Async calls on disk (SQLite): the request as accepted, its state through attempts, and its
 * result. Every change is one statement or one transaction, so a call is either stored or
 * not, and a crash leaves each call in the last state written (running calls are re-queued
 * by the queue on the next start).
 */
import { defaultNamespace } from "../spec/namespaces.js";
import type { Db } from "./database.js";
import { seal, unseal } from "./seal.js";

export const callStates = ["queued", "running", "succeeded", "failed", "dead"] as const;
export type CallState = (typeof callStates)[number];

export const callbackStates = ["pending", "delivered", "failed"] as const;
export type CallbackState = (typeof callbackStates)[number];

export interface NewCall {
  readonly id: string;
  readonly functionName: string;
  readonly source: string;
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  /**
   * Credential headers (a function's own Authorization, cookies) the function gets when the
   * call runs: stored sealed with the secrets key, never in plain text, never shown.
   */
  readonly sealedHeaders?: Record<string, string>;
  readonly body: Buffer;
  readonly callbackUrl: string | undefined;
  readonly createdAt: number;
}

export interface CallResult {
  readonly headers: Record<string, string | string[]>;
  /** At most the queue's result limit; `truncated` says when the function sent more. */
  readonly body: Buffer;
  /** The full size of the function's response body. */
  readonly size: number;
  readonly truncated: boolean;
}

export interface CallbackStatus {
  readonly url: string;
  /** Undefined until the call has finished. */
  readonly state: CallbackState | undefined;
  readonly attempts: number;
  /** HTTP status of the last delivery attempt. */
  readonly status: number | undefined;
  readonly error: string | undefined;
}

export interface CallRecord {
  readonly id: string;
  readonly functionName: string;
  /** Who made the call: "http", "cli", "cron:<trigger>", "nats:<trigger>"… */
  readonly source: string;
  readonly method: string;
  readonly path: string;
  readonly requestSize: number;
  readonly state: CallState;
  /** Attempts started, including one cut short by a platform restart. */
  readonly attempts: number;
  /** Attempts the function failed (5xx, timeout, crash); retries stop after maxRetries. */
  readonly failures: number;
  readonly createdAt: number;
  /** When the last attempt started. */
  readonly startedAt: number | undefined;
  readonly finishedAt: number | undefined;
  /** When a queued call is due (now for new calls, later while backing off). */
  readonly nextAttemptAt: number | undefined;
  /** Duration of the last attempt. */
  readonly durationMs: number | undefined;
  /** Status code of the last attempt. */
  readonly statusCode: number | undefined;
  readonly lastError: string | undefined;
  readonly result: CallResult | undefined;
  readonly callback: CallbackStatus | undefined;
}

/** What a worker needs to run an attempt. */
export interface ClaimedCall {
  readonly id: string;
  readonly functionName: string;
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
  readonly attempt: number;
  readonly failures: number;
}

export interface CallQuery {
  readonly functionName?: string;
  /** Only calls of functions in this namespace (spec/namespaces.ts: keys NAME or NAME.NS). */
  readonly namespace?: string;
  readonly state?: CallState;
  /** @default 50 */
  readonly limit?: number;
}

export interface FinishedAttempt {
  readonly state: "succeeded" | "failed" | "dead";
  readonly statusCode: number;
  readonly error: string | undefined;
  readonly durationMs: number;
  readonly result: CallResult;
  readonly failures: number;
  readonly finishedAt: number;
}

export interface DueCallback {
  readonly id: string;
  readonly functionName: string;
  readonly url: string;
  readonly attempts: number;
  readonly state: CallState;
  readonly statusCode: number | undefined;
  readonly durationMs: number | undefined;
  readonly result: CallResult | undefined;
}

interface CallRow {
  id: string;
  function_name: string;
  source: string;
  method: string;
  path: string;
  headers: string;
  body_size: number;
  callback_url: string | null;
  state: CallState;
  attempts: number;
  failures: number;
  next_attempt_at: number;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  duration_ms: number | null;
  status_code: number | null;
  last_error: string | null;
  result_headers: string | null;
  result_body: Buffer | null;
  result_size: number | null;
  callback_state: CallbackState | null;
  callback_attempts: number;
  callback_status: number | null;
  callback_error: string | null;
}

const recordColumns = `id, function_name, source, method, path, headers, length(body) AS body_size,
  callback_url, state, attempts, failures, next_attempt_at, created_at, started_at, finished_at,
  duration_ms, status_code, last_error, result_headers, result_body, result_size, callback_state,
  callback_attempts, callback_status, callback_error`;

export class CallStore {
  readonly #db: Db;
  readonly #sealKey: Buffer;
  readonly #insert;
  readonly #get;
  readonly #claimOne;
  readonly #queuedFunctions;
  readonly #dueOf;
  readonly #finish;
  readonly #nextDueAt;

  /** `sealKey`: the 32-byte secrets key that seals credential headers. */
  constructor(db: Db, sealKey: Buffer) {
    this.#db = db;
    this.#sealKey = sealKey;
    this.#insert = db.prepare(
      `INSERT INTO calls (id, function_name, source, method, path, headers, sealed_headers, body,
         callback_url, state, next_attempt_at, created_at)
       VALUES (@id, @functionName, @source, @method, @path, @headers, @sealedHeaders, @body,
         @callbackUrl, 'queued', @createdAt, @createdAt)
       ON CONFLICT (id) DO NOTHING`,
    );
    this.#get = db.prepare(`SELECT ${recordColumns} FROM calls WHERE id = ?`);
    this.#queuedFunctions = db.prepare(
      `WITH RECURSIVE queued(name) AS (
         SELECT MIN(function_name) FROM calls WHERE state = 'queued'
         UNION ALL
         SELECT (SELECT MIN(function_name) FROM calls
                 WHERE state = 'queued' AND function_name > queued.name)
         FROM queued WHERE queued.name IS NOT NULL
       )
       SELECT name FROM queued WHERE name IS NOT NULL`,
    );
    this.#dueOf = db.prepare(
      `SELECT id FROM calls WHERE state = 'queued' AND function_name = ? AND next_attempt_at <= ?
       ORDER BY next_attempt_at, seq LIMIT ?`,
    );
    this.#finish = db.prepare(
      `UPDATE calls SET state = @state, lease_until = NULL, finished_at = @finishedAt,
         failures = @failures, status_code = @statusCode, last_error = @error,
         duration_ms = @durationMs, result_headers = @resultHeaders, result_body = @resultBody,
         result_size = @resultSize,
         callback_state = CASE WHEN callback_url IS NULL THEN NULL ELSE 'pending' END,
         callback_next_at = CASE WHEN callback_url IS NULL THEN NULL ELSE @finishedAt END
       WHERE id = @id`,
    );
    this.#nextDueAt = db.prepare(
      `SELECT MIN(t) AS t FROM (
         SELECT MIN(next_attempt_at) AS t FROM calls WHERE state = 'queued'
         UNION ALL
         SELECT MIN(callback_next_at) AS t FROM calls WHERE callback_state = 'pending')`,
    );
    this.#claimOne = db.prepare(
      `UPDATE calls SET state = 'running', attempts = attempts + 1, started_at = @now,
         lease_until = @leaseUntil
       WHERE id = @id AND state = 'queued'
       RETURNING id, function_name, method, path, headers, sealed_headers, body, attempts,
         failures`,
    );
  }

  /** Stores a new call; false when a call with that id exists already (nothing changes). */
  insert(call: NewCall): boolean {
    const sealed = call.sealedHeaders ?? {};
    const info = this.#insert.run({
      id: call.id,
      functionName: call.functionName,
      source: call.source,
      method: call.method,
      path: call.path,
      headers: JSON.stringify(call.headers),
      sealedHeaders:
        Object.keys(sealed).length === 0
          ? null
          : seal(this.#sealKey, Buffer.from(JSON.stringify(sealed)), `call:${call.id}`),
      body: call.body,
      callbackUrl: call.callbackUrl ?? null,
      createdAt: call.createdAt,
    });
    return info.changes === 1;
  }

  /** Runs `work` (calls to this store) as one transaction. */
  inTransaction(work: () => void): void {
    this.#db.transaction(work)();
  }

  /** Stores several calls in one transaction; for each, whether it was new. */
  insertMany(calls: readonly NewCall[]): boolean[] {
    return this.#db.transaction(() => calls.map((call) => this.insert(call)))();
  }

  get(id: string): CallRecord | undefined {
    const row = this.#get.get(id) as CallRow | undefined;
    return row ? toRecord(row) : undefined;
  }

  /** Newest first, without result bodies. */
  list(query: CallQuery = {}): CallRecord[] {
    const where: string[] = [];
    const params: Record<string, unknown> = { limit: query.limit ?? 50 };
    if (query.functionName !== undefined) {
      where.push("function_name = @functionName");
      params.functionName = query.functionName;
    }
    if (query.namespace === defaultNamespace) {
      where.push("instr(function_name, '.') = 0");
    } else if (query.namespace !== undefined) {
      where.push("substr(function_name, instr(function_name, '.') + 1) = @namespace");
      where.push("instr(function_name, '.') > 0");
      params.namespace = query.namespace;
    }
    if (query.state !== undefined) {
      where.push("state = @state");
      params.state = query.state;
    }
    const rows = this.#db
      .prepare(
        `SELECT ${recordColumns.replace("result_body,", "NULL AS result_body,")} FROM calls
         ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""}
         ORDER BY seq DESC LIMIT @limit`,
      )
      .all(params) as CallRow[];
    return rows.map((row) => ({ ...toRecord(row), result: undefined }));
  }

  /**
   * Functions with queued calls (due now or later). A skip-scan over the index: one lookup
   * per function rather than one row per queued call, so a deep queue costs nothing here.
   */
  queuedFunctions(): string[] {
    const rows = this.#queuedFunctions.all() as { name: string }[];
    return rows.map((row) => row.name);
  }

  /** Marks up to `limit` due calls of a function running, oldest due first, and returns them. */
  claim(functionName: string, now: number, limit: number, leaseUntil: number): ClaimedCall[] {
    return this.#db.transaction(() => {
      const ids = this.#dueOf.all(functionName, now, limit) as { id: string }[];
      const claimed: ClaimedCall[] = [];
      for (const { id } of ids) {
        const row = this.#claimOne.get({ id, now, leaseUntil }) as
          | {
              id: string;
              function_name: string;
              method: string;
              path: string;
              headers: string;
              sealed_headers: Buffer | null;
              body: Buffer;
              attempts: number;
              failures: number;
            }
          | undefined;
        if (row) {
          const headers = JSON.parse(row.headers) as Record<string, string>;
          if (row.sealed_headers !== null) {
            Object.assign(headers, this.#unsealHeaders(row.id, row.sealed_headers));
          }
          claimed.push({
            id: row.id,
            functionName: row.function_name,
            method: row.method,
            path: row.path,
            headers,
            body: row.body,
            attempt: row.attempts,
            failures: row.failures,
          });
        }
      }
      return claimed;
    })();
  }

  /**
   * A call's sealed headers; none when they no longer open (the secrets key was replaced):
   * the call then runs without them, as a call that sent none.
   */
  #unsealHeaders(id: string, sealed: Buffer): Record<string, string> {
    try {
      const opened = unseal(this.#sealKey, sealed, `call:${id}`);
      return JSON.parse(opened.toString("utf8")) as Record<string, string>;
    } catch {
      return {};
    }
  }

  /** Extends the lease of calls still running here. */
  renewLeases(ids: readonly string[], leaseUntil: number): void {
    const renew = this.#db.prepare(
      `UPDATE calls SET lease_until = ? WHERE id = ? AND state = 'running'`,
    );
    this.#db.transaction(() => {
      for (const id of ids) {
        renew.run(leaseUntil, id);
      }
    })();
  }

  /**
   * Puts running calls back in the queue: all of them at start-up (whoever ran them is gone),
   * or those whose lease ran out. The interrupted attempt is not charged as a failure.
   */
  requeueRunning(now: number, onlyExpired: boolean): number {
    const info = this.#db
      .prepare(
        `UPDATE calls SET state = 'queued', next_attempt_at = @now, lease_until = NULL,
           last_error = 'the attempt was interrupted (the server stopped or lost the call); it runs again'
         WHERE state = 'running' ${onlyExpired ? "AND lease_until < @now" : ""}`,
      )
      .run({ now });
    return info.changes;
  }

  /** One running call back to the queue, uncharged (the platform cut the attempt short). */
  requeueOne(id: string, now: number): void {
    this.#db
      .prepare(
        `UPDATE calls SET state = 'queued', next_attempt_at = ?, lease_until = NULL
         WHERE id = ? AND state = 'running'`,
      )
      .run(now, id);
  }

  /** An attempt that did not finish the call: back to the queue, due at `nextAttemptAt`. */
  retryLater(
    id: string,
    attempt: {
      nextAttemptAt: number;
      failures: number;
      statusCode: number | undefined;
      error: string;
      durationMs: number | undefined;
    },
  ): void {
    this.#db
      .prepare(
        `UPDATE calls SET state = 'queued', next_attempt_at = @nextAttemptAt, lease_until = NULL,
           failures = @failures, status_code = @statusCode, last_error = @error,
           duration_ms = @durationMs
         WHERE id = @id`,
      )
      .run({
        id,
        ...attempt,
        statusCode: attempt.statusCode ?? null,
        durationMs: attempt.durationMs ?? null,
      });
  }

  finish(id: string, attempt: FinishedAttempt): void {
    this.#finish.run({
      id,
      state: attempt.state,
      finishedAt: attempt.finishedAt,
      failures: attempt.failures,
      statusCode: attempt.statusCode,
      error: attempt.error ?? null,
      durationMs: attempt.durationMs,
      resultHeaders: JSON.stringify(attempt.result.headers),
      resultBody: attempt.result.body,
      resultSize: attempt.result.size,
    });
  }

  dueCallbacks(now: number, limit: number, skip: ReadonlySet<string>): DueCallback[] {
    const rows = this.#db
      .prepare(
        `SELECT ${recordColumns} FROM calls WHERE callback_state = 'pending' AND callback_next_at <= ?
         ORDER BY callback_next_at LIMIT ?`,
      )
      .all(now, limit + skip.size) as CallRow[];
    return rows
      .filter((row) => !skip.has(row.id))
      .slice(0, limit)
      .map((row) => {
        const record = toRecord(row);
        return {
          id: record.id,
          functionName: record.functionName,
          url: row.callback_url ?? "",
          attempts: row.callback_attempts,
          state: record.state,
          statusCode: record.statusCode,
          durationMs: record.durationMs,
          result: record.result,
        };
      });
  }

  callbackAttempted(
    id: string,
    outcome: {
      state: CallbackState;
      status: number | undefined;
      error: string | undefined;
      nextAt: number | undefined;
    },
  ): void {
    this.#db
      .prepare(
        `UPDATE calls SET callback_state = @state, callback_attempts = callback_attempts + 1,
           callback_status = @status, callback_error = @error, callback_next_at = @nextAt
         WHERE id = @id`,
      )
      .run({
        id,
        state: outcome.state,
        status: outcome.status ?? null,
        error: outcome.error ?? null,
        nextAt: outcome.nextAt ?? null,
      });
  }

  /** The earliest time something is due (a queued call or a callback), if anything is. */
  nextDueAt(): number | undefined {
    const row = this.#nextDueAt.get() as { t: number | null };
    return row.t ?? undefined;
  }

  /** Deletes finished calls (whose callback is done) that finished before `before`. */
  sweep(before: number): number {
    return this.#db
      .prepare(
        `DELETE FROM calls WHERE finished_at < ? AND state IN ('succeeded', 'failed', 'dead')
           AND (callback_state IS NULL OR callback_state <> 'pending')`,
      )
      .run(before).changes;
  }

  /** Calls per function and state, for metrics. */
  counts(): { functionName: string; state: CallState; count: number }[] {
    const rows = this.#db
      .prepare(`SELECT function_name, state, COUNT(*) AS count FROM calls GROUP BY 1, 2`)
      .all() as { function_name: string; state: CallState; count: number }[];
    return rows.map((row) => ({
      functionName: row.function_name,
      state: row.state,
      count: row.count,
    }));
  }
}

function toRecord(row: CallRow): CallRecord {
  const finished = row.state !== "queued" && row.state !== "running";
  return {
    id: row.id,
    functionName: row.function_name,
    source: row.source,
    method: row.method,
    path: row.path,
    requestSize: row.body_size,
    state: row.state,
    attempts: row.attempts,
    failures: row.failures,
    createdAt: row.created_at,
    startedAt: row.started_at ?? undefined,
    finishedAt: row.finished_at ?? undefined,
    nextAttemptAt: row.state === "queued" ? row.next_attempt_at : undefined,
    durationMs: row.duration_ms ?? undefined,
    statusCode: row.status_code ?? undefined,
    lastError: row.last_error ?? undefined,
    result:
      finished && row.result_headers !== null
        ? {
            headers: JSON.parse(row.result_headers) as Record<string, string | string[]>,
            body: row.result_body ?? Buffer.alloc(0),
            size: row.result_size ?? 0,
            truncated: (row.result_size ?? 0) > (row.result_body?.length ?? 0),
          }
        : undefined,
    callback:
      row.callback_url === null
        ? undefined
        : {
            url: row.callback_url,
            state: row.callback_state ?? undefined,
            attempts: row.callback_attempts,
            status: row.callback_status ?? undefined,
            error: row.callback_error ?? undefined,
          },
  };
}
