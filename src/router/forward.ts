/**
 * The router (DESIGN.md step 2) for sync calls: runs the call through the shared core
 * (run-call.ts: a slot on an instance, the function's timeout, failures named by cause) with
 * the caller's method, path, query, headers and body, and streams the answer back. It enforces
 * the function's body limit as the body arrives.
 */
import type { EventEmitter } from "node:events";
import type { IncomingHttpHeaders } from "node:http";
import { errorMessage } from "../errors.js";
import type { Executor } from "../executor/executor.js";
import type { RevisionTarget } from "../executor/revision-target.js";
import { CallController } from "./call-controller.js";
import type { PlatformCredentials } from "./credentials.js";
import type { Exchange, OutgoingHeaders } from "./exchange.js";
import {
  BodyTooLarge,
  classify,
  hopByHop,
  forwardedHeaders,
  runCall,
  type CallFailure,
} from "./run-call.js";

export interface ForwardRequest {
  readonly exchange: Exchange;
  readonly target: RevisionTarget;
  readonly callId: string;
  /** Path inside the function ("/" or "/sub/path") plus the query string. */
  readonly pathAndQuery: string;
  /** Route parameters from an HTTP trigger. */
  readonly params?: Record<string, string>;
  /** Told the status the caller got (for metrics), once the answer is out or has failed. */
  readonly onAnswered?: (status: number) => void;
  /**
   * Gets a "backgroundError" for each failure that is ours (RUNLET_UPSTREAM_FAILED): the caller
   * sees its code, the platform's log its detail.
   */
  readonly events?: Pick<EventEmitter, "emit">;
  /** Never passed on to the function. */
  readonly credentials: PlatformCredentials;
}

/**
 * Runs the call and answers the caller; settles once the answer is out. Not async: the call
 * path goes through it once, and an async layer would cost every call a promise and a turn.
 */
export function forward(executor: Executor, request: ForwardRequest): Promise<void> {
  const { exchange, target, callId, onAnswered } = request;
  const { maxBodyBytes } = target.config;
  const started = performance.now();
  // X-Start-Time as OpenFaaS's gateway writes it: when the call arrived, in Unix nanoseconds.
  const startTime = `${Date.now()}000000`;
  if (exchange.declaredLength > maxBodyBytes) {
    exchange.discardBody();
    onAnswered?.(
      fail(exchange, callId, classify(new BodyTooLarge(maxBodyBytes)), started, startTime),
    );
    return Promise.resolve();
  }
  const controller = new CallController();
  exchange.onAbandon(() => controller.abort(new Error("caller disconnected")));
  const method = exchange.method;
  const hasBody = method !== "GET" && method !== "HEAD";
  return runCall(
    executor,
    {
      target,
      callId,
      method,
      pathAndQuery: request.pathAndQuery,
      headers: upstreamHeaders(exchange),
      body: hasBody ? exchange.body(maxBodyBytes) : undefined,
      params: request.params,
      controller,
      credentials: request.credentials,
    },
    (response) => {
      const headers: OutgoingHeaders = forwardedHeaders(response.headers);
      headers["x-call-id"] = callId;
      headers["x-duration-seconds"] = ((performance.now() - started) / 1000).toFixed(6);
      headers["x-start-time"] = startTime;
      if (Buffer.isBuffer(response.body)) {
        exchange.send(response.status, headers, response.body);
        return response.status;
      }
      return exchange.stream(response.status, headers, response.body).then(() => response.status);
    },
  ).then(
    (status) => onAnswered?.(status),
    (failure: unknown) => {
      const { original, code } = failure as CallFailure;
      if (code === "RUNLET_UPSTREAM_FAILED") {
        request.events?.emit(
          "backgroundError",
          new Error(`call ${callId} to ${target.functionName} failed: ${errorMessage(original)}`, {
            cause: original,
          }),
        );
      }
      onAnswered?.(fail(exchange, callId, failure as CallFailure, started, startTime));
    },
  );
}

/** Answers with the failure, or cuts the connection if the answer has started; its status. */
function fail(
  exchange: Exchange,
  callId: string,
  failure: CallFailure,
  started: number,
  startTime: string,
): number {
  const { status } = failure;
  if (exchange.headersSent) {
    // Mid-stream: the status is out; cutting the connection is the only signal left.
    exchange.abort(failure.original instanceof Error ? failure.original : undefined);
    return status;
  }
  const headers: OutgoingHeaders = {
    "content-type": "application/json",
    "x-call-id": callId,
    "x-duration-seconds": ((performance.now() - started) / 1000).toFixed(6),
    "x-start-time": startTime,
  };
  if (status === 429) {
    headers["retry-after"] = "1";
  }
  exchange.send(status, headers, JSON.stringify(failure.toJSON()));
  return status;
}

function upstreamHeaders(exchange: Exchange): IncomingHttpHeaders {
  const headers: IncomingHttpHeaders = {};
  const received = exchange.headers;
  for (const key in received) {
    if (!hopByHop.has(key)) {
      headers[key] = received[key];
    }
  }
  headers["x-forwarded-for"] ??= exchange.remoteAddress ?? "";
  headers["x-forwarded-host"] ??= received.host ?? "";
  return headers;
}
