/**
 * The router (DESIGN.md step 2): takes a slot on an instance of the function's active
 * revision (waiting in the executor's bounded queue if all are busy), forwards the call
 * with method, path, query, headers and a streamed body, and streams the answer back.
 * It enforces the function's timeout and body limit, and names the cause when an instance
 * fails (exit code, signal) instead of a bare 502.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import { Transform, type TransformCallback } from "node:stream";
import { UserError, isUserError } from "../errors.js";
import { CrashLoopError, type Executor, type Lease } from "../executor/executor.js";
import type { RevisionTarget } from "../executor/revision-target.js";
import { formatDuration, formatSize } from "../spec/units.js";
import { callInstance, sendBody } from "./instance-call.js";

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

/** Hop-by-hop headers are for one connection only (RFC 9110 §7.6.1). */
const hopByHop = new Set([
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

class BodyTooLarge extends UserError {
  constructor(limit: number) {
    super(
      "RUNLET_BODY_TOO_LARGE",
      `The request body is larger than this function's limit of ${formatSize(limit)}; send less, or raise maxBody in the function's spec.`,
    );
  }
}

class FunctionTimeout extends Error {
  constructor(readonly timeoutMs: number) {
    super(`function timed out after ${formatDuration(timeoutMs)}`);
  }
}

export async function forward(executor: Executor, request: ForwardRequest): Promise<ForwardResult> {
  const { req, res, target, callId } = request;
  const { timeoutMs, maxBodyBytes } = target.config;
  const started = performance.now();
  const declaredLength = Number(req.headers["content-length"] ?? 0);
  if (declaredLength > maxBodyBytes) {
    req.resume();
    return fail(res, callId, new BodyTooLarge(maxBodyBytes), started);
  }
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new FunctionTimeout(timeoutMs)), timeoutMs);
  const onClientGone = (): void => {
    if (!res.writableFinished) {
      controller.abort(new Error("caller disconnected"));
    }
  };
  res.on("close", onClientGone);
  let lease: Lease | undefined;
  try {
    lease = await executor.acquire(target, controller.signal);
    const hasBody = req.method !== "GET" && req.method !== "HEAD";
    const body = hasBody ? req.pipe(limitBytes(maxBodyBytes)) : undefined;
    const response = await callInstance(lease.instance, {
      path: request.pathAndQuery,
      method: req.method ?? "GET",
      headers: upstreamHeaders(req, callId, Date.now() + timeoutMs, request.params),
      body,
      signal: controller.signal,
    });
    const headers: Record<string, string | string[] | number> = {};
    for (const [key, value] of Object.entries(response.headers)) {
      if (value !== undefined && !hopByHop.has(key)) {
        headers[key] = value;
      }
    }
    headers["x-call-id"] = callId;
    headers["x-duration-seconds"] = ((performance.now() - started) / 1000).toFixed(6);
    res.writeHead(response.status, headers);
    if (Buffer.isBuffer(response.body)) {
      res.end(response.body);
    } else {
      await sendBody(response.body, res);
    }
    lease.release();
    return { status: response.status };
  } catch (caught) {
    const reason = controller.signal.aborted ? (controller.signal.reason as unknown) : caught;
    if (reason instanceof FunctionTimeout) {
      // A hung handler may never give its slot back: replace the instance.
      lease?.recycle(reason.message);
    } else if (lease) {
      const exit = await exitOf(lease);
      if (exit) {
        lease.release();
        return fail(
          res,
          callId,
          new InstanceFailure(`the function's instance ${exit} while handling the call`),
          started,
        );
      }
      lease.release();
    }
    return fail(res, callId, reason, started);
  } finally {
    clearTimeout(timer);
    res.off("close", onClientGone);
  }
}

class InstanceFailure extends Error {}

async function exitOf(lease: Lease): Promise<string | undefined> {
  // The socket closes a moment before the process exit is reported: wait briefly for it.
  const info =
    lease.instance.exitInfo ??
    (await Promise.race([
      lease.instance.exited,
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 250).unref()),
    ]));
  return info?.reason;
}

function fail(res: ServerResponse, callId: string, error: unknown, started: number): ForwardResult {
  let status = 502;
  let code = "RUNLET_UPSTREAM_FAILED";
  let message = error instanceof Error ? error.message : String(error);
  if (error instanceof FunctionTimeout) {
    status = 504;
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
  } else if (error instanceof CrashLoopError) {
    code = "RUNLET_CRASH_LOOP";
  } else {
    message = `the function could not be reached: ${message}`;
  }
  if (res.headersSent) {
    // Mid-stream: the status is out; cutting the connection is the only signal left.
    res.destroy(error instanceof Error ? error : undefined);
    return { status };
  }
  const body = JSON.stringify({ error: { code, message } });
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

function upstreamHeaders(
  req: IncomingMessage,
  callId: string,
  deadline: number,
  params: Record<string, string> | undefined,
): IncomingHttpHeaders {
  const headers: IncomingHttpHeaders = {};
  for (const [key, value] of Object.entries(req.headers)) {
    if (!hopByHop.has(key)) {
      headers[key] = value;
    }
  }
  headers["x-call-id"] = callId;
  headers["x-runlet-deadline"] = String(deadline);
  headers["x-forwarded-for"] ??= req.socket.remoteAddress ?? "";
  headers["x-forwarded-host"] ??= req.headers.host ?? "";
  if (params) {
    headers["x-runlet-params"] = JSON.stringify(params);
  }
  return headers;
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
