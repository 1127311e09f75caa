/**
 * The per-call metrics (OpenFaaS gateway names): calls started, calls by status code, and their
 * duration. Every call adds to plain per-function numbers; Prometheus text is built from them
 * only when scraped. prom-client's own Counter and Histogram hash a label object on every
 * call: about 2 µs of the 30 or so of CPU the gateway spends on a call, plus the garbage.
 */
import type { Registry } from "prom-client";

/** Seconds; the OpenFaaS gateway's buckets plus finer ones for millisecond calls. */
export const durationBuckets: readonly number[] = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

interface CodeRecord {
  count: number;
  sum: number;
  /** Calls per bucket (not cumulative; the last counts those over every bound). */
  readonly buckets: Float64Array;
}

interface FunctionRecord {
  started: number;
  readonly codes: Map<number, CodeRecord>;
}

/** One function's calls since boot, as the metrics history reads them (copies, not live). */
export interface CallTotals {
  /** Calls answered below 400. */
  readonly ok: number;
  /** Calls answered 4xx: the caller's mistakes. */
  readonly clientErrors: number;
  /** Calls answered 5xx: the function's or the platform's failures. */
  readonly serverErrors: number;
  /** Calls per duration bucket, every status together (not cumulative, as in CodeRecord). */
  readonly buckets: Float64Array;
}

/** A sample as prom-client's registry prints it. */
interface ScrapedValue {
  readonly labels: Readonly<Record<string, string | number>>;
  readonly value: number;
  /** For histograms: the series (NAME_bucket, NAME_sum, NAME_count). */
  readonly metricName?: string;
}

/** What prom-client's registry reads of a metric (registry.js: name, type, get()). */
interface ScrapedMetric {
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "histogram";
  get(): Promise<{
    name: string;
    help: string;
    type: string;
    aggregator: "sum";
    values: ScrapedValue[];
  }>;
}

export class CallMetrics {
  readonly #functions = new Map<string, FunctionRecord>();

  /** A call to `name` started. */
  started(name: string): void {
    this.#record(name).started += 1;
  }

  /** A call to `name` ended with `status` after `seconds`. */
  finished(name: string, status: number, seconds: number): void {
    const codes = this.#record(name).codes;
    let code = codes.get(status);
    if (!code) {
      code = { count: 0, sum: 0, buckets: new Float64Array(durationBuckets.length + 1) };
      codes.set(status, code);
    }
    code.count += 1;
    code.sum += seconds;
    let bucket = 0;
    while (bucket < durationBuckets.length && seconds > (durationBuckets[bucket] ?? 0)) {
      bucket++;
    }
    code.buckets[bucket] = (code.buckets[bucket] ?? 0) + 1;
  }

  /** Calls per function, all codes together. */
  counts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const [name, record] of this.#functions) {
      let total = 0;
      for (const code of record.codes.values()) {
        total += code.count;
      }
      counts.set(name, total);
    }
    return counts;
  }

  /** Every function's calls since boot, by status class, with their duration buckets. */
  totals(): Map<string, CallTotals> {
    const totals = new Map<string, CallTotals>();
    for (const [name, record] of this.#functions) {
      let ok = 0;
      let clientErrors = 0;
      let serverErrors = 0;
      const buckets = new Float64Array(durationBuckets.length + 1);
      for (const [status, code] of record.codes) {
        if (status >= 500) {
          serverErrors += code.count;
        } else if (status >= 400) {
          clientErrors += code.count;
        } else {
          ok += code.count;
        }
        for (let i = 0; i < buckets.length; i++) {
          buckets[i] = (buckets[i] ?? 0) + (code.buckets[i] ?? 0);
        }
      }
      totals.set(name, { ok, clientErrors, serverErrors, buckets });
    }
    return totals;
  }

  /** Adds the three metrics to `registry`. */
  register(registry: Registry): void {
    const durationName = "gateway_functions_seconds";
    const metrics = [
      scraped(
        "gateway_function_invocation_started",
        "Function invocations started",
        "counter",
        () =>
          [...this.#functions].map(([name, record]) => ({
            labels: { function_name: name },
            value: record.started,
          })),
      ),
      scraped(
        "gateway_function_invocation_total",
        "Function invocations by function and HTTP status code",
        "counter",
        () => this.#byCode().map(({ labels, record }) => ({ labels, value: record.count })),
      ),
      scraped(
        durationName,
        "Function invocation time in seconds, as seen by the gateway",
        "histogram",
        () =>
          this.#byCode().flatMap(({ labels, record }) =>
            histogramValues(durationName, labels, record),
          ),
      ),
    ];
    for (const metric of metrics) {
      // The registry reads name, type and get() (registry.js); prom-client has no type for a
      // metric that is not one of its own classes.
      registry.registerMetric(metric as unknown as Parameters<Registry["registerMetric"]>[0]);
    }
  }

  #record(name: string): FunctionRecord {
    let record = this.#functions.get(name);
    if (!record) {
      record = { started: 0, codes: new Map() };
      this.#functions.set(name, record);
    }
    return record;
  }

  #byCode(): { labels: Record<string, string>; record: CodeRecord }[] {
    const out: { labels: Record<string, string>; record: CodeRecord }[] = [];
    for (const [name, record] of this.#functions) {
      for (const [status, code] of record.codes) {
        out.push({ labels: { function_name: name, code: String(status) }, record: code });
      }
    }
    return out;
  }
}

/** A metric whose samples `values` computes at each scrape. */
function scraped(
  name: string,
  help: string,
  type: ScrapedMetric["type"],
  values: () => ScrapedValue[],
): ScrapedMetric {
  return {
    name,
    help,
    type,
    get: async () => ({ name, help, type, aggregator: "sum", values: values() }),
  };
}

function histogramValues(
  name: string,
  labels: Record<string, string>,
  record: CodeRecord,
): ScrapedValue[] {
  const values: ScrapedValue[] = [];
  let cumulative = 0;
  durationBuckets.forEach((bound, index) => {
    cumulative += record.buckets[index] ?? 0;
    values.push({
      labels: { ...labels, le: bound },
      value: cumulative,
      metricName: `${name}_bucket`,
    });
  });
  values.push({
    labels: { ...labels, le: "+Inf" },
    value: record.count,
    metricName: `${name}_bucket`,
  });
  values.push({ labels, value: record.sum, metricName: `${name}_sum` });
  values.push({ labels, value: record.count, metricName: `${name}_count` });
  return values;
}
