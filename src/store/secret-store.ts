/**
 * Secrets, encrypted at rest with AES-256-GCM under a key kept in the data directory (0600).
 * Values leave the store only towards instances of functions that name them.
 *
 * A secret holds one or more keys, each a value of bytes (as a Kubernetes Secret does): the
 * one-value form (`runlet secret create NAME --from-literal V`, OpenFaaS secrets) is the key of
 * the secret's own name, so it is read at /var/openfaas/secrets/NAME; Fission reads every key
 * at /secrets/<namespace>/NAME/<key>.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { UserError } from "../errors.js";
import type { Awaitable } from "./awaitable.js";
import type { Db } from "./database.js";

/** A secret's (or config map's) keys and their bytes. */
export type KeyedValues = Readonly<Record<string, Buffer>>;

/** A key of a secret or config map: a file name, as Kubernetes allows it (no path, not `.`/`..`). */
export const valueKeyPattern = /^[-._a-zA-Z0-9]{1,253}$/;

/** The one-value form: the value under the key of the secret's own name. */
export function singleValue(name: string, value: Buffer | string): KeyedValues {
  return { [name]: typeof value === "string" ? Buffer.from(value, "utf8") : value };
}

/** Refuses keys that could not be file names (every store and the API check the same way). */
export function assertValueKeys(values: KeyedValues, what: string): void {
  const keys = Object.keys(values);
  if (keys.length === 0) {
    throw new UserError("RUNLET_INVALID_REQUEST", `A ${what} needs at least one key.`);
  }
  for (const key of keys) {
    if (!valueKeyPattern.test(key) || key === "." || key === "..") {
      throw new UserError(
        "RUNLET_INVALID_REQUEST",
        `Invalid ${what} key ${JSON.stringify(key)}: use letters, digits, '-', '_' and '.' (it becomes a file name).`,
      );
    }
  }
}

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
  /** 0: the plain text is the one value (rows written before keys); 1: the keys as JSON. */
  keyed: number;
  created_at: number;
  updated_at: number;
}

/** What the platform uses of a secret store (reads at once, writes awaited). */
export interface SecretStore {
  /** Creates or replaces a secret; returns whether it existed before. */
  put(name: string, values: KeyedValues): Awaitable<{ created: boolean }>;
  has(name: string): boolean;
  list(): SecretInfo[];
  remove(name: string): Awaitable<boolean>;
  /** The keys and values of the named secrets; a missing one is an error naming it. */
  reveal(names: readonly string[]): Record<string, KeyedValues>;
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
  put(name: string, values: KeyedValues): { created: boolean } {
    assertValueKeys(values, "secret");
    const value = encodeKeyedValues(values);
    const nonce = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.#key, nonce);
    // The name is authenticated too, so a row copied under another name does not decrypt.
    cipher.setAAD(Buffer.from(name));
    const ciphertext = Buffer.concat([cipher.update(value), cipher.final()]);
    const tag = cipher.getAuthTag();
    const now = Date.now();
    const existed =
      this.#db.prepare("SELECT 1 FROM secrets WHERE name = ?").get(name) !== undefined;
    this.#db
      .prepare(
        `INSERT INTO secrets (name, nonce, ciphertext, tag, keyed, created_at, updated_at) VALUES (?, ?, ?, ?, 1, ?, ?)
         ON CONFLICT(name) DO UPDATE SET nonce = excluded.nonce, ciphertext = excluded.ciphertext, tag = excluded.tag, keyed = 1, updated_at = excluded.updated_at`,
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
  reveal(names: readonly string[]): Record<string, KeyedValues> {
    const values: Record<string, KeyedValues> = {};
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
      const plain = Buffer.concat([decipher.update(row.ciphertext), decipher.final()]);
      values[name] = row.keyed === 1 ? decodeKeyedValues(plain) : singleValue(name, plain);
    }
    return values;
  }
}

/** Keys and values as JSON with base64 values, so any bytes survive. */
export function encodeKeyedValues(values: KeyedValues): Buffer {
  const encoded: Record<string, string> = {};
  for (const [key, value] of Object.entries(values)) {
    encoded[key] = value.toString("base64");
  }
  return Buffer.from(JSON.stringify(encoded), "utf8");
}

export function decodeKeyedValues(bytes: Buffer): KeyedValues {
  const encoded = JSON.parse(bytes.toString("utf8")) as Record<string, string>;
  const values: Record<string, Buffer> = {};
  for (const [key, value] of Object.entries(encoded)) {
    values[key] = Buffer.from(value, "base64");
  }
  return values;
}
