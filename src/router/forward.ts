/**
 * The router (DESIGN.md step 2) for sync calls: runs the call through the shared core
 * (run-call.ts: a slot on an instance, the function's timeout, failures named by cause) with
 * the caller's method, path, query, headers and streamed body, and streams the answer back.
 * It enforces the function's body limit as the body arrives.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import { Transform, type TransformCallback } from "node:stream";
import type { Executor } from "../executor/executor.js";
import type { RevisionTarget } from "../executor/revision-target.js";
import { CallController } from "./call-controller.js";
import type { CancelSignal } from "../provider/types.js";
import { sendBody } from "./instance-call.js";
import {
  BodyTooLarge,
  classify,
  hopByHop,
  responseHeaders,
  runCall,
  type CallFailure,
} from "./run-call.js";

export interface ForwardRequest {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly target: RevisionTarget;
  readonly callId: string;
  /** Path inside the function ("/" or "/sub/path") plus the query string. */
  readonly pathAndQuery: string;
  /** Route parameters from an HTTP trigger. */
  readonly params?: Record<string, string>;
}

/** What happened, for metrics and logs. */
export interface ForwardResult {
  readonly status: number;
}

export async function forward(executor: Executor, request: ForwardRequest): Promise<ForwardResult> {
  const { req, res, target, callId } = request;
  const { maxBodyBytes } = target.config;
  const started = performance.now();
  const declaredLength = Number(req.headers["content-length"] ?? 0);
  if (declaredLength > maxBodyBytes) {
    req.resume();
    return fail(res, callId, classify(new BodyTooLarge(maxBodyBytes)), started);
  }
  const controller = new CallController();
  // Left on the response: once the answer is out, "close" finds it finished and does nothing.
  res.on("close", () => {
    if (!res.writableFinished) {
      controller.abort(new Error("caller disconnected"));
    }
  });
  const method = req.method ?? "GET";
  const hasBody = method !== "GET" && method !== "HEAD";
  try {
    return await runCall(
      executor,
      {
        target,
        callId,
        method,
        pathAndQuery: request.pathAndQuery,
        headers: upstreamHeaders(req),
        body: !hasBody
          ? undefined
          : declaredLength <= maxWholeBodyBytes && hasLength(req)
            ? (signal) => readWhole(req, signal)
            : req.pipe(limitBytes(maxBodyBytes)),
        params: request.params,
        controller,
      },
      async (response) => {
        const headers: Record<string, string | string[]> = responseHeaders(response.headers);
        headers["x-call-id"] = callId;
        headers["x-duration-seconds"] = ((performance.now() - started) / 1000).toFixed(6);
        res.writeHead(response.status, headers);
        if (Buffer.isBuffer(response.body)) {
          res.end(response.body);
        } else {
          await sendBody(response.body, res);
        }
        return { status: response.status };
      },
    );
  } catch (failure) {
    return fail(res, callId, failure as CallFailure, started);
  }
}

function fail(
  res: ServerResponse,
  callId: string,
  failure: CallFailure,
  started: number,
): ForwardResult {
  const { status } = failure;
  if (res.headersSent) {
    // Mid-stream: the status is out; cutting the connection is the only signal left.
    res.destroy(failure.original instanceof Error ? failure.original : undefined);
    return { status };
  }
  const body = JSON.stringify(failure.toJSON());
  const headers: Record<string, string | number> = {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    "x-call-id": callId,
    "x-duration-seconds": ((performance.now() - started) / 1000).toFixed(6),
  };
  if (status === 429) {
    headers["retry-after"] = "1";
  }
  res.writeHead(status, headers);
  res.end(body);
  return { status };
}

function upstreamHeaders(req: IncomingMessage): IncomingHttpHeaders {
  const headers: IncomingHttpHeaders = {};
  for (const [key, value] of Object.entries(req.headers)) {
    if (!hopByHop.has(key)) {
      headers[key] = value;
    }
  }
  headers["x-forwarded-for"] ??= req.socket.remoteAddress ?? "";
  headers["x-forwarded-host"] ??= req.headers.host ?? "";
  return headers;
}

/**
 * Bodies with a declared length up to this size are read whole before they go to the
 * instance: one buffer with the call's head instead of a stream through the limit.
 */
const maxWholeBodyBytes = 64 * 1024;

/** Whether the request says how long its body is (the HTTP parser then holds it to that). */
function hasLength(req: IncomingMessage): boolean {
  return (
    req.headers["content-length"] !== undefined && req.headers["transfer-encoding"] === undefined
  );
}

/**
 * All of a body whose length was declared and checked against the limit (the parser stops
 * the body at that length). Cancellation (timeout, caller gone) stops the wait and lets the
 * rest of the body drain.
 */
function readWhole(req: IncomingMessage, signal: CancelSignal): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanUp();
      resolve(chunks.length === 1 && chunks[0] ? chunks[0] : Buffer.concat(chunks));
    };
    const onAbort = (): void => {
      cleanUp();
      req.resume();
      reject(signal.reason);
    };
    const cleanUp = (): void => {
      req.off("data", onData);
      req.off("end", onEnd);
      signal.removeEventListener("abort", onAbort);
    };
    if (signal.aborted) {
      req.resume();
      reject(signal.reason);
      return;
    }
    req.on("data", onData);
    req.once("end", onEnd);
    signal.addEventListener("abort", onAbort);
  });
}

/** Passes bytes through until `limit`, then fails the stream with BodyTooLarge. */
function limitBytes(limit: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      seen += chunk.length;
      if (seen > limit) {
        callback(new BodyTooLarge(limit));
        return;
      }
      callback(null, chunk);
    },
  });
}
