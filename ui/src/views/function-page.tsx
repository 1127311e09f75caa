/** One function: charts, config, revisions, triggers, secret names, invoke, logs, async calls. */
import { useState } from "preact/hooks";
import type { Api } from "../api.js";
import { dateTime } from "../format.js";
import { usePoll } from "../hooks.js";
import type { FunctionView } from "../types.js";
import { AsyncCalls } from "./async-calls.js";
import { statusOf } from "./function-list.js";
import { FunctionCharts } from "./history-charts.js";
import { InvokeForm } from "./invoke-form.js";
import { LogView } from "./log-view.js";
import { Revisions } from "./revisions.js";

/** A config value as one line of text. */
function shown(value: unknown): string {
  if (value !== null && typeof value === "object") {
    return Object.entries(value as Record<string, unknown>)
      .map(([key, inner]) => `${key} ${String(inner)}`)
      .join(", ");
  }
  return String(value);
}

export function FunctionPage(props: { readonly api: Api; readonly name: string }) {
  const path = `/api/v1/functions/${encodeURIComponent(props.name)}`;
  const fn = usePoll(() => props.api.json<FunctionView>(path), 2000, props.name);
  const [callId, setCallId] = useState("");
  const view = fn.data;
  if (!view) {
    return (
      <section>
        <h2>{props.name}</h2>
        {fn.error ? <p class="error">{fn.error.message}</p> : <p>Loading…</p>}
      </section>
    );
  }
  const endpoint = `${location.origin}/function/${props.api.address(view.name)}`;
  return (
    <section class="function-page">
      <header class="page-head">
        <h2>{view.name}</h2>
        <span class={`status ${statusOf(view)}`}>{statusOf(view)}</span>
        <span>
          revision <strong data-field="revision">{view.revision}</strong> · {view.config.runtime} ·{" "}
          {view.availableReplicas}/{view.replicas} replicas
        </span>
        <a class="button" href={`#/deploy?name=${encodeURIComponent(view.name)}`}>
          Deploy new code
        </a>
      </header>
      <p class="endpoint">
        <code>{endpoint}</code>
      </p>
      {fn.error && <p class="error">{fn.error.message}</p>}
      <FunctionCharts api={props.api} name={view.name} />
      <div class="columns">
        <div>
          <InvokeForm
            api={props.api}
            name={view.name}
            authRequired={view.config.auth === "required"}
            onCall={setCallId}
          />
          <LogView api={props.api} name={view.name} callId={callId} onCallId={setCallId} />
        </div>
        <div>
          <section class="config" aria-label="Config">
            <h3>Config</h3>
            <table>
              <tbody>
                {Object.entries(view.config).map(([key, value]) => (
                  <tr key={key}>
                    <th>{key}</th>
                    <td>{shown(value)}</td>
                  </tr>
                ))}
                <tr>
                  <th>package</th>
                  <td>
                    <code title={view.package}>{view.package.slice(0, 19)}</code>
                  </td>
                </tr>
                <tr>
                  <th>updated</th>
                  <td>{dateTime(view.updatedAt)}</td>
                </tr>
              </tbody>
            </table>
            <h4>Environment</h4>
            {Object.keys(view.env).length === 0 ? (
              <p class="empty">None.</p>
            ) : (
              <ul class="names">
                {Object.keys(view.env)
                  .sort()
                  .map((key) => (
                    <li key={key}>
                      <code>{key}</code>
                    </li>
                  ))}
              </ul>
            )}
            <h4>Secrets</h4>
            {view.secrets.length === 0 ? (
              <p class="empty">None.</p>
            ) : (
              <ul class="names" aria-label="Secret names">
                {view.secrets.map((secret) => (
                  <li key={secret}>
                    <code>{secret}</code>
                  </li>
                ))}
              </ul>
            )}
          </section>
          <section class="triggers" aria-label="Triggers">
            <h3>Triggers</h3>
            {(view.triggers ?? []).length === 0 ? (
              <p class="empty">Only /function/{props.api.address(view.name)}.</p>
            ) : (
              <ul>
                {(view.triggers ?? []).map((trigger) => (
                  <li key={trigger.name}>
                    <strong>{trigger.kind}</strong> <code>{shown(trigger["spec"])}</code> (
                    {trigger.name})
                  </li>
                ))}
              </ul>
            )}
          </section>
          <Revisions api={props.api} name={view.name} active={view.revision} onChange={fn.reload} />
          <AsyncCalls api={props.api} name={view.name} />
        </div>
      </div>
    </section>
  );
}
