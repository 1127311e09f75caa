/**
 * The invocation hot path, `ANY /function/NAME[/sub/path]`, served straight from node:http
 * (no framework routing on the path every call takes).
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { RevisionTarget } from "../executor/revision-target.js";
import type { Platform } from "../platform/platform.js";
import { forward } from "../router/forward.js";
import { isAdmin, unauthorizedBody } from "./auth.js";
import type { GatewayMetrics } from "./metrics.js";

const functionPath = /^\/function\/([^/?]+)(\/[^?]*)?(\?.*)?$/;

export function isInvocation(url: string): boolean {
  return url.startsWith("/function/");
}

export async function handleInvocation(
  platform: Platform,
  metrics: GatewayMetrics,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const match = functionPath.exec(req.url ?? "");
  const callId = callIdOf(req.headers["x-call-id"]) ?? randomUUID();
  // OpenFaaS clients may address NAME.NAMESPACE; there is one namespace here.
  const name = decodeURIComponent(match?.[1] ?? "").replace(/\.(default|openfaas-fn)$/, "");
  const target = name ? platform.findTarget(name) : undefined;
  if (!target) {
    req.resume();
    return sendError(
      res,
      404,
      callId,
      "RUNLET_FUNCTION_NOT_FOUND",
      `Function ${name || "(none)"} does not exist; see the deployed ones with: runlet list`,
    );
  }
  await invokeTarget(platform, metrics, req, res, {
    name,
    target,
    callId,
    pathAndQuery: `${match?.[2] || "/"}${match?.[3] ?? ""}`,
  });
}

export interface InvokeTarget {
  /** The function's name, for metrics. */
  readonly name: string;
  readonly target: RevisionTarget;
  readonly callId: string;
  /** What the function sees as its path and query. */
  readonly pathAndQuery: string;
  /** Route parameters (HTTP triggers). */
  readonly params?: Record<string, string>;
}

/** Checks the caller may invoke, forwards the call, and records it: every HTTP way in ends here. */
export async function invokeTarget(
  platform: Platform,
  metrics: GatewayMetrics,
  req: IncomingMessage,
  res: ServerResponse,
  call: InvokeTarget,
): Promise<void> {
  const { name, target, callId } = call;
  if (target.config.auth === "required" && !isAdmin(req.headers, platform.adminToken)) {
    req.resume();
    const body = JSON.stringify(unauthorizedBody);
    res.writeHead(401, {
      "content-type": "application/json",
      "www-authenticate": 'Bearer realm="runlet"',
      "x-call-id": callId,
    });
    res.end(body);
    return;
  }
  metrics.invocationsStarted.inc({ function_name: name });
  const started = performance.now();
  const { status } = await forward(platform.executor, {
    req,
    res,
    target,
    callId,
    pathAndQuery: call.pathAndQuery,
    params: call.params,
  });
  const labels = { function_name: name, code: String(status) };
  metrics.invocations.inc(labels);
  metrics.duration.observe(labels, (performance.now() - started) / 1000);
}

/** The caller's X-Call-Id when it is a sane id, for de-duplication across retries. */
export function callIdOf(value: string | string[] | undefined): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  return first && /^[\w.:-]{1,128}$/.test(first) ? first : undefined;
}

export function sendError(
  res: ServerResponse,
  status: number,
  callId: string,
  code: string,
  message: string,
): void {
  const body = JSON.stringify({ error: { code, message } });
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    "x-call-id": callId,
  });
  res.end(body);
}
