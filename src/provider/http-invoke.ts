/**
 * A call run as a plain HTTP request on the runtime server (docs/runtime-protocol.md): what a
 * provider uses for an instance that has no framed channel, or to reach one where only HTTP
 * gets through.
 */
import type { Dispatcher } from "undici";
import type { CancelSignal, InvocationRequest, InvocationResponse } from "./types.js";

export async function invokeOverHttp(
  dispatcher: Dispatcher,
  request: InvocationRequest,
): Promise<InvocationResponse> {
  const response = await dispatcher.request({
    path: request.path,
    method: request.method as Dispatcher.HttpMethod,
    headers: request.headers as Record<string, string | string[]>,
    body: request.body,
    signal: abortSignalOf(request.signal),
  });
  return { status: response.statusCode, headers: response.headers, body: response.body };
}

/** A real AbortSignal that follows `signal`, for APIs that take only that. */
export function abortSignalOf(signal: CancelSignal): AbortSignal {
  if (signal instanceof AbortSignal) {
    return signal;
  }
  const controller = new AbortController();
  if (signal.aborted) {
    controller.abort(signal.reason);
  } else {
    signal.addEventListener("abort", () => controller.abort(signal.reason), { once: true });
  }
  return controller.signal;
}
