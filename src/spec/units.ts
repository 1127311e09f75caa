/** Parsing and printing of the human units used in specs: durations ("10s") and sizes ("128Mi"). */

const durationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * The text forms parseDuration and parseSize accept, as regular expressions that RE2 (the
 * CEL validation rules of the Function CRD) reads the same way.
 */
export const durationTextPattern = /^\d+(\.\d+)?$|^(\d+(\.\d+)?(ms|s|m|h))+$/;
export const sizeTextPattern = /^(\d+(?:\.\d+)?)\s*(Ki|Mi|Gi|k|K|M|G)?$/;

/**
 * Parses "250ms", "10s", "5m", "1h" or "1m30s" into milliseconds. A bare number is seconds,
 * as in OpenFaaS' `exec_timeout`. Returns undefined when the text is not a duration.
 */
export function parseDuration(text: string | number): number | undefined {
  if (typeof text === "number") {
    return Number.isFinite(text) && text >= 0 ? Math.round(text * 1000) : undefined;
  }
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) {
    return Math.round(Number(trimmed) * 1000);
  }
  const parts = [...trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== trimmed) {
    return undefined;
  }
  let total = 0;
  for (const [, value, unit] of parts) {
    total += Number(value) * (durationUnits[unit ?? "s"] ?? 1000);
  }
  return Math.round(total);
}

export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) {
    return `${ms / 3_600_000}h`;
  }
  if (ms % 60_000 === 0 && ms > 0) {
    return `${ms / 60_000}m`;
  }
  if (ms % 1000 === 0) {
    return `${ms / 1000}s`;
  }
  return `${ms}ms`;
}

const sizeUnits: Record<string, number> = {
  "": 1,
  k: 1e3,
  K: 1e3,
  M: 1e6,
  G: 1e9,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
};

/** Parses Kubernetes quantities ("128Mi", "1G", "512Ki", "1048576") into bytes. */
export function parseSize(text: string | number): number | undefined {
  if (typeof text === "number") {
    return Number.isFinite(text) && text >= 0 ? Math.round(text) : undefined;
  }
  const match = sizeTextPattern.exec(text.trim());
  if (!match) {
    return undefined;
  }
  return Math.round(Number(match[1]) * (sizeUnits[match[2] ?? ""] ?? 1));
}

export function formatSize(bytes: number): string {
  for (const [unit, factor] of [
    ["Gi", 1024 ** 3],
    ["Mi", 1024 ** 2],
    ["Ki", 1024],
  ] as const) {
    if (bytes >= factor && bytes % factor === 0) {
      return `${bytes / factor}${unit}`;
    }
  }
  return `${bytes}`;
}

/** Approximate size for people ("635 B", "1.2 KiB", "3.4 MiB"). */
export function humanSize(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}
