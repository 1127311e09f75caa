/** Rates written as "N/s", "N/m" or "N/h" (rate limits of functions and tokens, issue 18). */
import { z } from "zod";

export interface Rate {
  /** Requests allowed per period, and the burst allowed at once. */
  readonly count: number;
  readonly periodMs: number;
}

const periods: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000 };

export function parseRate(text: string): Rate | undefined {
  const match = /^\s*(\d{1,9})\s*\/\s*(s|m|h)\s*$/.exec(text);
  const count = Number(match?.[1]);
  const periodMs = periods[match?.[2] ?? ""];
  return periodMs !== undefined && count >= 1 ? { count, periodMs } : undefined;
}

export const rateSchema = z.string().refine((text) => parseRate(text) !== undefined, {
  message: 'a rate like "100/s", "600/m" or "1000/h"',
});
