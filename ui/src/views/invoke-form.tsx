/**
 * Calls the function from the browser: method, path, headers and body in; status, headers,
 * body and duration out. The answer is the function's (anyone's input may shape it), so it is
 * shown as text only. The token goes only to a function that requires it, as `runlet invoke`
 * does; a public function never sees it.
 */
import { useState } from "preact/hooks";
import type { Api } from "../api.js";
import { formatMs } from "../format.js";

const methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;

interface Answer {
  readonly status: number;
  readonly statusText: string;
  readonly headers: readonly [string, string][];
  readonly body: string;
  readonly ms: number;
  readonly callId: string | undefined;
}

/** `Name: value` lines as header pairs; a line without a colon is a mistake worth naming. */
export function parseHeaders(text: string): [string, string][] {
  const pairs: [string, string][] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "") {
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) {
      throw new Error(`The header line "${line}" has no "Name: value".`);
    }
    pairs.push([line.slice(0, colon).trim(), line.slice(colon + 1).trim()]);
  }
  return pairs;
}

export function InvokeForm(props: {
  readonly api: Api;
  readonly name: string;
  readonly authRequired: boolean;
  readonly onCall: (callId: string) => void;
}) {
  const [method, setMethod] = useState<string>("GET");
  const [path, setPath] = useState("");
  const [headers, setHeaders] = useState("");
  const [body, setBody] = useState("");
  const [queued, setQueued] = useState(false);
  const [answer, setAnswer] = useState<Answer | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);

  const send = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const sub =
        path.trim() === ""
          ? ""
          : path.trim().startsWith("/") || path.trim().startsWith("?")
            ? path.trim()
            : `/${path.trim()}`;
      const requestHeaders = new Headers(parseHeaders(headers));
      if (props.authRequired && !requestHeaders.has("authorization")) {
        requestHeaders.set("authorization", `Bearer ${props.api.token}`);
      }
      const route = queued ? "async-function" : "function";
      const started = performance.now();
      const response = await fetch(
        `/${route}/${encodeURIComponent(props.api.address(props.name))}${sub}`,
        {
          method: queued ? "POST" : method,
          headers: requestHeaders,
          body:
            (queued || (method !== "GET" && method !== "OPTIONS")) && body !== ""
              ? body
              : undefined,
          credentials: "omit",
          redirect: "manual",
        },
      );
      const text = await response.text();
      const ms = performance.now() - started;
      const callId = response.headers.get("x-call-id") ?? undefined;
      setAnswer({
        status: response.status,
        statusText: response.statusText,
        headers: [...response.headers.entries()].sort(([a], [b]) => (a < b ? -1 : 1)),
        body: text,
        ms,
        callId,
      });
      if (callId) {
        props.onCall(callId);
      }
    } catch (caught) {
      setError((caught as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="invoke" aria-label="Invoke">
      <h3>Invoke</h3>
      <form onSubmit={send}>
        <div class="row">
          <label>
            Method
            <select
              value={method}
              disabled={queued}
              onChange={(e) => setMethod(e.currentTarget.value)}
            >
              {methods.map((m) => (
                <option key={m} value={m}>
                  {m}
                </option>
              ))}
            </select>
          </label>
          <label class="grow">
            Path
            <input
              name="path"
              placeholder="/sub/path?query=1"
              value={path}
              onInput={(e) => setPath(e.currentTarget.value)}
            />
          </label>
          <label class="check">
            <input
              type="checkbox"
              checked={queued}
              onChange={(e) => setQueued(e.currentTarget.checked)}
            />
            async
          </label>
        </div>
        <label>
          Headers
          <textarea
            name="headers"
            rows={2}
            placeholder="Content-Type: application/json"
            value={headers}
            onInput={(e) => setHeaders(e.currentTarget.value)}
          />
        </label>
        <label>
          Body
          <textarea
            name="body"
            rows={4}
            value={body}
            onInput={(e) => setBody(e.currentTarget.value)}
          />
        </label>
        <button type="submit" disabled={busy}>
          {busy ? "Sending…" : "Send"}
        </button>
      </form>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {answer && (
        <div class="answer" aria-label="Answer">
          <p>
            <strong data-field="status">{answer.status}</strong> {answer.statusText} in{" "}
            <span data-field="duration">{formatMs(answer.ms)}</span>
            {answer.callId && (
              <>
                {" "}
                · call <code data-field="call-id">{answer.callId}</code>
              </>
            )}
          </p>
          <details>
            <summary>{answer.headers.length} headers</summary>
            <table class="headers">
              <tbody>
                {answer.headers.map(([name, value]) => (
                  <tr key={name}>
                    <th>{name}</th>
                    <td>{value}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </details>
          <pre class="body" data-field="body">
            {answer.body}
          </pre>
        </div>
      )}
    </section>
  );
}
