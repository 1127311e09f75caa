/**
 * The core every call through the router shares, whether its answer is streamed to a socket
 * (forward.ts, sync calls) or buffered (call.ts, async calls and triggers): take a slot on an
 * instance of the active revision, run the call there under the function's timeout, and turn
 * whatever went wrong into one classified failure (status, code, message).
 */
import type { IncomingHttpHeaders } from "node:http";
import {
  UserError,
  errorBody,
  isUserError,
  statusOf,
  type ErrorBody,
  type ErrorCode,
} from "../errors.js";
import { CrashLoopError, type Executor, type Lease } from "../executor/executor.js";
import type { RevisionTarget } from "../executor/revision-target.js";
import type { InvocationResponse } from "../provider/types.js";
import { formatDuration, formatSize } from "../spec/units.js";
import type { CallController } from "./call-controller.js";
import type { PlatformCredentials } from "./credentials.js";
import { InvalidResponse, type ExchangeBody } from "./exchange.js";

export interface RunCallRequest {
  readonly target: RevisionTarget;
  readonly callId: string;
  readonly method: string;
  /** Path inside the function ("/" or "/sub/path") plus the query string. */
  readonly pathAndQuery: string;
  /** Headers for the function, hop-by-hop ones already removed. */
  readonly headers: IncomingHttpHeaders;
  /**
   * Undefined for none; a Buffer when all of it is at hand (one write); a stream; or a
   * function that reads all of a body known to be small. That is called before the call takes
   * an instance slot or starts the function's timeout: a client slow to send its body holds
   * no instance, and the exchange bounds its wait with a 408 (issue 13). Cancellation applies.
   */
  readonly body: ExchangeBody;
  /** Route parameters from an HTTP trigger (sent as X-Runlet-Params). */
  readonly params?: Record<string, string>;
  /** Aborting it cancels the call (caller gone, platform closing); the timeout aborts it too. */
  readonly controller: CallController;
  /** Removed from the headers here, on every way a call takes to a function (issue 13). */
  readonly credentials: PlatformCredentials;
}

/** Why a call did not get a normal answer from the function, as the caller is told. */
export class CallFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly original: unknown,
  ) {
    super(message);
  }

  toJSON(): ErrorBody {
    return errorBody(this.code, this.message);
  }
}

/** Hop-by-hop headers are for one connection only (RFC 9110 §7.6.1). */
export const hopByHop = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
]);

export class BodyTooLarge extends UserError {
  constructor(limit: number) {
    super(
      "RUNLET_BODY_TOO_LARGE",
      `The request body is larger than this function's limit of ${formatSize(limit)}; send less, or raise maxBody in the function's spec.`,
    );
  }
}

/**
 * A streamed body still arriving when the function's timeout passed: the caller was slow, not
 * the function, so the call is cancelled on its instance and the instance kept (issue 13).
 */
export class RequestTimeout extends UserError {
  constructor(message: string) {
    super("RUNLET_REQUEST_TIMEOUT", message);
  }
}

export class FunctionTimeout extends Error {
  constructor(readonly timeoutMs: number) {
    super(`function timed out after ${formatDuration(timeoutMs)}`);
  }
}

class InstanceFailure extends Error {}

/**
 * Runs the call and hands the function's response to `deliver` while the instance slot is
 * still held (a streamed body lives on the instance). Resolves with what `deliver` returns;
 * rejects with a CallFailure.
 */
export async function runCall<T>(
  executor: Executor,
  request: RunCallRequest,
  deliver: (response: InvocationResponse) => T | Promise<T>,
): Promise<T> {
  const { target, controller } = request;
  const { timeoutMs } = target.config;
  let body = request.body;
  if (typeof body === "function") {
    try {
      body = await body(controller.signal);
    } catch (caught) {
      throw classify(controller.signal.aborted ? (controller.signal.reason as unknown) : caught);
    }
  }
  const streamed = body === undefined || Buffer.isBuffer(body) ? undefined : body;
  const timer = setTimeout(
    () =>
      controller.abort(
        streamed && !streamed.readableEnded
          ? new RequestTimeout(
              `The request body was still arriving when the function's timeout of ${formatDuration(timeoutMs)} passed; send it faster, or raise the function's timeout.`,
            )
          : new FunctionTimeout(timeoutMs),
      ),
    timeoutMs,
  );
  let lease: Lease | undefined;
  try {
    lease = executor.tryAcquire(target) ?? (await executor.acquire(target, controller.signal));
    const headers = request.headers;
    request.credentials.strip(headers);
    headers["x-call-id"] = request.callId;
    headers["x-runlet-deadline"] = String(Date.now() + timeoutMs);
    if (request.params) {
      headers["x-runlet-params"] = JSON.stringify(request.params);
    }
    const response = await lease.instance.invoke({
      path: request.pathAndQuery,
      method: request.method,
      headers,
      body,
      signal: controller.signal,
    });
    // A buffered answer is delivered at once: no promise, no extra turn.
    const delivering = deliver(response);
    const delivered = delivering instanceof Promise ? await delivering : delivering;
    lease.release();
    return delivered;
  } catch (caught) {
    const reason = controller.signal.aborted ? (controller.signal.reason as unknown) : caught;
    if (reason instanceof FunctionTimeout) {
      // A hung handler may never give its slot back: replace the instance.
      lease?.recycle(reason.message);
      if (target.config.compat === "kubeless") {
        // Kubeless' runtimes answer a call past its timeout with 408; its users' clients expect it.
        throw new CallFailure(408, "RUNLET_FUNCTION_TIMEOUT", reason.message, reason);
      }
    } else if (reason instanceof RequestTimeout) {
      // The caller's delay, not the function's: the call was cancelled on the instance.
      lease?.release();
    } else if (lease) {
      const exit = await lease.instance.exitCausing(caught);
      lease.release();
      if (exit) {
        throw classify(
          new InstanceFailure(`the function's instance ${exit.message} while handling the call`),
        );
      }
    }
    throw classify(reason);
  } finally {
    clearTimeout(timer);
  }
}

/** The status, code and message a caller sees for a failure. */
export function classify(error: unknown): CallFailure {
  if (error instanceof CallFailure) {
    return error;
  }
  let code: ErrorCode = "RUNLET_UPSTREAM_FAILED";
  let status: number | undefined;
  let message = error instanceof Error ? error.message : String(error);
  if (error instanceof FunctionTimeout) {
    code = "RUNLET_FUNCTION_TIMEOUT";
  } else if (isUserError(error)) {
    status = error.status;
    code = error.code;
    // A handler that does not load is the function's fault, not the caller's.
    if (code.startsWith("RUNLET_HANDLER_")) {
      status = 500;
    }
  } else if (error instanceof InstanceFailure) {
    code = "RUNLET_INSTANCE_FAILED";
  } else if (error instanceof InvalidResponse) {
    code = "RUNLET_INVALID_RESPONSE";
  } else if (error instanceof CrashLoopError) {
    code = "RUNLET_CRASH_LOOP";
  } else {
    // Our failure, whose message may name host paths (a package folder, a socket): the
    // caller gets the code, the platform's log the detail (CallFailure.original).
    message = "the function could not be reached; the cause is in the platform's log";
  }
  return new CallFailure(status ?? statusOf(code), code, message, error);
}

/** The function's response headers a caller may see, as strings: hop-by-hop ones dropped. */
export function responseHeaders(
  headers: InvocationResponse["headers"],
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [key, value] of Object.entries(headers)) {
    if (value !== undefined && !hopByHop.has(key)) {
      out[key] = typeof value === "number" ? String(value) : value;
    }
  }
  return out;
}

/**
 * responseHeaders() for an answer passed straight on: the object itself when it holds nothing
 * to drop (nearly always; it was parsed for this call alone), so a call costs no copy.
 */
export function forwardedHeaders(
  headers: InvocationResponse["headers"],
): Record<string, string | string[] | number> {
  for (const key in headers) {
    if (hopByHop.has(key) || headers[key] === undefined) {
      return responseHeaders(headers);
    }
  }
  return headers as Record<string, string | string[] | number>;
}
