/**
 * Delivers a finished async call to its callback URL: a POST with the function's response
 * headers and body, plus headers naming the call. Any 2xx is delivered; anything else
 * (another status, a refused connection, a timeout) is a failure the queue retries.
 */
import type { DueCallback } from "../store/call-store.js";

/** Headers not passed on from the function's response: they describe a connection or a body we re-frame. */
const notForwarded = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "content-length",
  "host",
  "trailer",
  "upgrade",
  "te",
]);

export interface CallbackOutcome {
  readonly delivered: boolean;
  readonly status: number | undefined;
  readonly error: string | undefined;
}

export async function deliverCallback(
  callback: DueCallback,
  signal: AbortSignal,
): Promise<CallbackOutcome> {
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(callback.result?.headers ?? {})) {
    if (!notForwarded.has(key.toLowerCase())) {
      headers[key.toLowerCase()] = Array.isArray(value) ? value.join(", ") : value;
    }
  }
  headers["x-call-id"] = callback.id;
  headers["x-function-name"] = callback.functionName;
  headers["x-function-status"] = String(callback.statusCode ?? 0);
  headers["x-duration-seconds"] = ((callback.durationMs ?? 0) / 1000).toFixed(6);
  headers["x-runlet-call-state"] = callback.state;
  if (callback.result?.truncated) {
    headers["x-runlet-result-truncated"] = "true";
  }
  try {
    const response = await fetch(callback.url, {
      method: "POST",
      headers,
      body: callback.result?.body ?? Buffer.alloc(0),
      redirect: "manual",
      signal,
    });
    await response.arrayBuffer().catch(() => undefined);
    const delivered = response.status >= 200 && response.status < 300;
    return {
      delivered,
      status: response.status,
      error: delivered ? undefined : `the callback URL answered ${response.status}`,
    };
  } catch (error) {
    const reason = signal.aborted ? signal.reason : error;
    const cause = (error as { cause?: unknown }).cause;
    const detail =
      cause instanceof Error ? `${errorText(reason)} (${cause.message})` : errorText(reason);
    return { delivered: false, status: undefined, error: `the callback failed: ${detail}` };
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
