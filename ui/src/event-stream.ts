/**
 * Server-sent events read with fetch, not EventSource: EventSource cannot send an
 * Authorization header, and the token must not go in the URL. Parses the text/event-stream
 * framing (event, data; comments ignored) and hands each event on until aborted.
 */
import type { Api } from "./api.js";

export interface StreamEvent {
  readonly event: string;
  readonly data: string;
}

export async function readEventStream(
  api: Api,
  path: string,
  onEvent: (event: StreamEvent) => void,
  signal: AbortSignal,
): Promise<void> {
  const response = await api.request(path, {
    headers: { accept: "text/event-stream" },
    signal,
  });
  const reader = response.body?.pipeThrough(new TextDecoderStream()).getReader();
  if (!reader) {
    return;
  }
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) {
      return;
    }
    buffer += value;
    let end = buffer.indexOf("\n\n");
    while (end >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message";
      const data: string[] = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) {
          event = line.slice(6).trim();
        } else if (line.startsWith("data:")) {
          data.push(line.slice(5).replace(/^ /, ""));
        }
      }
      if (data.length > 0) {
        onEvent({ event, data: data.join("\n") });
      }
      end = buffer.indexOf("\n\n");
    }
  }
}
