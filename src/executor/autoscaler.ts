/**
 * How many instances a revision should have, from observed concurrency, in the manner of
 * Knative's autoscaler: the average over a stable window decides normally; when the average
 * over the short panic window reaches twice the current capacity, the panic window decides
 * and nothing scales down until the panic has been over for a stable window.
 * Pure: fed samples with their time, it never reads a clock itself.
 */

export interface AutoscalerSettings {
  /** Concurrent calls one instance should carry (below its hard concurrency limit). */
  readonly target: number;
  readonly min: number;
  readonly max: number;
  readonly stableWindowMs: number;
  /** @default 10% of the stable window */
  readonly panicWindowMs?: number;
  /** Scale to zero after this long without calls (when min is 0). */
  readonly idleTimeoutMs: number;
}

export interface ScalingDecision {
  readonly at: number;
  readonly desired: number;
  readonly current: number;
  readonly panic: boolean;
  readonly reason: string;
}

interface Sample {
  readonly at: number;
  readonly concurrency: number;
}

export class Autoscaler {
  #settings: AutoscalerSettings;
  readonly #samples: Sample[] = [];
  #panicUntil = 0;
  #panicDesired = 0;
  #lastActivity: number;

  constructor(settings: AutoscalerSettings, now: number) {
    this.#settings = settings;
    this.#lastActivity = now;
  }

  update(settings: AutoscalerSettings): void {
    this.#settings = settings;
  }

  /** Records the concurrency (in flight + waiting) seen at `at`. */
  record(at: number, concurrency: number): void {
    this.#samples.push({ at, concurrency });
    if (concurrency > 0) {
      this.#lastActivity = at;
    }
    const horizon = at - this.#settings.stableWindowMs;
    while (this.#samples.length > 0 && (this.#samples[0]?.at ?? at) < horizon) {
      this.#samples.shift();
    }
  }

  /** Marks a call seen now, even if it started and ended between samples. */
  touch(at: number): void {
    this.#lastActivity = at;
  }

  decide(at: number, current: number): ScalingDecision {
    const { target, min, max, stableWindowMs, idleTimeoutMs } = this.#settings;
    const panicWindowMs = this.#settings.panicWindowMs ?? Math.max(1000, stableWindowMs / 10);
    const stableAverage = this.#average(at - stableWindowMs);
    const panicAverage = this.#average(at - panicWindowMs);
    const stableDesired = Math.ceil(stableAverage / target);
    const panicDesired = Math.ceil(panicAverage / target);
    const clamp = (n: number): number => Math.min(max, Math.max(min, n));
    const idleFor = at - this.#lastActivity;
    if (current > 0 && panicDesired >= 2 * current) {
      this.#panicUntil = at + stableWindowMs;
      this.#panicDesired = Math.max(this.#panicDesired, panicDesired);
    }
    if (at < this.#panicUntil) {
      const desired = clamp(Math.max(current, this.#panicDesired, panicDesired));
      return {
        at,
        desired,
        current,
        panic: true,
        reason: `panic: ${panicAverage.toFixed(1)} concurrent over the last ${panicWindowMs / 1000}s at a target of ${target} per instance; not scaling down until the burst has been over for ${stableWindowMs / 1000}s`,
      };
    }
    this.#panicDesired = 0;
    if (stableDesired === 0) {
      if (min === 0 && idleFor >= idleTimeoutMs) {
        return {
          at,
          desired: 0,
          current,
          panic: false,
          reason: `no calls for ${Math.round(idleFor / 1000)}s (idle timeout ${idleTimeoutMs / 1000}s): scale to zero`,
        };
      }
      const keep = clamp(Math.min(current, 1));
      return {
        at,
        desired: keep,
        current,
        panic: false,
        reason:
          min > 0
            ? `idle; keeping min ${min}`
            : `idle for ${Math.round(idleFor / 1000)}s; scale to zero after ${idleTimeoutMs / 1000}s`,
      };
    }
    return {
      at,
      desired: clamp(stableDesired),
      current,
      panic: false,
      reason: `${stableAverage.toFixed(1)} concurrent on average over ${stableWindowMs / 1000}s at a target of ${target} per instance`,
    };
  }

  #average(since: number): number {
    let sum = 0;
    let count = 0;
    for (const sample of this.#samples) {
      if (sample.at >= since) {
        sum += sample.concurrency;
        count += 1;
      }
    }
    return count === 0 ? 0 : sum / count;
  }
}
