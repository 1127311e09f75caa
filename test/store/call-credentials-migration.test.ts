/**
 * Async calls stored by earlier versions kept their credential headers in plain text; the
 * migration that seals new ones drops those (issue 13).
 */
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { openDatabase } from "../../src/store/database.js";
import { tempDir } from "../helpers/runlet.js";

describe("the credential-headers migration", () => {
  it("drops Authorization and Cookie stored in plain text, and keeps the other headers", async () => {
    const path = join(await tempDir(), "runlet.db");
    openDatabase(path).close();
    // Back to the schema before the migration, with a call as it was stored then.
    const old = new Database(path);
    old.exec("ALTER TABLE calls DROP COLUMN sealed_headers");
    // And before the later ones (tokens and audit log, secret keys and config maps, image tags),
    // which run again after it: a migration added later must be undone here too.
    old.exec(
      "DROP TABLE tokens; DROP TABLE audit_log; ALTER TABLE secrets DROP COLUMN keyed; DROP TABLE configs; DROP TABLE image_tags; DROP TABLE namespace_quotas;",
    );
    old
      .prepare(
        `INSERT INTO calls (id, function_name, source, method, path, headers, body, state,
           next_attempt_at, created_at) VALUES ('c1', 'fn', 'http', 'POST', '/', ?, x'', 'queued', 0, 0)`,
      )
      .run(
        JSON.stringify({
          authorization: "Bearer old-admin-token",
          cookie: "session=old",
          "content-type": "text/plain",
        }),
      );
    // The migration that seals credential headers is the fifth (migrations are append-only).
    old.pragma("user_version = 4");
    old.close();

    const db = openDatabase(path);
    const row = db.prepare("SELECT headers, sealed_headers FROM calls WHERE id = 'c1'").get() as {
      headers: string;
      sealed_headers: Buffer | null;
    };
    db.close();
    expect(JSON.parse(row.headers)).toEqual({ "content-type": "text/plain" });
    expect(row.sealed_headers).toBeNull();
  });
});
