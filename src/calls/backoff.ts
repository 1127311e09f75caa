/** Retry delays: exponential, capped, with jitter so retries of many calls do not align. */

export interface Backoff {
  readonly baseMs: number;
  readonly maxMs: number;
}

/** Delay before retry number `retry` (1 for the first retry): half fixed, half random. */
export function retryDelay(
  backoff: Backoff,
  retry: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.max(0, retry - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
