/**
 * Config maps: named sets of keys and values that are not secret (settings a function reads as
 * files, as Fission mounts a Kubernetes ConfigMap at /configs/<namespace>/<name>/<key>). Kept in
 * plain text and shown to whoever may manage the platform; secrets belong in the secret store.
 */
import { UserError } from "../errors.js";
import type { Awaitable } from "./awaitable.js";
import type { Db } from "./database.js";
import {
  assertValueKeys,
  decodeKeyedValues,
  encodeKeyedValues,
  type KeyedValues,
} from "./secret-store.js";

export interface ConfigInfo {
  readonly name: string;
  readonly keys: readonly string[];
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** What the platform uses of a config store (reads at once, writes awaited). */
export interface ConfigStore {
  /** Creates or replaces a config map; returns whether it existed before. */
  put(name: string, values: KeyedValues): Awaitable<{ created: boolean }>;
  has(name: string): boolean;
  get(name: string): KeyedValues | undefined;
  list(): ConfigInfo[];
  remove(name: string): Awaitable<boolean>;
  /** The keys and values of the named config maps; a missing one is an error naming it. */
  reveal(names: readonly string[]): Record<string, KeyedValues>;
}

export function configNotFound(name: string): UserError {
  return new UserError(
    "RUNLET_CONFIG_NOT_FOUND",
    `Config map ${name} does not exist; create it with: runlet config create ${name} --key KEY=VALUE`,
  );
}

/** Every store's reveal: each name's values, or the error naming the first one missing. */
export function revealEach(
  names: readonly string[],
  get: (name: string) => KeyedValues | undefined,
): Record<string, KeyedValues> {
  const values: Record<string, KeyedValues> = {};
  for (const name of names) {
    const found = get(name);
    if (!found) {
      throw configNotFound(name);
    }
    values[name] = found;
  }
  return values;
}

interface ConfigRow {
  name: string;
  data: Buffer;
  created_at: number;
  updated_at: number;
}

/** The embedded config store: rows of the SQLite database. */
export class SqliteConfigStore implements ConfigStore {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  put(name: string, values: KeyedValues): { created: boolean } {
    assertValueKeys(values, "config map");
    const existed = this.has(name);
    const now = Date.now();
    this.#db
      .prepare(
        `INSERT INTO configs (name, data, created_at, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT(name) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at`,
      )
      .run(name, encodeKeyedValues(values), now, now);
    return { created: !existed };
  }

  has(name: string): boolean {
    return this.#db.prepare("SELECT 1 FROM configs WHERE name = ?").get(name) !== undefined;
  }

  get(name: string): KeyedValues | undefined {
    const row = this.#db
      .prepare<[string], ConfigRow>("SELECT * FROM configs WHERE name = ?")
      .get(name);
    return row ? decodeKeyedValues(row.data) : undefined;
  }

  list(): ConfigInfo[] {
    return this.#db
      .prepare<[], ConfigRow>("SELECT * FROM configs ORDER BY name")
      .all()
      .map((row) => ({
        name: row.name,
        keys: Object.keys(decodeKeyedValues(row.data)).sort(),
        createdAt: row.created_at,
        updatedAt: row.updated_at,
      }));
  }

  remove(name: string): boolean {
    return this.#db.prepare("DELETE FROM configs WHERE name = ?").run(name).changes > 0;
  }

  reveal(names: readonly string[]): Record<string, KeyedValues> {
    return revealEach(names, (name) => this.get(name));
  }
}
