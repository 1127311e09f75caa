/** What a build reports while it runs: steps with durations, the tools' output, notices. */

export type BuildEvent =
  | {
      readonly type: "step";
      readonly step: string;
      readonly status: "start";
      /** What runs, e.g. the command line. */
      readonly detail?: string;
    }
  | {
      readonly type: "step";
      readonly step: string;
      /** "running": a heartbeat every few seconds, so a quiet tool (go build) shows progress. */
      readonly status: "running" | "done" | "cached" | "failed";
      readonly durationMs: number;
      readonly detail?: string;
    }
  | { readonly type: "log"; readonly step: string; readonly text: string }
  | { readonly type: "notice"; readonly text: string };

export type BuildEventSink = (event: BuildEvent) => void;

const defaultHeartbeatMs = 5000;

/** Runs `work` as a named step: start and done/failed events around it, with its duration. */
export async function step<T>(
  emit: BuildEventSink,
  name: string,
  detail: string | undefined,
  work: () => Promise<T>,
  heartbeatMs = defaultHeartbeatMs,
): Promise<T> {
  const started = Date.now();
  emit({ type: "step", step: name, status: "start", ...(detail ? { detail } : {}) });
  const heartbeat = setInterval(() => {
    emit({ type: "step", step: name, status: "running", durationMs: Date.now() - started });
  }, heartbeatMs);
  try {
    const result = await work();
    emit({ type: "step", step: name, status: "done", durationMs: Date.now() - started });
    return result;
  } catch (error) {
    emit({ type: "step", step: name, status: "failed", durationMs: Date.now() - started });
    throw error;
  } finally {
    clearInterval(heartbeat);
  }
}
