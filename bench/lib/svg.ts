/** Grouped bar charts as plain SVG (no dependency): one group per x value, one bar per series, whiskers for min–max. */

export interface BarSeries {
  readonly label: string;
  /** One value per group; NaN leaves a gap. */
  readonly values: readonly {
    readonly median: number;
    readonly min: number;
    readonly max: number;
  }[];
}

export interface BarChart {
  readonly title: string;
  readonly yLabel: string;
  readonly groups: readonly string[];
  readonly series: readonly BarSeries[];
  /** Draw a dashed horizontal line, e.g. a target. */
  readonly reference?: { readonly value: number; readonly label: string };
  /** Log scale for values spanning orders of magnitude. */
  readonly log?: boolean;
}

const palette = ["#4e79a7", "#e15759", "#59a14f", "#f28e2b", "#76b7b2", "#b07aa1", "#9c755f"];

function escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function niceMax(value: number): number {
  if (!(value > 0)) {
    return 1;
  }
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * magnitude >= value) {
      return step * magnitude;
    }
  }
  return 10 * magnitude;
}

function tickLabel(value: number): string {
  if (value >= 1000) {
    return `${value / 1000}k`;
  }
  return String(Number(value.toPrecision(3)));
}

export function barChart(chart: BarChart): string {
  const width = 760;
  const legendRows = Math.ceil(chart.series.length / 3);
  const top = 40 + legendRows * 18;
  const bottom = 40;
  const left = 70;
  const right = 20;
  const height = top + 260 + bottom;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const all = chart.series
    .flatMap((s) => s.values.flatMap((v) => [v.max, v.median]))
    .filter((v) => Number.isFinite(v) && v > 0);
  const maxValue = Math.max(...all, chart.reference?.value ?? 0, Number.MIN_VALUE);
  const minValue = Math.min(...all, chart.reference?.value ?? Number.POSITIVE_INFINITY);
  let y: (v: number) => number;
  let ticks: number[];
  if (chart.log) {
    const lo = 10 ** Math.floor(Math.log10(minValue));
    const hi = 10 ** Math.ceil(Math.log10(maxValue));
    y = (v) =>
      top +
      plotH -
      ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * plotH;
    ticks = [];
    for (let t = lo; t <= hi * 1.0001; t *= 10) {
      ticks.push(t);
    }
  } else {
    const hi = niceMax(maxValue);
    y = (v) => top + plotH - (v / hi) * plotH;
    ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => f * hi);
  }
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">${escape(chart.title)}</text>`,
  );
  chart.series.forEach((s, i) => {
    const lx = left + (i % 3) * 230;
    const ly = 34 + Math.floor(i / 3) * 18;
    parts.push(
      `<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${palette[i % palette.length]}"/>`,
      `<text x="${lx + 17}" y="${ly}">${escape(s.label)}</text>`,
    );
  });
  for (const t of ticks) {
    const ty = y(t);
    parts.push(
      `<line x1="${left}" x2="${width - right}" y1="${ty.toFixed(1)}" y2="${ty.toFixed(1)}" stroke="#ddd"/>`,
      `<text x="${left - 6}" y="${(ty + 4).toFixed(1)}" text-anchor="end">${tickLabel(t)}</text>`,
    );
  }
  parts.push(
    `<text transform="translate(16 ${top + plotH / 2}) rotate(-90)" text-anchor="middle">${escape(chart.yLabel)}</text>`,
  );
  const groupW = plotW / chart.groups.length;
  const barW = Math.min(40, (groupW * 0.8) / Math.max(1, chart.series.length));
  chart.groups.forEach((group, g) => {
    const gx = left + g * groupW + (groupW - barW * chart.series.length) / 2;
    parts.push(
      `<text x="${(left + g * groupW + groupW / 2).toFixed(1)}" y="${height - bottom + 18}" text-anchor="middle">${escape(group)}</text>`,
    );
    chart.series.forEach((s, i) => {
      const v = s.values[g];
      if (!v || !Number.isFinite(v.median)) {
        return;
      }
      const x = gx + i * barW;
      const by = y(v.median);
      const base = chart.log ? y(0) : top + plotH;
      parts.push(
        `<rect x="${x.toFixed(1)}" y="${by.toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${Math.max(0, base - by).toFixed(1)}" fill="${palette[i % palette.length]}"><title>${escape(`${s.label}, ${group}: ${tickLabel(v.median)}`)}</title></rect>`,
      );
      if (Number.isFinite(v.min) && Number.isFinite(v.max) && v.max > v.min) {
        const cx = x + (barW - 2) / 2;
        parts.push(
          `<line x1="${cx.toFixed(1)}" x2="${cx.toFixed(1)}" y1="${y(v.min).toFixed(1)}" y2="${y(v.max).toFixed(1)}" stroke="#222"/>`,
          `<line x1="${(cx - 3).toFixed(1)}" x2="${(cx + 3).toFixed(1)}" y1="${y(v.max).toFixed(1)}" y2="${y(v.max).toFixed(1)}" stroke="#222"/>`,
          `<line x1="${(cx - 3).toFixed(1)}" x2="${(cx + 3).toFixed(1)}" y1="${y(v.min).toFixed(1)}" y2="${y(v.min).toFixed(1)}" stroke="#222"/>`,
        );
      }
    });
  });
  if (chart.reference) {
    const ry = y(chart.reference.value);
    parts.push(
      `<line x1="${left}" x2="${width - right}" y1="${ry.toFixed(1)}" y2="${ry.toFixed(1)}" stroke="#c00" stroke-dasharray="6 4"/>`,
      `<text x="${left + 4}" y="${(ry - 4).toFixed(1)}" fill="#c00">${escape(chart.reference.label)}</text>`,
    );
  }
  parts.push(
    `<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}" stroke="#444"/>`,
    `<line x1="${left}" x2="${width - right}" y1="${top + plotH}" y2="${top + plotH}" stroke="#444"/>`,
    "</svg>",
  );
  return `${parts.join("\n")}\n`;
}
