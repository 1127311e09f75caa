/**
 * Charts from the gateway's metrics history (GET /api/v1/metrics/history): requests/s by
 * status, p50/p99 latency, cold starts, replicas and calls in flight, over the last hour or
 * day, for one function or the whole platform.
 */
import { useState } from "preact/hooks";
import type { Api } from "../api.js";
import { usePoll } from "../hooks.js";
import type { MetricsHistory, SeriesName } from "../types.js";
import { TimeChart, type ChartSeries } from "./time-chart.js";

/** What is shown: the last 5 minutes are the hour's history, cut. */
type Range = "5 min" | "hour" | "day";

const rangeSeconds: Record<Range, number> = { "5 min": 300, hour: 3600, day: 86_400 };

/** The history's points from `from` on. */
function since(history: MetricsHistory, from: number): MetricsHistory {
  const first = history.times.findIndex((time) => time >= from);
  if (first <= 0) {
    return first === 0 ? history : { ...history, times: [], series: {} };
  }
  return {
    ...history,
    times: history.times.slice(first),
    series: Object.fromEntries(
      Object.entries(history.series).map(([name, values]) => [name, values.slice(first)]),
    ),
  };
}

function seriesOf(
  history: MetricsHistory,
  picks: readonly [SeriesName, string, string][],
): ChartSeries[] {
  return picks.map(([name, label, color]) => ({
    label,
    color,
    values: history.series[name] ?? history.times.map(() => null),
  }));
}

function HistoryCharts(props: { readonly api: Api; readonly name: string | undefined }) {
  const [range, setRange] = useState<Range>("5 min");
  const query = new URLSearchParams({
    range: range === "day" ? "day" : "hour",
    ...(props.name ? { function: props.name } : {}),
  });
  const history = usePoll(
    () => props.api.json<MetricsHistory>(`/api/v1/metrics/history?${query.toString()}`),
    range === "day" ? 30_000 : 2000,
    `${props.name ?? ""}:${range}`,
  );
  const loaded = history.data;
  const to =
    loaded && loaded.times.length > 0
      ? Math.max(Date.now() / 1000, loaded.times[loaded.times.length - 1] ?? 0)
      : Date.now() / 1000;
  const from = to - rangeSeconds[range];
  const data = loaded && since(loaded, from);
  return (
    <section class="charts" aria-label={props.name ? `Charts of ${props.name}` : "Platform charts"}>
      <header class="section-head">
        <h3>{props.name ? "Traffic" : "Platform"}</h3>
        <div class="range" role="group" aria-label="Range">
          {(["5 min", "hour", "day"] as const).map((r) => (
            <button
              key={r}
              type="button"
              class={r === range ? "on" : ""}
              aria-pressed={r === range}
              onClick={() => setRange(r)}
            >
              last {r}
            </button>
          ))}
        </div>
      </header>
      {history.error && <p class="error">{history.error.message}</p>}
      {data && (
        <div class="chart-grid">
          <TimeChart
            id="requests"
            title="Requests/s by status"
            unit="/s"
            times={data.times}
            from={from}
            to={to}
            series={seriesOf(data, [
              ["ok", "2xx/3xx", "#2b8a3e"],
              ["clientErrors", "4xx", "#e67700"],
              ["serverErrors", "5xx", "#c92a2a"],
            ])}
          />
          <TimeChart
            id="latency"
            title="Latency"
            unit="ms"
            times={data.times}
            from={from}
            to={to}
            series={seriesOf(data, [
              ["p50Ms", "p50", "#1971c2"],
              ["p99Ms", "p99", "#862e9c"],
            ])}
          />
          <TimeChart
            id="cold-starts"
            title="Cold starts"
            unit=""
            times={data.times}
            from={from}
            to={to}
            series={seriesOf(data, [["coldStarts", "cold starts", "#e8590c"]])}
          />
          <TimeChart
            id="instances"
            title="Replicas and calls in flight"
            unit=""
            times={data.times}
            from={from}
            to={to}
            series={seriesOf(data, [
              ["replicas", "replicas", "#0b7285"],
              ["inFlight", "in flight", "#5f3dc4"],
            ])}
          />
        </div>
      )}
    </section>
  );
}

export function FunctionCharts(props: { readonly api: Api; readonly name: string }) {
  return <HistoryCharts api={props.api} name={props.name} />;
}

export function PlatformCharts(props: { readonly api: Api }) {
  return <HistoryCharts api={props.api} name={undefined} />;
}
