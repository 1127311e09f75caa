/**
 * The audit log (issue 18): every control action, appended in order, each entry holding the
 * hash of the one before, so an entry changed or removed in place breaks the chain from there
 * on and `verify()` says where. The embedded log is a SQLite table; in Kubernetes mode each
 * gateway appends to a chain of its own in ConfigMaps (kubernetes/kubernetes-audit-log.ts).
 */
import { createHash } from "node:crypto";
import type { Awaitable } from "./awaitable.js";
import type { Db } from "./database.js";

/** What is recorded of an action. */
export interface AuditEvent {
  readonly time: number;
  /** "admin" (the admin token), a token's name, or "anonymous" (no valid credential). */
  readonly actor: string;
  readonly namespace: string;
  /** e.g. "PUT /api/v1/functions/:name". */
  readonly action: string;
  /** e.g. "function hello". */
  readonly object: string;
  /** "ok", or why it was refused or failed. */
  readonly result: string;
  readonly status: number;
}

export interface AuditEntry extends AuditEvent {
  /**
   * The chain it is in, where there are several (Kubernetes mode: one per gateway process);
   * `seq` counts within it. Not hashed: it is where the entry is kept, not what it says.
   */
  readonly chain?: string;
  readonly seq: number;
  readonly prevHash: string;
  readonly hash: string;
}

export type AuditVerification =
  | { readonly ok: true; readonly entries: number }
  | {
      readonly ok: false;
      readonly entries: number;
      /** The first entry whose hash or link does not match. */
      readonly brokenAt: number;
      readonly reason: string;
    };

export interface AuditQuery {
  /** Entries at or after this time (epoch ms). */
  readonly since?: number;
  /** Only entries of this namespace. */
  readonly namespace?: string;
  /** The newest this many. @default 1000 */
  readonly limit?: number;
}

export interface AuditLog {
  append(event: AuditEvent): Awaitable<AuditEntry>;
  /** Oldest first. */
  list(query?: AuditQuery): AuditEntry[];
  /** Recomputes the whole chain. */
  verify(): AuditVerification;
}

/** The hash before the first entry. */
export const auditGenesis = "0".repeat(64);

/** An entry's hash: over the previous hash and every recorded field, in a fixed order. */
export function auditHash(seq: number, prevHash: string, event: AuditEvent): string {
  const canonical = JSON.stringify([
    seq,
    prevHash,
    event.time,
    event.actor,
    event.namespace,
    event.action,
    event.object,
    event.result,
    event.status,
  ]);
  return createHash("sha256").update(canonical).digest("hex");
}

/** Checks a chain, oldest first, from its first entry. */
export function verifyChain(entries: Iterable<AuditEntry>): AuditVerification {
  let prev = auditGenesis;
  let expectedSeq = 1;
  let count = 0;
  for (const entry of entries) {
    count += 1;
    if (entry.seq !== expectedSeq) {
      return {
        ok: false,
        entries: count,
        brokenAt: entry.seq,
        reason: `entry ${expectedSeq} is missing`,
      };
    }
    if (entry.prevHash !== prev) {
      return {
        ok: false,
        entries: count,
        brokenAt: entry.seq,
        reason: `entry ${entry.seq} does not link to the entry before it`,
      };
    }
    if (auditHash(entry.seq, entry.prevHash, entry) !== entry.hash) {
      return {
        ok: false,
        entries: count,
        brokenAt: entry.seq,
        reason: `entry ${entry.seq} was changed after it was written`,
      };
    }
    prev = entry.hash;
    expectedSeq += 1;
  }
  return { ok: true, entries: count };
}

interface AuditRow {
  seq: number;
  time: number;
  actor: string;
  namespace: string;
  action: string;
  object: string;
  result: string;
  status: number;
  prev_hash: string;
  hash: string;
}

function entryOf(row: AuditRow): AuditEntry {
  return {
    seq: row.seq,
    time: row.time,
    actor: row.actor,
    namespace: row.namespace,
    action: row.action,
    object: row.object,
    result: row.result,
    status: row.status,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

/** The embedded audit log: rows of the SQLite database, appended in one transaction each. */
export class SqliteAuditLog implements AuditLog {
  readonly #db: Db;
  readonly #append: (event: AuditEvent) => AuditEntry;

  constructor(db: Db) {
    this.#db = db;
    const last = db.prepare<[], AuditRow>("SELECT * FROM audit_log ORDER BY seq DESC LIMIT 1");
    const insert = db.prepare(
      `INSERT INTO audit_log (seq, time, actor, namespace, action, object, result, status, prev_hash, hash)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    // Read the head and write after it in one transaction: another process on the same file
    // (a second connection) cannot fork the chain.
    this.#append = db.transaction((event: AuditEvent) => {
      const head = last.get();
      const seq = (head?.seq ?? 0) + 1;
      const prevHash = head?.hash ?? auditGenesis;
      const hash = auditHash(seq, prevHash, event);
      insert.run(
        seq,
        event.time,
        event.actor,
        event.namespace,
        event.action,
        event.object,
        event.result,
        event.status,
        prevHash,
        hash,
      );
      return { ...event, seq, prevHash, hash };
    });
  }

  append(event: AuditEvent): AuditEntry {
    return this.#append(event);
  }

  list(query: AuditQuery = {}): AuditEntry[] {
    const rows = this.#db
      .prepare<[number, string | null, string | null, number], AuditRow>(
        `SELECT * FROM (
           SELECT * FROM audit_log WHERE time >= ? AND (? IS NULL OR namespace = ?)
           ORDER BY seq DESC LIMIT ?
         ) ORDER BY seq`,
      )
      .all(query.since ?? 0, query.namespace ?? null, query.namespace ?? null, query.limit ?? 1000);
    return rows.map(entryOf);
  }

  verify(): AuditVerification {
    const rows = this.#db.prepare<[], AuditRow>("SELECT * FROM audit_log ORDER BY seq").iterate();
    return verifyChain(
      (function* () {
        for (const row of rows) {
          yield entryOf(row);
        }
      })(),
    );
  }
}
