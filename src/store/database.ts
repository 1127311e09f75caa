/** The embedded store: one SQLite database (WAL) in the data directory, migrated on open. */
import { chmodSync, closeSync, existsSync, openSync } from "node:fs";
import Database from "better-sqlite3";

export type Db = Database.Database;

/** Each entry runs once, in order; append only, never edit a shipped migration. */
const migrations: readonly string[] = [
  `
  CREATE TABLE functions (
    name TEXT PRIMARY KEY,
    active_revision INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE TABLE revisions (
    function_name TEXT NOT NULL,
    number INTEGER NOT NULL,
    spec TEXT NOT NULL,
    package_digest TEXT NOT NULL,
    hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (function_name, number)
  );
  CREATE TABLE packages (
    digest TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE secrets (
    name TEXT PRIMARY KEY,
    nonce BLOB NOT NULL,
    ciphertext BLOB NOT NULL,
    tag BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE TABLE logs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    function_name TEXT NOT NULL,
    instance TEXT NOT NULL,
    call_id TEXT,
    stream TEXT NOT NULL,
    time INTEGER NOT NULL,
    text TEXT NOT NULL
  );
  CREATE INDEX logs_by_function ON logs (function_name, id);
  `,
  `
  CREATE TABLE calls (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    function_name TEXT NOT NULL,
    source TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    headers TEXT NOT NULL,
    body BLOB NOT NULL,
    callback_url TEXT,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until INTEGER,
    created_at INTEGER NOT NULL,
    started_at INTEGER,
    finished_at INTEGER,
    duration_ms REAL,
    status_code INTEGER,
    last_error TEXT,
    result_headers TEXT,
    result_body BLOB,
    result_size INTEGER,
    callback_state TEXT,
    callback_attempts INTEGER NOT NULL DEFAULT 0,
    callback_next_at INTEGER,
    callback_status INTEGER,
    callback_error TEXT
  );
  CREATE INDEX calls_ready ON calls (state, function_name, next_attempt_at);
  CREATE INDEX calls_by_function ON calls (function_name, seq);
  CREATE INDEX calls_callbacks ON calls (callback_state, callback_next_at);
  CREATE INDEX calls_finished ON calls (finished_at);
  `,
  // Triggers (docs/triggers.md): "spec" ones come with a function's deploy, "api" ones are
  // created on their own. cron_firings keeps the last firing so a restart fires nothing twice.
  `
  CREATE TABLE triggers (
    name TEXT PRIMARY KEY,
    function_name TEXT NOT NULL,
    target TEXT NOT NULL,
    origin TEXT NOT NULL,
    spec TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX triggers_by_function ON triggers (function_name);
  CREATE TABLE cron_firings (
    trigger_name TEXT PRIMARY KEY,
    schedule TEXT NOT NULL,
    anchor INTEGER NOT NULL,
    last_fired INTEGER NOT NULL
  );
  `,
  // Async calls: partial indexes, so a call's index entries change only when it enters or
  // leaves the state an index serves (fewer pages written per state change), and a
  // queue-wide "next due" lookup.
  `
  DROP INDEX calls_ready;
  DROP INDEX calls_callbacks;
  DROP INDEX calls_finished;
  CREATE INDEX calls_by_state ON calls (state, seq);
  CREATE INDEX calls_ready ON calls (function_name, next_attempt_at) WHERE state = 'queued';
  CREATE INDEX calls_due ON calls (next_attempt_at) WHERE state = 'queued';
  CREATE INDEX calls_running ON calls (lease_until) WHERE state = 'running';
  CREATE INDEX calls_callbacks ON calls (callback_next_at) WHERE callback_state = 'pending';
  CREATE INDEX calls_finished ON calls (finished_at) WHERE finished_at IS NOT NULL;
  `,
  // Credential headers of async calls are kept sealed with the secrets key, never in plain
  // text (issue 13); those stored in plain text before are dropped.
  `
  ALTER TABLE calls ADD COLUMN sealed_headers BLOB;
  UPDATE calls SET headers = json_remove(headers, '$.authorization', '$.cookie')
    WHERE json_type(headers, '$.authorization') IS NOT NULL
       OR json_type(headers, '$.cookie') IS NOT NULL;
  `,
  // Scoped API tokens and function invoke keys, kept as SHA-256 digests only, and the
  // hash-chained audit log of control actions (issue 18).
  `
  CREATE TABLE tokens (
    name TEXT PRIMARY KEY,
    namespace TEXT NOT NULL,
    role TEXT NOT NULL,
    function_name TEXT,
    digest TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    expires_at INTEGER
  );
  CREATE INDEX tokens_by_function ON tokens (namespace, function_name);
  CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,
    time INTEGER NOT NULL,
    actor TEXT NOT NULL,
    namespace TEXT NOT NULL,
    action TEXT NOT NULL,
    object TEXT NOT NULL,
    result TEXT NOT NULL,
    status INTEGER NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
  );
  CREATE INDEX audit_by_time ON audit_log (time);
  `,
  // Secrets hold keys (Fission reads each at /secrets/<ns>/<name>/<key>); rows written before
  // are one value under the secret's own name. Config maps: keys of values that are not secret.
  `
  ALTER TABLE secrets ADD COLUMN keyed INTEGER NOT NULL DEFAULT 0;
  CREATE TABLE configs (
    name TEXT PRIMARY KEY,
    data BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  `,
  // A token's own rate limit ("100/s"), issue 18.
  `
  ALTER TABLE tokens ADD COLUMN rate TEXT;
  `,
  // Image tags: an image name standing for a package and its shape (issue 17).
  `
  CREATE TABLE image_tags (
    image TEXT PRIMARY KEY,
    package_digest TEXT NOT NULL,
    shape TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  `,
  // Namespace quotas: most functions, instances and memory per namespace (issue 18).
  `
  CREATE TABLE namespace_quotas (
    namespace TEXT PRIMARY KEY,
    quota TEXT NOT NULL,
    updated_at INTEGER NOT NULL
  );
  `,
];

export function openDatabase(path: string): Db {
  // Only the platform's user reads the store (issue 13): SQLite creates the -wal and -shm
  // files with the database file's mode, and keeps the mode of ones that exist already.
  const onDisk = path !== ":memory:";
  if (onDisk) {
    closeSync(openSync(path, "a", 0o600));
    chmodSync(path, 0o600);
  }
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  for (const companion of onDisk ? [`${path}-wal`, `${path}-shm`] : []) {
    if (existsSync(companion)) {
      chmodSync(companion, 0o600);
    }
  }
  db.pragma("synchronous = NORMAL");
  db.pragma("foreign_keys = ON");
  db.pragma("busy_timeout = 5000");
  migrate(db);
  return db;
}

function migrate(db: Db): void {
  const current = db.pragma("user_version", { simple: true }) as number;
  for (let version = current; version < migrations.length; version += 1) {
    const sql = migrations[version];
    if (sql === undefined) {
      break;
    }
    db.transaction(() => {
      db.exec(sql);
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
}
