/**
 * A function's logs, live (server-sent events, read with the token in a header), with a
 * call-id filter the server applies. Lines are the function's output: shown as text only.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import type { Api } from "../api.js";
import { readEventStream } from "../event-stream.js";
import { clockTime } from "../format.js";
import type { LogLine } from "../types.js";

/** Lines kept on screen; older ones scroll away. */
const shownLines = 1000;

export function LogView(props: {
  readonly api: Api;
  readonly name: string;
  readonly callId: string;
  readonly onCallId: (callId: string) => void;
}) {
  const [lines, setLines] = useState<LogLine[]>([]);
  const [state, setState] = useState<"connecting" | "following" | "ended" | "failed">("connecting");
  const [problem, setProblem] = useState<string | undefined>(undefined);
  const box = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const controller = new AbortController();
    setLines([]);
    setState("connecting");
    setProblem(undefined);
    const query = new URLSearchParams({
      tail: "200",
      ...(props.callId ? { callId: props.callId } : {}),
    });
    readEventStream(
      props.api,
      `/api/v1/functions/${encodeURIComponent(props.name)}/logs/events?${query.toString()}`,
      (event) => {
        if (event.event === "live") {
          setState("following");
        } else if (event.event === "log") {
          const line = JSON.parse(event.data) as LogLine;
          setLines((previous) => [...previous.slice(-(shownLines - 1)), line]);
        }
      },
      controller.signal,
    ).then(
      () => setState("ended"),
      (error: unknown) => {
        if (!controller.signal.aborted) {
          setState("failed");
          setProblem((error as Error).message);
        }
      },
    );
    return () => controller.abort();
  }, [props.name, props.callId]);

  useEffect(() => {
    const element = box.current;
    if (element) {
      element.scrollTop = element.scrollHeight;
    }
  }, [lines]);

  return (
    <section class="logs" aria-label="Logs">
      <header class="section-head">
        <h3>Logs</h3>
        <label>
          Call id
          <input
            name="call-id"
            placeholder="all calls"
            value={props.callId}
            onChange={(e) => props.onCallId(e.currentTarget.value.trim())}
          />
        </label>
        {props.callId && (
          <button type="button" onClick={() => props.onCallId("")}>
            All calls
          </button>
        )}
        <span class={`stream-state ${state}`} data-state={state}>
          {state}
        </span>
      </header>
      {problem && <p class="error">{problem}</p>}
      <div class="log-lines" ref={box} role="log">
        {lines.length === 0 && (
          <p class="empty">No lines{props.callId ? " for this call" : ""} yet.</p>
        )}
        {lines.map((line, index) => (
          <div class={`log-line ${line.stream}`} key={index}>
            <time>{clockTime(line.time)}</time>
            {line.callId ? (
              <button
                type="button"
                class="call-id"
                title={line.callId}
                onClick={() => props.onCallId(line.callId ?? "")}
              >
                {line.callId.slice(0, 8)}
              </button>
            ) : (
              <span class="call-id none">—</span>
            )}
            <span class="text">{line.text}</span>
          </div>
        ))}
      </div>
    </section>
  );
}
