/** Small statistics for benchmark figures: percentiles of samples, and median with spread over repeats. */

/** Percentile `p` (0–100) of `values` by nearest rank; NaN when empty. */
export function percentile(values: ArrayLike<number>, p: number): number {
  if (values.length === 0) {
    return Number.NaN;
  }
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
}

export function median(values: ArrayLike<number>): number {
  return percentile(values, 50);
}

/** A figure over repeated runs: the median run, and the lowest and highest runs. */
export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly runs: readonly number[];
}

export function spread(runs: readonly number[]): Spread {
  const finite = runs.filter((v) => Number.isFinite(v));
  if (finite.length === 0) {
    return { median: Number.NaN, min: Number.NaN, max: Number.NaN, runs };
  }
  // The median of an even count is the mean of the middle two, so a 2-run figure is fair.
  const sorted = [...finite].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  const med = Number.isInteger(mid)
    ? ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2
    : (sorted[Math.floor(mid)] ?? Number.NaN);
  return { median: med, min: sorted[0] ?? Number.NaN, max: sorted.at(-1) ?? Number.NaN, runs };
}

/** Formats a number with a precision that suits its size. */
export function fmt(value: number, unit = ""): string {
  if (!Number.isFinite(value)) {
    return "–";
  }
  const abs = Math.abs(value);
  const text =
    abs >= 1000
      ? Math.round(value).toLocaleString("en-US")
      : abs >= 100
        ? value.toFixed(0)
        : abs >= 10
          ? value.toFixed(1)
          : value.toFixed(2);
  return unit ? `${text} ${unit}` : text;
}

/** "median [min–max]" */
export function fmtSpread(s: Spread, unit = ""): string {
  if (!Number.isFinite(s.median)) {
    return "–";
  }
  if (s.runs.length < 2) {
    return fmt(s.median, unit);
  }
  return `${fmt(s.median, unit)} [${fmt(s.min)}–${fmt(s.max)}]`;
}
