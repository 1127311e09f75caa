/**
 * How the router runs one call on an instance: through the instance's framed channel when it
 * offers one (local instances), else as an HTTP request on its dispatcher (anything that
 * speaks only the HTTP runtime protocol). The router sees one shape either way.
 */
import type { ServerResponse } from "node:http";
import type { Readable } from "node:stream";
import type { Dispatcher } from "undici";
import type {
  CancelSignal,
  Instance,
  InvocationRequest,
  InvocationResponse,
} from "../provider/types.js";

export function callInstance(
  instance: Pick<Instance, "channel" | "dispatcher">,
  request: InvocationRequest,
): Promise<InvocationResponse> {
  return instance.channel
    ? instance.channel.invoke(request)
    : callOverHttp(instance.dispatcher, request);
}

async function callOverHttp(
  dispatcher: Dispatcher,
  request: InvocationRequest,
): Promise<InvocationResponse> {
  const response = await dispatcher.request({
    path: request.path,
    method: request.method as Dispatcher.HttpMethod,
    headers: request.headers,
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

/**
 * Streams `body` to the caller and resolves once all of it is handed to the socket. Plain
 * pipe() plus three listeners: stream.pipeline() would cost an AbortController, a DOMException
 * and its own listeners on every call of the hot path.
 */
export function sendBody(body: Readable, res: ServerResponse): Promise<void> {
  const ended = bodyEnded(body);
  body.pipe(res);
  return ended;
}

/**
 * Resolves when a function's response body has ended; rejects when it fails, or is destroyed
 * before its end (the answer is then incomplete). Its listeners are removed either way.
 */
export function bodyEnded(body: Readable): Promise<void> {
  return new Promise((resolve, reject) => {
    const onEnd = (): void => {
      cleanUp();
      resolve();
    };
    const onError = (error: Error): void => {
      cleanUp();
      reject(error);
    };
    const onClose = (): void => {
      // Destroyed without an error (or before "end" was seen): the answer is incomplete.
      cleanUp();
      reject(new Error("the function's response ended early"));
    };
    const cleanUp = (): void => {
      body.off("end", onEnd);
      body.off("error", onError);
      body.off("close", onClose);
    };
    body.once("end", onEnd);
    body.once("error", onError);
    body.once("close", onClose);
  });
}
