/**
 * The metrics history the dashboard and `runlet top` draw from (issue 20): per function and for
 * the whole platform, requests per second by status class, p50/p99 latency, cold starts,
 * replicas and calls in flight, kept in fixed-size rings in memory. It reads the per-call
 * numbers the gateway keeps anyway (CallMetrics) once per step, so a call costs nothing more;
 * `/metrics` stays for Prometheus, and nothing here is an external store.
 *
 * Two rings per series: the last hour at `stepMs` (default 5 s, 720 points) and the last day
 * at `stepMs * coarseEvery` (default 5 min, 288 points). Bounded: about 36 KB per function
 * with the defaults, and a removed function's rings are dropped at the next step.
 */
import type { Clock, TimerHandle } from "../clock.js";
import { durationBuckets, type CallTotals } from "./call-metrics.js";

/** What the history reads at each step; the gateway wires it to the platform. */
export interface HistorySource {
  /** Every function's calls since boot (CallMetrics.totals()). */
  calls(): Map<string, CallTotals>;
  /** The functions deployed now; history of any other is dropped. */
  functionNames(): readonly string[];
  /** Instances and calls in flight of one function, now. */
  load(name: string): { readonly replicas: number; readonly inFlight: number };
}

export interface MetricsHistoryOptions {
  readonly source: HistorySource;
  /** Time and the step timer. */
  readonly clock: Clock;
  /** Milliseconds between two points of the last hour. @default 5000 */
  readonly stepMs?: number;
  /** Points kept at `stepMs`. @default 3600000 / stepMs (one hour) */
  readonly hourPoints?: number;
  /** Steps folded into one point of the last day. @default 60 (5 minutes at 5 s) */
  readonly coarseEvery?: number;
  /** Points kept at the coarse step. @default 288 (one day at 5 minutes) */
  readonly dayPoints?: number;
}

/** The series every point has. Rates are per second over the point's interval. */
export const seriesNames = [
  "ok",
  "clientErrors",
  "serverErrors",
  "p50Ms",
  "p99Ms",
  "coldStarts",
  "replicas",
  "inFlight",
] as const;

export type SeriesName = (typeof seriesNames)[number];

export type HistoryRange = "hour" | "day";

/** A stretch of history, column by column (the shape chart libraries draw from). */
export interface HistoryView {
  /** The function, or undefined for the whole platform. */
  readonly function: string | undefined;
  readonly range: HistoryRange;
  readonly stepSeconds: number;
  /** End of each point's interval, in seconds since the epoch, oldest first. */
  readonly times: number[];
  /** One value per time; null where there is none (a latency with no call). */
  readonly series: Record<SeriesName, (number | null)[]>;
}

/** One function's (or the platform's) numbers over a recent window. */
export interface LoadSummary {
  readonly requestsPerSecond: number;
  /** Share of calls answered 5xx, 0 to 1. */
  readonly errorRate: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly coldStarts: number;
}

/** What one interval added up: counts, the duration buckets' increase, the gauges' values. */
interface Interval {
  ok: number;
  clientErrors: number;
  serverErrors: number;
  readonly buckets: Float64Array;
  coldStarts: number;
  replicas: number;
  inFlight: number;
}

function emptyInterval(): Interval {
  return {
    ok: 0,
    clientErrors: 0,
    serverErrors: 0,
    buckets: new Float64Array(durationBuckets.length + 1),
    coldStarts: 0,
    replicas: 0,
    inFlight: 0,
  };
}

/** A fixed number of points, oldest overwritten first. */
class SeriesRing {
  readonly #capacity: number;
  readonly #times: Float64Array;
  readonly #columns: Record<SeriesName, Float32Array>;
  #next = 0;
  #size = 0;

  constructor(capacity: number) {
    this.#capacity = capacity;
    this.#times = new Float64Array(capacity);
    this.#columns = Object.fromEntries(
      seriesNames.map((name) => [name, new Float32Array(capacity)]),
    ) as Record<SeriesName, Float32Array>;
  }

  push(timeSeconds: number, point: Record<SeriesName, number>): void {
    this.#times[this.#next] = timeSeconds;
    for (const name of seriesNames) {
      this.#columns[name][this.#next] = point[name];
    }
    this.#next = (this.#next + 1) % this.#capacity;
    this.#size = Math.min(this.#size + 1, this.#capacity);
  }

  read(): { times: number[]; series: Record<SeriesName, (number | null)[]> } {
    const start = (this.#next - this.#size + this.#capacity) % this.#capacity;
    const times: number[] = [];
    const series = Object.fromEntries(seriesNames.map((name) => [name, []])) as unknown as Record<
      SeriesName,
      (number | null)[]
    >;
    for (let i = 0; i < this.#size; i++) {
      const at = (start + i) % this.#capacity;
      times.push(this.#times[at] ?? 0);
      for (const name of seriesNames) {
        const value = this.#columns[name][at] ?? Number.NaN;
        // Float32 storage: round so 0.1 req/s reads 0.1, not 0.10000000149.
        series[name].push(Number.isNaN(value) ? null : Math.round(value * 1000) / 1000);
      }
    }
    return { times, series };
  }
}

/** Recent intervals at the fine step, whole, for summaries over a window. */
const recentIntervals = 24;

/** The rings of one function, or of the platform. */
class History {
  readonly hour: SeriesRing;
  readonly day: SeriesRing;
  /** The newest intervals, most recent last. */
  readonly recent: Interval[] = [];
  /** The coarse interval being added up. */
  coarse = emptyInterval();
  coarseSteps = 0;

  constructor(hourPoints: number, dayPoints: number) {
    this.hour = new SeriesRing(hourPoints);
    this.day = new SeriesRing(dayPoints);
  }
}

export class MetricsHistory {
  readonly #source: HistorySource;
  readonly #clock: Clock;
  readonly #stepMs: number;
  readonly #hourPoints: number;
  readonly #coarseEvery: number;
  readonly #dayPoints: number;
  readonly #functions = new Map<string, History>();
  readonly #platform: History;
  /** Totals at the last step, to take differences from (every function ever called). */
  #previous = new Map<string, CallTotals>();
  /** Cold starts since the last step, per function. */
  #coldStarts = new Map<string, number>();
  #timer: TimerHandle | undefined;

  constructor(options: MetricsHistoryOptions) {
    this.#source = options.source;
    this.#clock = options.clock;
    this.#stepMs = options.stepMs ?? 5000;
    this.#hourPoints = options.hourPoints ?? Math.max(1, Math.round(3_600_000 / this.#stepMs));
    this.#coarseEvery = options.coarseEvery ?? 60;
    this.#dayPoints = options.dayPoints ?? 288;
    this.#platform = new History(this.#hourPoints, this.#dayPoints);
    this.#previous = this.#source.calls();
  }

  get stepMs(): number {
    return this.#stepMs;
  }

  /** Takes a point every step until stop(). */
  start(): void {
    this.#timer ??= this.#clock.setInterval(() => this.step(), this.#stepMs).unref();
  }

  stop(): void {
    this.#clock.clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** A cold start of `name` happened (the executor's event). */
  coldStart(name: string): void {
    this.#coldStarts.set(name, (this.#coldStarts.get(name) ?? 0) + 1);
  }

  /** Closes the current interval: one point per function and one for the platform. */
  step(): void {
    const now = this.#clock.now();
    const totals = this.#source.calls();
    const deployed = new Set(this.#source.functionNames());
    const platform = emptyInterval();
    for (const name of deployed) {
      const interval = emptyInterval();
      const current = totals.get(name);
      const before = this.#previous.get(name);
      if (current) {
        interval.ok = current.ok - (before?.ok ?? 0);
        interval.clientErrors = current.clientErrors - (before?.clientErrors ?? 0);
        interval.serverErrors = current.serverErrors - (before?.serverErrors ?? 0);
        for (let i = 0; i < interval.buckets.length; i++) {
          interval.buckets[i] = (current.buckets[i] ?? 0) - (before?.buckets[i] ?? 0);
        }
      }
      interval.coldStarts = this.#coldStarts.get(name) ?? 0;
      const load = this.#source.load(name);
      interval.replicas = load.replicas;
      interval.inFlight = load.inFlight;
      let history = this.#functions.get(name);
      if (!history) {
        history = new History(this.#hourPoints, this.#dayPoints);
        this.#functions.set(name, history);
      }
      this.#record(history, interval, now);
      addInto(platform, interval);
    }
    for (const name of this.#functions.keys()) {
      if (!deployed.has(name)) {
        this.#functions.delete(name);
      }
    }
    this.#record(this.#platform, platform, now);
    this.#previous = totals;
    this.#coldStarts = new Map();
  }

  /** The last hour or day of one function, or of the platform when `name` is undefined. */
  view(name: string | undefined, range: HistoryRange): HistoryView | undefined {
    const history = name === undefined ? this.#platform : this.#functions.get(name);
    if (!history) {
      return undefined;
    }
    const ring = range === "hour" ? history.hour : history.day;
    const stepMs = range === "hour" ? this.#stepMs : this.#stepMs * this.#coarseEvery;
    return { function: name, range, stepSeconds: stepMs / 1000, ...ring.read() };
  }

  /**
   * Requests/s, error rate, p50/p99 and cold starts over the newest `windowMs` (whole steps,
   * at least one): what the function list and `runlet top` show. Undefined before the first
   * step of a function.
   */
  summary(name: string | undefined, windowMs: number): LoadSummary | undefined {
    const history = name === undefined ? this.#platform : this.#functions.get(name);
    if (!history || history.recent.length === 0) {
      return undefined;
    }
    const steps = Math.max(1, Math.min(recentIntervals, Math.round(windowMs / this.#stepMs)));
    const intervals = history.recent.slice(-steps);
    const sum = emptyInterval();
    for (const interval of intervals) {
      addInto(sum, interval);
    }
    const calls = sum.ok + sum.clientErrors + sum.serverErrors;
    const seconds = (intervals.length * this.#stepMs) / 1000;
    return {
      requestsPerSecond: round(calls / seconds),
      errorRate: calls === 0 ? 0 : round(sum.serverErrors / calls),
      p50Ms: nullIfNaN(quantileMs(sum.buckets, 0.5)),
      p99Ms: nullIfNaN(quantileMs(sum.buckets, 0.99)),
      coldStarts: sum.coldStarts,
    };
  }

  #record(history: History, interval: Interval, now: number): void {
    history.hour.push(now / 1000, pointOf(interval, this.#stepMs));
    history.recent.push(interval);
    if (history.recent.length > recentIntervals) {
      history.recent.shift();
    }
    // The day's point: counts added up, gauges at their highest within its interval.
    const coarse = history.coarse;
    coarse.ok += interval.ok;
    coarse.clientErrors += interval.clientErrors;
    coarse.serverErrors += interval.serverErrors;
    coarse.coldStarts += interval.coldStarts;
    for (let i = 0; i < coarse.buckets.length; i++) {
      coarse.buckets[i] = (coarse.buckets[i] ?? 0) + (interval.buckets[i] ?? 0);
    }
    coarse.replicas = Math.max(coarse.replicas, interval.replicas);
    coarse.inFlight = Math.max(coarse.inFlight, interval.inFlight);
    history.coarseSteps += 1;
    if (history.coarseSteps >= this.#coarseEvery) {
      history.day.push(now / 1000, pointOf(coarse, this.#stepMs * this.#coarseEvery));
      history.coarse = emptyInterval();
      history.coarseSteps = 0;
    }
  }
}

function addInto(sum: Interval, interval: Interval): void {
  sum.ok += interval.ok;
  sum.clientErrors += interval.clientErrors;
  sum.serverErrors += interval.serverErrors;
  sum.coldStarts += interval.coldStarts;
  sum.replicas += interval.replicas;
  sum.inFlight += interval.inFlight;
  for (let i = 0; i < sum.buckets.length; i++) {
    sum.buckets[i] = (sum.buckets[i] ?? 0) + (interval.buckets[i] ?? 0);
  }
}

function pointOf(interval: Interval, stepMs: number): Record<SeriesName, number> {
  const seconds = stepMs / 1000;
  return {
    ok: interval.ok / seconds,
    clientErrors: interval.clientErrors / seconds,
    serverErrors: interval.serverErrors / seconds,
    p50Ms: quantileMs(interval.buckets, 0.5),
    p99Ms: quantileMs(interval.buckets, 0.99),
    coldStarts: interval.coldStarts,
    replicas: interval.replicas,
    inFlight: interval.inFlight,
  };
}

/**
 * The q-quantile of calls counted per duration bucket, in milliseconds, interpolated linearly
 * within its bucket (as Prometheus' histogram_quantile does), so only as fine as the bounds;
 * NaN with no calls. A quantile past the last bound reads as that bound.
 */
export function quantileMs(buckets: Float64Array, q: number): number {
  let total = 0;
  for (const count of buckets) {
    total += count;
  }
  if (total <= 0) {
    return Number.NaN;
  }
  const rank = q * total;
  let cumulative = 0;
  for (let i = 0; i < buckets.length; i++) {
    const count = buckets[i] ?? 0;
    if (count > 0 && cumulative + count >= rank) {
      const upper = durationBuckets[i];
      const lower = i === 0 ? 0 : (durationBuckets[i - 1] ?? 0);
      if (upper === undefined) {
        return lower * 1000;
      }
      return (lower + (upper - lower) * ((rank - cumulative) / count)) * 1000;
    }
    cumulative += count;
  }
  return (durationBuckets[durationBuckets.length - 1] ?? 0) * 1000;
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

function nullIfNaN(value: number): number | null {
  return Number.isNaN(value) ? null : round(value);
}
