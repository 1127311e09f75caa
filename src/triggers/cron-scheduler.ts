/**
 * Cron triggers: each firing becomes an async call (retried, listed by `runlet calls`).
 *
 * Every firing is claimed in SQLite (last_fired moves forward only), so no firing runs twice,
 * across restarts too. Firings missed while the server was down are coalesced: at start the
 * latest missed one runs once, late, and the schedule goes on from there. A job that missed
 * its slot runs once rather than never, and a long outage does not flood the queue.
 */
import { parseSchedule, type CronTriggerSpec, type Schedule } from "../spec/trigger-spec.js";
import type { TriggerRecord, TriggerStore } from "../store/trigger-store.js";
import type { TriggerHost } from "./trigger-host.js";

export interface CronSchedulerOptions {
  readonly store: TriggerStore;
  readonly host: TriggerHost;
  /** @default Date.now */
  readonly now?: () => number;
}

interface Job {
  readonly key: string;
  readonly record: TriggerRecord;
  readonly schedule: Schedule;
  /** The schedule as written ("cron tz"): its firing state resets when it changes. */
  readonly scheduleKey: string;
  timer: NodeJS.Timeout | undefined;
}

/** setTimeout's longest delay; longer waits re-arm. */
const maxDelayMs = 2 ** 31 - 1;

export class CronScheduler {
  readonly #store: TriggerStore;
  readonly #host: TriggerHost;
  readonly #now: () => number;
  readonly #jobs = new Map<string, Job>();
  #closed = false;

  constructor(options: CronSchedulerOptions) {
    this.#store = options.store;
    this.#host = options.host;
    this.#now = options.now ?? Date.now;
  }

  /** Runs exactly the given cron triggers: new ones start, changed ones restart, gone ones stop. */
  reconcile(records: readonly TriggerRecord[]): void {
    if (this.#closed) {
      return;
    }
    const wanted = new Map(records.map((record) => [record.name, record]));
    for (const [name, job] of this.#jobs) {
      const record = wanted.get(name);
      if (!record || keyOf(record) !== job.key) {
        clearTimeout(job.timer);
        this.#jobs.delete(name);
      }
    }
    for (const record of records) {
      if (this.#jobs.has(record.name)) {
        continue;
      }
      const spec = record.spec as CronTriggerSpec;
      const schedule = parseSchedule(spec.cron, spec.tz);
      if (typeof schedule === "string") {
        this.#host.onError(new Error(`cron trigger ${record.name}: ${schedule}`));
        continue;
      }
      const job: Job = {
        key: keyOf(record),
        record,
        schedule,
        scheduleKey: `${spec.cron.trim()} ${spec.tz ?? "UTC"}`,
        timer: undefined,
      };
      this.#jobs.set(record.name, job);
      this.#tick(job);
    }
  }

  close(): void {
    this.#closed = true;
    for (const job of this.#jobs.values()) {
      clearTimeout(job.timer);
    }
    this.#jobs.clear();
  }

  /** Fires the latest due firing (if any), then sleeps until the next one. */
  #tick(job: Job): void {
    if (this.#closed || this.#jobs.get(job.record.name) !== job) {
      return;
    }
    const now = this.#now();
    const state = this.#store.cronState(job.record.name, job.scheduleKey, now);
    const due = latestDue(job.schedule, state.lastFired, state.anchor, now);
    if (due !== undefined && this.#store.claimFiring(job.record.name, due)) {
      this.#fire(job.record, due);
    }
    const next = nextAfter(job.schedule, Math.max(now, due ?? state.lastFired), state.anchor);
    if (next === undefined) {
      return;
    }
    job.timer = setTimeout(
      () => this.#tick(job),
      Math.min(maxDelayMs, Math.max(0, next - this.#now())),
    );
    job.timer.unref();
  }

  #fire(record: TriggerRecord, time: number): void {
    const scheduledAt = new Date(time).toISOString();
    const failed = (error: unknown): void =>
      this.#host.onError(
        new Error(`cron trigger ${record.name} could not queue its ${scheduledAt} call`, {
          cause: error,
        }),
      );
    try {
      this.#host
        .enqueue({
          name: record.target,
          method: "POST",
          path: "/",
          headers: {
            "content-type": "application/json",
            "x-runlet-trigger": record.name,
            "x-runlet-scheduled-at": scheduledAt,
          },
          body: Buffer.from(JSON.stringify({ trigger: record.name, scheduledAt })),
          source: `cron:${record.name}`,
          callId: `cron-${record.name}-${time}`,
        })
        .catch(failed);
    } catch (error) {
      failed(error);
    }
  }
}

function keyOf(record: TriggerRecord): string {
  return `${record.target} ${JSON.stringify(record.spec)}`;
}

/** The first firing strictly after `after`. */
function nextAfter(schedule: Schedule, after: number, anchor: number): number | undefined {
  if (schedule.kind === "every") {
    // A fixed grid from the anchor, so restarts keep the same firing times.
    const steps = Math.floor((after - anchor) / schedule.intervalMs) + 1;
    return anchor + Math.max(1, steps) * schedule.intervalMs;
  }
  return schedule.cron.nextRun(new Date(after))?.getTime();
}

/** The latest firing in (lastFired, now], or undefined when none is due. */
function latestDue(
  schedule: Schedule,
  lastFired: number,
  anchor: number,
  now: number,
): number | undefined {
  const next = nextAfter(schedule, lastFired, anchor);
  if (next === undefined || next > now) {
    return undefined;
  }
  if (schedule.kind === "every") {
    return anchor + Math.floor((now - anchor) / schedule.intervalMs) * schedule.intervalMs;
  }
  const previous = schedule.cron.previousRuns(1, new Date(now))[0]?.getTime();
  return previous !== undefined && previous > lastFired ? previous : next;
}
