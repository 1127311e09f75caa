/** How numbers and times read in the dashboard. */

export function formatRate(perSecond: number): string {
  if (perSecond === 0) {
    return "0";
  }
  return perSecond >= 100
    ? perSecond.toFixed(0)
    : perSecond >= 1
      ? perSecond.toFixed(1)
      : perSecond.toFixed(2);
}

export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) {
    return "–";
  }
  return ms >= 1000
    ? `${(ms / 1000).toFixed(2)} s`
    : ms >= 10
      ? `${ms.toFixed(0)} ms`
      : `${ms.toFixed(1)} ms`;
}

export function formatPercent(share: number): string {
  return share === 0 ? "0 %" : `${(share * 100).toFixed(share < 0.01 ? 2 : 1)} %`;
}

/** HH:MM:SS.mmm of an ISO time, in the browser's zone. */
export function clockTime(iso: string): string {
  const date = new Date(iso);
  const pad = (n: number, width = 2) => String(n).padStart(width, "0");
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

export function dateTime(iso: string | undefined): string {
  return iso ? new Date(iso).toLocaleString() : "–";
}
