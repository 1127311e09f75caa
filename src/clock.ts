/**
 * Time as the platform reads it: the wall clock and timers, behind one small port so that code
 * which waits (autoscaling, crash back-off, retries, sweeps) can be driven by fed time in tests
 * instead of sleeping. Production code takes a Clock and defaults to systemClock.
 */

/** What a scheduled timer gives back, to cancel it. */
export interface TimerHandle {
  /** Lets the process exit while the timer is pending (Node's unref). */
  unref(): TimerHandle;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle | undefined): void;
  setInterval(callback: () => void, ms: number): TimerHandle;
  clearInterval(handle: TimerHandle | undefined): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout | undefined),
  setInterval: (callback, ms) => setInterval(callback, ms),
  clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout | undefined),
};

/** Resolves after `ms` on `clock`. */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}
