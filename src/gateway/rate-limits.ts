/**
 * Rate limits per function and per token (issue 18): a token bucket per key that holds up to
 * `count` requests and refills `count` per period, so a burst up to the limit passes and a
 * steady flow above it gets 429 with Retry-After. In memory, per gateway process: each replica
 * limits what it serves.
 */
import type { Platform } from "../platform/platform.js";
import type { Rate } from "../spec/rate.js";

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimits {
  readonly #buckets = new Map<string, Bucket>();
  readonly #now: () => number;

  constructor(now: () => number) {
    this.#now = now;
  }

  /** Takes one request from `key`'s bucket: undefined when it may go, else seconds to wait. */
  take(key: string, rate: Rate): number | undefined {
    const now = this.#now();
    const perMs = rate.count / rate.periodMs;
    const bucket = this.#buckets.get(key) ?? { tokens: rate.count, at: now };
    bucket.tokens = Math.min(rate.count, bucket.tokens + (now - bucket.at) * perMs);
    bucket.at = now;
    this.#buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return undefined;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / perMs / 1000));
  }
}

const limits = new WeakMap<Platform, RateLimits>();

/** The platform's limits in this gateway, on the platform's clock. */
export function rateLimitsOf(platform: Platform): RateLimits {
  let found = limits.get(platform);
  if (!found) {
    found = new RateLimits(() => platform.clock.now());
    limits.set(platform, found);
  }
  return found;
}
