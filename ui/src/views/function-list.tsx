/** The functions, live: status, replicas, requests/s, error rate, p50/p99 and cold starts. */
import type { Api } from "../api.js";
import { formatMs, formatPercent, formatRate } from "../format.js";
import { functionHref, usePoll } from "../hooks.js";
import type { FunctionLoad, MetricsSummary } from "../types.js";
import { PlatformCharts } from "./history-charts.js";

export function statusOf(fn: Pick<FunctionLoad, "replicas" | "availableReplicas">): string {
  if (fn.replicas === 0) {
    return "idle";
  }
  return fn.availableReplicas >= fn.replicas ? "ready" : "starting";
}

export function FunctionList(props: { readonly api: Api }) {
  const summary = usePoll(
    () => props.api.json<MetricsSummary>("/api/v1/metrics/summary"),
    2000,
    "summary",
  );
  const functions = summary.data?.functions ?? [];
  return (
    <section>
      <header class="page-head">
        <h2>Functions</h2>
        <a class="button" href="#/deploy">
          Deploy a function
        </a>
      </header>
      {summary.error && <p class="error">{summary.error.message}</p>}
      {summary.data && functions.length === 0 && (
        <p class="empty">
          Nothing deployed yet. <a href="#/deploy">Deploy a function</a>, or run{" "}
          <code>runlet deploy</code>.
        </p>
      )}
      {functions.length > 0 && (
        <table class="functions" aria-label="Functions">
          <thead>
            <tr>
              <th>Name</th>
              <th>Status</th>
              <th>Replicas</th>
              <th>Req/s</th>
              <th>Errors</th>
              <th>p50</th>
              <th>p99</th>
              <th>Cold starts</th>
              <th>Revision</th>
              <th>Runtime</th>
            </tr>
          </thead>
          <tbody>
            {functions.map((fn) => (
              <tr key={fn.name} data-function={fn.name}>
                <td>
                  <a href={functionHref(fn.name)}>{fn.name}</a>
                </td>
                <td>
                  <span class={`status ${statusOf(fn)}`}>{statusOf(fn)}</span>
                </td>
                <td>
                  {fn.availableReplicas}/{fn.replicas}
                </td>
                <td data-field="rps">{formatRate(fn.requestsPerSecond)}</td>
                <td>{formatPercent(fn.errorRate)}</td>
                <td>{formatMs(fn.p50Ms)}</td>
                <td>{formatMs(fn.p99Ms)}</td>
                <td>{fn.coldStarts}</td>
                <td>{fn.revision}</td>
                <td>{fn.runtime}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {summary.data && (
        <p class="hint">
          Over the last {summary.data.windowSeconds} s. Platform:{" "}
          {formatRate(summary.data.platform.requestsPerSecond)} req/s,{" "}
          {summary.data.platform.replicas} instances, {summary.data.platform.inFlight} calls in
          flight.
        </p>
      )}
      <PlatformCharts api={props.api} />
    </section>
  );
}
