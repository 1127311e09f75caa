/**
 * The embedded secret and config stores: keys of any bytes, secrets written before keys existed
 * still read as the one value under their own name, keys that could not be file names refused.
 */
import { createCipheriv, randomBytes } from "node:crypto";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SqliteConfigStore } from "../../src/store/config-store.js";
import { openDatabase } from "../../src/store/database.js";
import { SqliteSecretStore } from "../../src/store/secret-store.js";
import { tempDir } from "../helpers/runlet.js";

const bytes = Buffer.from([0xff, 0x00, 0x80]);

describe("the SQLite secret store", () => {
  it("keeps keys of any bytes, encrypted", async () => {
    const db = openDatabase(join(await tempDir(), "runlet.db"));
    const store = new SqliteSecretStore(db, randomBytes(32));
    expect(store.put("tls", { "tls.key": bytes, user: Buffer.from("admin") })).toEqual({
      created: true,
    });
    expect(store.reveal(["tls"])).toEqual({
      tls: { "tls.key": bytes, user: Buffer.from("admin") },
    });
    const row = db.prepare("SELECT ciphertext FROM secrets WHERE name = 'tls'").get() as {
      ciphertext: Buffer;
    };
    expect(row.ciphertext.includes(Buffer.from("admin"))).toBe(false);
    expect(row.ciphertext.includes(Buffer.from(bytes.toString("base64")))).toBe(false);
    db.close();
  });

  it("reads a secret stored before keys existed as the one value under its own name", async () => {
    const db = openDatabase(join(await tempDir(), "runlet.db"));
    const key = randomBytes(32);
    // A row as earlier versions wrote it: the value itself encrypted, keyed left at its default.
    const nonce = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", key, nonce);
    cipher.setAAD(Buffer.from("api-key"));
    const ciphertext = Buffer.concat([cipher.update("old value", "utf8"), cipher.final()]);
    db.prepare(
      "INSERT INTO secrets (name, nonce, ciphertext, tag, created_at, updated_at) VALUES (?, ?, ?, ?, 0, 0)",
    ).run("api-key", nonce, ciphertext, cipher.getAuthTag());
    const store = new SqliteSecretStore(db, key);
    expect(store.reveal(["api-key"])).toEqual({
      "api-key": { "api-key": Buffer.from("old value") },
    });
    db.close();
  });

  it("refuses keys that are not file names", async () => {
    const db = openDatabase(join(await tempDir(), "runlet.db"));
    const store = new SqliteSecretStore(db, randomBytes(32));
    for (const key of ["../x", "a/b", "..", ""]) {
      expect(() => store.put("s", { [key]: bytes }), key).toThrow(
        /Invalid secret key|at least one/,
      );
    }
    expect(() => store.put("s", {})).toThrow(/needs at least one key/);
    expect(store.has("s")).toBe(false);
    db.close();
  });
});

describe("the SQLite config store", () => {
  it("keeps keys of any bytes, and says which ones it has", async () => {
    const db = openDatabase(join(await tempDir(), "runlet.db"));
    const store = new SqliteConfigStore(db);
    expect(store.put("settings", { mode: Buffer.from("fast"), raw: bytes })).toEqual({
      created: true,
    });
    expect(store.put("settings", { mode: Buffer.from("slow"), raw: bytes })).toEqual({
      created: false,
    });
    expect(store.get("settings")).toEqual({ mode: Buffer.from("slow"), raw: bytes });
    expect(store.list().map((c) => [c.name, c.keys])).toEqual([["settings", ["mode", "raw"]]]);
    expect(() => store.reveal(["other"])).toThrow(/Config map other does not exist/);
    expect(store.remove("settings")).toBe(true);
    expect(store.has("settings")).toBe(false);
    db.close();
  });
});
