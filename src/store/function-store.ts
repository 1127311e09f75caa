/** Functions and their immutable revisions. A function points at its active revision. */
import type { FunctionSpec } from "../spec/function-spec.js";
import type { Awaitable } from "./awaitable.js";
import type { Db } from "./database.js";

export interface RevisionRecord {
  readonly functionName: string;
  readonly number: number;
  readonly spec: FunctionSpec;
  readonly packageDigest: string;
  readonly hash: string;
  readonly createdAt: number;
}

export interface FunctionRecord {
  readonly name: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly active: RevisionRecord;
}

interface RevisionRow {
  function_name: string;
  number: number;
  spec: string;
  package_digest: string;
  hash: string;
  created_at: number;
}

interface FunctionRow {
  name: string;
  active_revision: number;
  created_at: number;
  updated_at: number;
}

/**
 * What the platform uses of a function store. Reads answer at once (SQLite, or a cache of the
 * API server that each write goes through, so a replica reads its own writes); writes may
 * answer later and are awaited.
 */
export interface FunctionStore {
  get(name: string): FunctionRecord | undefined;
  list(): FunctionRecord[];
  revisions(name: string): RevisionRecord[];
  revision(name: string, number: number): RevisionRecord | undefined;
  /** Package digests some revision still uses, so unused packages can be collected. */
  referencedPackages(): Set<string>;
  /** Records a new revision (not yet active) and returns it. */
  addRevision(
    name: string,
    spec: FunctionSpec,
    packageDigest: string,
    hash: string,
  ): Awaitable<RevisionRecord>;
  /** Drops a revision that never became active (its code did not load). */
  discardRevision(name: string, number: number): Awaitable<void>;
  activate(name: string, number: number): Awaitable<void>;
  remove(name: string): Awaitable<boolean>;
  /**
   * Tells of functions another writer changed (another gateway replica, kubectl, the
   * operator); a store only this process writes has none.
   */
  onChange?(listener: (name: string) => void): () => void;
}

/** The embedded function store: two tables of the SQLite database. */
export class SqliteFunctionStore implements FunctionStore {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  get(name: string): FunctionRecord | undefined {
    const row = this.#db
      .prepare<[string], FunctionRow>(
        "SELECT * FROM functions WHERE name = ? AND active_revision IS NOT NULL",
      )
      .get(name);
    return row ? this.#withRevision(row) : undefined;
  }

  list(): FunctionRecord[] {
    return this.#db
      .prepare<[], FunctionRow>(
        "SELECT * FROM functions WHERE active_revision IS NOT NULL ORDER BY name",
      )
      .all()
      .map((row) => this.#withRevision(row));
  }

  revisions(name: string): RevisionRecord[] {
    return this.#db
      .prepare<[string], RevisionRow>(
        "SELECT * FROM revisions WHERE function_name = ? ORDER BY number",
      )
      .all(name)
      .map(toRevision);
  }

  revision(name: string, number: number): RevisionRecord | undefined {
    const row = this.#db
      .prepare<[string, number], RevisionRow>(
        "SELECT * FROM revisions WHERE function_name = ? AND number = ?",
      )
      .get(name, number);
    return row ? toRevision(row) : undefined;
  }

  /** Records a new revision (not yet active) and returns it. */
  addRevision(
    name: string,
    spec: FunctionSpec,
    packageDigest: string,
    hash: string,
  ): RevisionRecord {
    const now = Date.now();
    return this.#db.transaction(() => {
      this.#db
        .prepare(
          "INSERT INTO functions (name, active_revision, created_at, updated_at) VALUES (?, NULL, ?, ?) ON CONFLICT(name) DO NOTHING",
        )
        .run(name, now, now);
      const last = this.#db
        .prepare<[string], { n: number | null }>(
          "SELECT MAX(number) AS n FROM revisions WHERE function_name = ?",
        )
        .get(name);
      const number = (last?.n ?? 0) + 1;
      this.#db
        .prepare(
          "INSERT INTO revisions (function_name, number, spec, package_digest, hash, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .run(name, number, JSON.stringify(spec), packageDigest, hash, now);
      return { functionName: name, number, spec, packageDigest, hash, createdAt: now };
    })();
  }

  /** Drops a revision that never became active (its code did not load). */
  discardRevision(name: string, number: number): void {
    this.#db.transaction(() => {
      this.#db
        .prepare("DELETE FROM revisions WHERE function_name = ? AND number = ?")
        .run(name, number);
      this.#db
        .prepare("DELETE FROM functions WHERE name = ? AND active_revision IS NULL")
        .run(name);
    })();
  }

  activate(name: string, number: number): void {
    this.#db
      .prepare("UPDATE functions SET active_revision = ?, updated_at = ? WHERE name = ?")
      .run(number, Date.now(), name);
  }

  remove(name: string): boolean {
    return this.#db.transaction(() => {
      this.#db.prepare("DELETE FROM revisions WHERE function_name = ?").run(name);
      return this.#db.prepare("DELETE FROM functions WHERE name = ?").run(name).changes > 0;
    })();
  }

  /** Package digests some revision still uses, so unused packages can be collected. */
  referencedPackages(): Set<string> {
    return new Set(
      this.#db
        .prepare<[], { package_digest: string }>("SELECT DISTINCT package_digest FROM revisions")
        .all()
        .map((row) => row.package_digest),
    );
  }

  #withRevision(row: FunctionRow): FunctionRecord {
    const active = this.revision(row.name, row.active_revision);
    if (!active) {
      throw new Error(`function ${row.name} points at missing revision ${row.active_revision}`);
    }
    return { name: row.name, createdAt: row.created_at, updatedAt: row.updated_at, active };
  }
}

function toRevision(row: RevisionRow): RevisionRecord {
  return {
    functionName: row.function_name,
    number: row.number,
    spec: JSON.parse(row.spec) as FunctionSpec,
    packageDigest: row.package_digest,
    hash: row.hash,
    createdAt: row.created_at,
  };
}
