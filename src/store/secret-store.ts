/**
 * Secrets, encrypted at rest with AES-256-GCM under a key kept in the data directory (0600).
 * Values leave the store only towards instances of functions that name them.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { UserError } from "../errors.js";
import type { Awaitable } from "./awaitable.js";
import type { Db } from "./database.js";

export interface SecretInfo {
  readonly name: string;
  readonly createdAt: number;
  readonly updatedAt: number;
}

interface SecretRow {
  name: string;
  nonce: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
  created_at: number;
  updated_at: number;
}

/** What the platform uses of a secret store (reads at once, writes awaited). */
export interface SecretStore {
  /** Creates or replaces a secret; returns whether it existed before. */
  put(name: string, value: string): Awaitable<{ created: boolean }>;
  has(name: string): boolean;
  list(): SecretInfo[];
  remove(name: string): Awaitable<boolean>;
  /** The values of the named secrets; a missing one is an error naming it. */
  reveal(names: readonly string[]): Record<string, string>;
}

/** The message for a secret a function names that does not exist (every store says it so). */
export function secretNotFound(name: string): UserError {
  return new UserError(
    "RUNLET_SECRET_NOT_FOUND",
    `Secret ${name} does not exist; create it with: runlet secret create ${name} --from-literal VALUE`,
  );
}

/** The embedded secret store: encrypted rows of the SQLite database. */
export class SqliteSecretStore implements SecretStore {
  readonly #db: Db;
  readonly #key: Buffer;

  constructor(db: Db, key: Buffer) {
    if (key.length !== 32) {
      throw new Error("the secrets key must be 32 bytes");
    }
    this.#db = db;
    this.#key = key;
  }

  /** Creates or replaces a secret; returns whether it existed before. */
  put(name: string, value: string): { created: boolean } {
    const nonce = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.#key, nonce);
    // The name is authenticated too, so a row copied under another name does not decrypt.
    cipher.setAAD(Buffer.from(name));
    const ciphertext = Buffer.concat([cipher.update(value, "utf8"), cipher.final()]);
    const tag = cipher.getAuthTag();
    const now = Date.now();
    const existed =
      this.#db.prepare("SELECT 1 FROM secrets WHERE name = ?").get(name) !== undefined;
    this.#db
      .prepare(
        `INSERT INTO secrets (name, nonce, ciphertext, tag, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT(name) DO UPDATE SET nonce = excluded.nonce, ciphertext = excluded.ciphertext, tag = excluded.tag, updated_at = excluded.updated_at`,
      )
      .run(name, nonce, ciphertext, tag, now, now);
    return { created: !existed };
  }

  has(name: string): boolean {
    return this.#db.prepare("SELECT 1 FROM secrets WHERE name = ?").get(name) !== undefined;
  }

  list(): SecretInfo[] {
    return this.#db
      .prepare<[], SecretRow>("SELECT * FROM secrets ORDER BY name")
      .all()
      .map((row) => ({ name: row.name, createdAt: row.created_at, updatedAt: row.updated_at }));
  }

  remove(name: string): boolean {
    return this.#db.prepare("DELETE FROM secrets WHERE name = ?").run(name).changes > 0;
  }

  /** Decrypts the named secrets; a missing one is an error naming it. */
  reveal(names: readonly string[]): Record<string, string> {
    const values: Record<string, string> = {};
    for (const name of names) {
      const row = this.#db
        .prepare<[string], SecretRow>("SELECT * FROM secrets WHERE name = ?")
        .get(name);
      if (!row) {
        throw secretNotFound(name);
      }
      const decipher = createDecipheriv("aes-256-gcm", this.#key, row.nonce);
      decipher.setAAD(Buffer.from(name));
      decipher.setAuthTag(row.tag);
      values[name] = Buffer.concat([decipher.update(row.ciphertext), decipher.final()]).toString(
        "utf8",
      );
    }
    return values;
  }
}
