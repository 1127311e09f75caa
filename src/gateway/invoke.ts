/**
 * The invocation hot path, `ANY /function/NAME[/sub/path]`: whichever server read the request
 * (the lean front for plain-shaped calls, node:http for the rest), no framework routing on the
 * path every call takes.
 */
import { randomUUID } from "node:crypto";
import type { RevisionTarget } from "../executor/revision-target.js";
import type { Platform } from "../platform/platform.js";
import type { Exchange } from "../router/exchange.js";
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
  exchange: Exchange,
): Promise<void> {
  const match = functionPath.exec(exchange.url);
  const callId = callIdOf(exchange.headers["x-call-id"]) ?? randomUUID();
  // OpenFaaS clients may address NAME.NAMESPACE; there is one namespace here.
  const name = decodeURIComponent(match?.[1] ?? "").replace(/\.(default|openfaas-fn)$/, "");
  const target = name ? platform.findTarget(name) : undefined;
  if (!target) {
    exchange.discardBody();
    return sendError(
      exchange,
      404,
      callId,
      "RUNLET_FUNCTION_NOT_FOUND",
      `Function ${name || "(none)"} does not exist; see the deployed ones with: runlet list`,
    );
  }
  await invokeTarget(platform, metrics, exchange, {
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
  exchange: Exchange,
  call: InvokeTarget,
): Promise<void> {
  const { name, target, callId } = call;
  if (target.config.auth === "required" && !isAdmin(exchange.headers, platform.adminToken)) {
    exchange.discardBody();
    exchange.send(
      401,
      {
        "content-type": "application/json",
        "www-authenticate": 'Bearer realm="runlet"',
        "x-call-id": callId,
      },
      JSON.stringify(unauthorizedBody),
    );
    return;
  }
  metrics.calls.started(name);
  const started = performance.now();
  const { status } = await forward(platform.executor, {
    exchange,
    target,
    callId,
    pathAndQuery: call.pathAndQuery,
    params: call.params,
  });
  metrics.calls.finished(name, status, (performance.now() - started) / 1000);
}

/** The caller's X-Call-Id when it is a sane id, for de-duplication across retries. */
export function callIdOf(value: string | string[] | undefined): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  return first && /^[\w.:-]{1,128}$/.test(first) ? first : undefined;
}

export function sendError(
  exchange: Exchange,
  status: number,
  callId: string,
  code: string,
  message: string,
): void {
  exchange.send(
    status,
    { "content-type": "application/json", "x-call-id": callId },
    JSON.stringify({ error: { code, message } }),
  );
}
