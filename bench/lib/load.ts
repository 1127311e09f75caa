/**
 * Closed-loop HTTP load with autocannon: N connections, each sending its next request when the
 * previous answer arrives. Every response time is kept (not only autocannon's histogram, whose
 * millisecond buckets are too coarse for sub-millisecond answers).
 */
import { cpuUsage } from "node:process";
import autocannon from "autocannon";
import { percentile } from "./stats.js";

export interface LoadOptions {
  readonly url: string;
  readonly connections: number;
  /** Seconds to run; ignored when `amount` is set. */
  readonly durationS?: number;
  /** Stop after this many requests instead of after a duration. */
  readonly amount?: number;
  readonly method?: "GET" | "POST";
  readonly body?: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** Seconds before a request counts as timed out. @default 10 */
  readonly timeoutS?: number;
}

export interface LoadResult {
  /** Requests answered with a 2xx. */
  readonly ok: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly elapsedS: number;
  /** Answered (2xx) requests per second. */
  readonly rps: number;
  /** Response time of every answered request (any status), in ms. */
  readonly latenciesMs: Float64Array;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  /** CPU the load generator itself used, as a share of one core. */
  readonly generatorCpu: number;
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  let latencies = new Float64Array(1 << 16);
  let count = 0;
  const started = performance.now();
  let lastResponseAt = started;
  const cpuBefore = cpuUsage();
  let instance: autocannon.Instance | undefined;
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon(
      {
        url: options.url,
        connections: options.connections,
        pipelining: 1,
        timeout: options.timeoutS ?? 10,
        ...(options.amount === undefined
          ? { duration: options.durationS ?? 5 }
          : { amount: options.amount }),
        method: options.method ?? "GET",
        ...(options.body === undefined ? {} : { body: options.body }),
        headers: { ...options.headers },
      },
      (error: unknown, result: autocannon.Result) => (error ? reject(error) : resolve(result)),
    );
  });
  instance?.on("response", (_client, _statusCode, _resBytes, responseTime) => {
    if (count === latencies.length) {
      const grown = new Float64Array(latencies.length * 2);
      grown.set(latencies);
      latencies = grown;
    }
    latencies[count] = responseTime;
    count += 1;
    lastResponseAt = performance.now();
  });
  const result = await done;
  const elapsedS = (performance.now() - started) / 1000;
  const cpu = cpuUsage(cpuBefore);
  const kept = latencies.subarray(0, count);
  const ok = result["2xx"];
  return {
    ok,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    elapsedS,
    // autocannon ends a run on its 1 s tick (an `amount` run can idle up to a second after the
    // last answer), so the rate is taken up to the last response.
    rps: ok / Math.max(1e-3, (lastResponseAt - started) / 1000),
    latenciesMs: kept,
    p50: percentile(kept, 50),
    p95: percentile(kept, 95),
    p99: percentile(kept, 99),
    generatorCpu: (cpu.user + cpu.system) / 1e6 / elapsedS,
  };
}
