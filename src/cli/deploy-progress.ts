/**
 * Reads a streamed deploy (NDJSON: build steps, tool output, then the result or the error)
 * and prints the build as it happens: step names with durations, the tools' lines indented.
 */
import type { Readable } from "node:stream";
import type { BuildEvent } from "../build/build-events.js";
import { UserError, type ErrorCode } from "../errors.js";

export interface StreamedDeployResult {
  readonly revision: number;
  readonly outcome: "created" | "updated" | "unchanged";
}

type StreamLine =
  | BuildEvent
  | ({ readonly type: "result" } & StreamedDeployResult)
  | {
      readonly type: "error";
      readonly status: number;
      readonly error: { code: string; message: string } & Record<string, unknown>;
    };

/** Consumes the stream; resolves to the deploy result, or throws the deploy's error. */
export async function readDeployStream(
  body: Readable,
  print: (text: string) => void,
): Promise<StreamedDeployResult> {
  let pending = "";
  let result: StreamedDeployResult | undefined;
  const loggedSteps = new Set<string>();
  const handle = (text: string): void => {
    if (text.trim() === "") {
      return;
    }
    const line = JSON.parse(text) as StreamLine;
    if (line.type === "result") {
      result = { revision: line.revision, outcome: line.outcome };
    } else if (line.type === "error") {
      const { code, message, ...details } = line.error;
      // The tool's output was just printed live; the error need not repeat it.
      const shown =
        typeof details["step"] === "string" && loggedSteps.has(details["step"])
          ? message
              .split("\n")
              .filter((text) => !text.startsWith("  "))
              .join("\n")
          : message;
      throw new UserError(code as ErrorCode, shown, { status: line.status, details });
    } else {
      if (line.type === "log") {
        loggedSteps.add(line.step);
      }
      print(formatBuildEvent(line));
    }
  };
  for await (const chunk of body) {
    pending += (chunk as Buffer).toString("utf8");
    let newline = pending.indexOf("\n");
    while (newline !== -1) {
      handle(pending.slice(0, newline));
      pending = pending.slice(newline + 1);
      newline = pending.indexOf("\n");
    }
  }
  handle(pending);
  if (!result) {
    throw new UserError(
      "RUNLET_API_ERROR",
      "The gateway ended the deploy stream without a result; check the server's log and deploy again.",
    );
  }
  return result;
}

export function formatBuildEvent(event: BuildEvent): string {
  switch (event.type) {
    case "notice":
      return `! ${event.text}`;
    case "log":
      return `  │ ${event.text}`;
    case "step":
      switch (event.status) {
        case "start":
          return event.detail?.startsWith(event.step)
            ? `▸ ${event.detail}`
            : `▸ ${event.step}${event.detail ? `: ${event.detail}` : ""}`;
        case "running":
          return `… ${event.step} still running (${formatMs(event.durationMs)})`;
        case "done":
          return `✔ ${event.step} (${formatMs(event.durationMs)})`;
        case "cached":
          return `✔ ${event.step} cached${event.detail ? `: ${event.detail}` : ""}`;
        case "failed":
          return `✘ ${event.step} failed after ${formatMs(event.durationMs)}`;
      }
  }
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${ms}ms` : `${(ms / 1000).toFixed(1)}s`;
}
