/**
 * One chart over time (uPlot): the history's times on x, one line per series. The figure
 * carries what it draws as data attributes (points, and the sum of every value), so a test
 * can see the chart move without reading pixels.
 */
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";

export interface ChartSeries {
  readonly label: string;
  readonly color: string;
  readonly values: readonly (number | null)[];
}

export interface TimeChartProps {
  /** Names the chart for tests and for screen readers. */
  readonly id: string;
  readonly title: string;
  readonly unit: string;
  readonly times: readonly number[];
  readonly series: readonly ChartSeries[];
  /** The x range shown, in seconds since the epoch, so a new history is not stretched. */
  readonly from: number;
  readonly to: number;
}

const height = 160;

export function TimeChart(props: TimeChartProps) {
  const holder = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  const labels = props.series.map((s) => s.label).join("|");
  const range = useRef<[number, number]>([props.from, props.to]);
  range.current = [props.from, props.to];

  useEffect(() => {
    const element = holder.current;
    if (!element) {
      return;
    }
    const options: uPlot.Options = {
      width: Math.max(240, element.clientWidth),
      height,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: { time: true, range: () => range.current },
        y: { range: (_u, min, max) => [Math.min(0, min), Math.max(1, max * 1.1)] },
      },
      axes: [
        // Room for a time label per tick, so labels never run together.
        { space: 90 },
        { values: (_u, ticks) => ticks.map((t) => `${+t.toFixed(2)} ${props.unit}`), size: 70 },
      ],
      series: [
        {},
        ...props.series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 1.5,
          spanGaps: false,
        })),
      ],
    };
    plot.current = new uPlot(options, [[], ...props.series.map(() => [])], element);
    const resize = new ResizeObserver(() => {
      plot.current?.setSize({ width: Math.max(240, element.clientWidth), height });
    });
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = undefined;
    };
    // A new set of series is a new chart; new values only update it (below).
  }, [labels, props.unit]);

  useEffect(() => {
    plot.current?.setData([
      [...props.times],
      ...props.series.map((s) => s.values.map((v) => v ?? null)),
    ] as uPlot.AlignedData);
  }, [props.times, props.series, props.from, props.to]);

  let sum = 0;
  for (const s of props.series) {
    for (const v of s.values) {
      sum += v ?? 0;
    }
  }
  return (
    <figure
      class="chart"
      data-chart={props.id}
      data-points={props.times.length}
      data-sum={sum.toFixed(3)}
    >
      <figcaption>{props.title}</figcaption>
      <div ref={holder} />
    </figure>
  );
}
