/** Triggers and the last firing of each cron trigger, in SQLite. */
import type { TriggerSpec } from "../spec/trigger-spec.js";
import type { Awaitable } from "./awaitable.js";
import type { Db } from "./database.js";

/** "spec": declared in a function's spec, replaced on each deploy; "api": created on its own. */
export type TriggerOrigin = "spec" | "api";

export interface TriggerRecord {
  readonly name: string;
  /** The function the trigger belongs to (removed with it). */
  readonly functionName: string;
  /** What it calls: "hello", or "hello@3" for one revision. */
  readonly target: string;
  readonly origin: TriggerOrigin;
  readonly spec: TriggerSpec;
  readonly createdAt: number;
}

interface TriggerRow {
  name: string;
  function_name: string;
  target: string;
  origin: string;
  spec: string;
  created_at: number;
}

/** When a cron trigger last fired, so a firing runs once however many schedulers race. */
export interface CronFirings {
  /**
   * The cron state of a trigger for `schedule`: the grid anchor of `@every` and the last
   * firing. A trigger seen for the first time, or whose schedule changed, starts afresh at
   * `now` (a new schedule has missed nothing).
   */
  cronState(name: string, schedule: string, now: number): { anchor: number; lastFired: number };
  /**
   * Claims the firing at `time`: true only for the first claimer and only if no later firing
   * was recorded, so a firing runs at most once however many schedulers race for it.
   */
  claimFiring(name: string, time: number): boolean;
}

/** What the platform uses of a trigger store (reads at once, writes awaited). */
export interface TriggerStore extends CronFirings {
  list(): TriggerRecord[];
  get(name: string): TriggerRecord | undefined;
  insert(record: TriggerRecord): Awaitable<void>;
  /** Replaces the triggers a function's spec declares. */
  replaceSpecTriggers(functionName: string, records: readonly TriggerRecord[]): Awaitable<void>;
  remove(name: string): Awaitable<boolean>;
  /** Removes every trigger of a function; returns their names. */
  removeFunction(functionName: string): Awaitable<string[]>;
  /** Tells of triggers another writer changed; a store only this process writes has none. */
  onChange?(listener: (name: string) => void): () => void;
}

/** The embedded trigger store: SQLite tables, the cron firings among them. */
export class SqliteTriggerStore implements TriggerStore {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  list(): TriggerRecord[] {
    return this.#db
      .prepare<[], TriggerRow>("SELECT * FROM triggers ORDER BY name")
      .all()
      .map(toRecord);
  }

  get(name: string): TriggerRecord | undefined {
    const row = this.#db
      .prepare<[string], TriggerRow>("SELECT * FROM triggers WHERE name = ?")
      .get(name);
    return row ? toRecord(row) : undefined;
  }

  insert(record: TriggerRecord): void {
    this.#db
      .prepare(
        "INSERT INTO triggers (name, function_name, target, origin, spec, created_at) VALUES (?, ?, ?, ?, ?, ?)",
      )
      .run(
        record.name,
        record.functionName,
        record.target,
        record.origin,
        JSON.stringify(record.spec),
        record.createdAt,
      );
  }

  /** Replaces the triggers a function's spec declares, in one transaction. */
  replaceSpecTriggers(functionName: string, records: readonly TriggerRecord[]): void {
    this.#db.transaction(() => {
      this.#db
        .prepare("DELETE FROM triggers WHERE function_name = ? AND origin = 'spec'")
        .run(functionName);
      for (const record of records) {
        this.insert(record);
      }
    })();
  }

  remove(name: string): boolean {
    return this.#db.transaction(() => {
      this.#db.prepare("DELETE FROM cron_firings WHERE trigger_name = ?").run(name);
      return this.#db.prepare("DELETE FROM triggers WHERE name = ?").run(name).changes > 0;
    })();
  }

  /** Removes every trigger of a function; returns their names. */
  removeFunction(functionName: string): string[] {
    return this.#db.transaction(() => {
      const names = this.#db
        .prepare<[string], { name: string }>("SELECT name FROM triggers WHERE function_name = ?")
        .all(functionName)
        .map((row) => row.name);
      for (const name of names) {
        this.remove(name);
      }
      return names;
    })();
  }

  /**
   * The cron state of a trigger for `schedule`: the grid anchor of `@every` and the last
   * firing. A trigger seen for the first time, or whose schedule changed, starts afresh at
   * `now` (a new schedule has missed nothing).
   */
  cronState(name: string, schedule: string, now: number): { anchor: number; lastFired: number } {
    return this.#db.transaction(() => {
      const row = this.#db
        .prepare<[string], { schedule: string; anchor: number; last_fired: number }>(
          "SELECT schedule, anchor, last_fired FROM cron_firings WHERE trigger_name = ?",
        )
        .get(name);
      if (row?.schedule === schedule) {
        return { anchor: row.anchor, lastFired: row.last_fired };
      }
      this.#db
        .prepare(
          "INSERT INTO cron_firings (trigger_name, schedule, anchor, last_fired) VALUES (?, ?, ?, ?) ON CONFLICT(trigger_name) DO UPDATE SET schedule = excluded.schedule, anchor = excluded.anchor, last_fired = excluded.last_fired",
        )
        .run(name, schedule, now, now);
      return { anchor: now, lastFired: now };
    })();
  }

  /**
   * Claims the firing at `time`: true only for the first claimer and only if no later firing
   * was recorded, so a firing runs at most once however many schedulers race for it.
   */
  claimFiring(name: string, time: number): boolean {
    return (
      this.#db
        .prepare("UPDATE cron_firings SET last_fired = ? WHERE trigger_name = ? AND last_fired < ?")
        .run(time, name, time).changes > 0
    );
  }
}

function toRecord(row: TriggerRow): TriggerRecord {
  return {
    name: row.name,
    functionName: row.function_name,
    target: row.target,
    origin: row.origin === "spec" ? "spec" : "api",
    spec: JSON.parse(row.spec) as TriggerSpec,
    createdAt: row.created_at,
  };
}
