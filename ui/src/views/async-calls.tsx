/** A function's recent async calls with their state, and one call's result when opened. */
import { useState } from "preact/hooks";
import type { Api } from "../api.js";
import { dateTime, formatMs } from "../format.js";
import { usePoll } from "../hooks.js";
import type { CallView } from "../types.js";

export function AsyncCalls(props: { readonly api: Api; readonly name: string }) {
  const calls = usePoll(
    () =>
      props.api.json<CallView[]>(
        `/api/v1/calls?function=${encodeURIComponent(props.name)}&limit=20`,
      ),
    3000,
    props.name,
  );
  const [open, setOpen] = useState<CallView | undefined>(undefined);
  const [problem, setProblem] = useState<string | undefined>(undefined);
  const show = async (id: string) => {
    try {
      setOpen(await props.api.json<CallView>(`/api/v1/calls/${encodeURIComponent(id)}`));
      setProblem(undefined);
    } catch (error) {
      setProblem((error as Error).message);
    }
  };
  const list = calls.data ?? [];
  return (
    <section class="async-calls" aria-label="Async calls">
      <h3>Recent async calls</h3>
      {calls.error && <p class="error">{calls.error.message}</p>}
      {list.length === 0 ? (
        <p class="empty">
          None yet: call it with the async box ticked, or POST /async-function/{props.name}.
        </p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>Call</th>
              <th>State</th>
              <th>Status</th>
              <th>Attempts</th>
              <th>Queued</th>
              <th>Took</th>
            </tr>
          </thead>
          <tbody>
            {list.map((call) => (
              <tr key={call.id} data-call={call.id}>
                <td>
                  <button
                    type="button"
                    class="link"
                    title={call.id}
                    onClick={() => void show(call.id)}
                  >
                    {call.id.slice(0, 8)}
                  </button>
                </td>
                <td>
                  <span class={`state ${call.state}`}>{call.state}</span>
                </td>
                <td>{call.statusCode ?? "–"}</td>
                <td>{call.attempts}</td>
                <td>{dateTime(call.createdAt)}</td>
                <td>
                  {call.durationSeconds === undefined ? "–" : formatMs(call.durationSeconds * 1000)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {problem && <p class="error">{problem}</p>}
      {open && (
        <div class="call-result" aria-label="Call result">
          <p>
            Call <code>{open.id}</code>: {open.state}
            {open.statusCode !== undefined && ` with ${open.statusCode}`}
            {open.lastError && ` (${open.lastError})`}
          </p>
          {open.result && (
            <pre class="body" data-field="call-body">
              {open.result.bodyEncoding === "base64"
                ? `(binary, base64) ${open.result.body}`
                : open.result.body}
              {open.result.truncated && "\n… (truncated)"}
            </pre>
          )}
        </div>
      )}
    </section>
  );
}
