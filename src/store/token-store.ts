/**
 * Scoped API tokens and function invoke keys (issue 18), kept only as SHA-256 digests: a token
 * is shown once when made and can never be read back. The embedded store is a SQLite table;
 * in Kubernetes mode one Secret per token (kubernetes/kubernetes-token-store.ts).
 */
import { UserError } from "../errors.js";
import type { Awaitable } from "./awaitable.js";
import type { Db } from "./database.js";

export interface TokenRecord {
  /** Unique across namespaces: it is the Basic auth user name. */
  readonly name: string;
  readonly namespace: string;
  readonly role: "admin" | "deployer" | "invoker" | "viewer";
  /** Set for a function's invoke key (role invoker): the one function it calls. */
  readonly function: string | undefined;
  /** Hex SHA-256 of the token. */
  readonly digest: string;
  readonly createdAt: number;
  /** Who made it (a token name, or "admin"). */
  readonly createdBy: string;
  readonly expiresAt: number | undefined;
  /** Most requests it makes, e.g. "100/s"; undefined: no limit of its own. */
  readonly rate?: string | undefined;
}

/** What the platform uses of a token store (reads at once, writes awaited). */
export interface TokenStore {
  /** Adds a token; a name in use is RUNLET_ALREADY_EXISTS. */
  create(record: TokenRecord): Awaitable<void>;
  findByDigest(digest: string): TokenRecord | undefined;
  get(name: string): TokenRecord | undefined;
  list(): TokenRecord[];
  remove(name: string): Awaitable<boolean>;
  /** Removes the invoke keys of a function (it was removed); returns how many. */
  removeFunctionKeys(namespace: string, functionName: string): Awaitable<number>;
}

export function tokenNameTaken(name: string): UserError {
  return new UserError(
    "RUNLET_ALREADY_EXISTS",
    `A token named ${name} already exists; pick another name, or revoke it first: runlet token revoke ${name}`,
  );
}

interface TokenRow {
  name: string;
  namespace: string;
  role: TokenRecord["role"];
  function_name: string | null;
  digest: string;
  created_at: number;
  created_by: string;
  expires_at: number | null;
  rate: string | null;
}

function recordOf(row: TokenRow): TokenRecord {
  return {
    name: row.name,
    namespace: row.namespace,
    role: row.role,
    function: row.function_name ?? undefined,
    digest: row.digest,
    createdAt: row.created_at,
    createdBy: row.created_by,
    expiresAt: row.expires_at ?? undefined,
    rate: row.rate ?? undefined,
  };
}

/** The embedded token store: rows of the SQLite database. */
export class SqliteTokenStore implements TokenStore {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  create(record: TokenRecord): void {
    if (this.get(record.name)) {
      throw tokenNameTaken(record.name);
    }
    this.#db
      .prepare(
        `INSERT INTO tokens (name, namespace, role, function_name, digest, created_at, created_by, expires_at, rate)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        record.name,
        record.namespace,
        record.role,
        record.function ?? null,
        record.digest,
        record.createdAt,
        record.createdBy,
        record.expiresAt ?? null,
        record.rate ?? null,
      );
  }

  findByDigest(digest: string): TokenRecord | undefined {
    const row = this.#db
      .prepare<[string], TokenRow>("SELECT * FROM tokens WHERE digest = ?")
      .get(digest);
    return row ? recordOf(row) : undefined;
  }

  get(name: string): TokenRecord | undefined {
    const row = this.#db
      .prepare<[string], TokenRow>("SELECT * FROM tokens WHERE name = ?")
      .get(name);
    return row ? recordOf(row) : undefined;
  }

  list(): TokenRecord[] {
    return this.#db
      .prepare<[], TokenRow>("SELECT * FROM tokens ORDER BY namespace, name")
      .all()
      .map(recordOf);
  }

  remove(name: string): boolean {
    return this.#db.prepare("DELETE FROM tokens WHERE name = ?").run(name).changes > 0;
  }

  removeFunctionKeys(namespace: string, functionName: string): number {
    return this.#db
      .prepare("DELETE FROM tokens WHERE namespace = ? AND function_name = ?")
      .run(namespace, functionName).changes;
  }
}
