/**
 * The invocation hot path, `ANY /function/NAME[/sub/path]`: whichever server read the request
 * (the lean front for plain-shaped calls, node:http for the rest), no framework routing on the
 * path every call takes.
 */
import type { RevisionTarget } from "../executor/revision-target.js";
import type { Platform } from "../platform/platform.js";
import type { Exchange } from "../router/exchange.js";
import { forward } from "../router/forward.js";
import { errorJson, type ErrorCode } from "../errors.js";
import { isAdmin, unauthorizedJson } from "./auth.js";
import { newCallId } from "./call-id.js";
import type { GatewayMetrics } from "./metrics.js";

const functionPath = /^\/function\/([^/?]+)(\/[^?]*)?(\?.*)?$/;

export function isInvocation(url: string): boolean {
  return url.startsWith("/function/");
}

/**
 * Not async, like the functions below: a call passes through each of them once, and every async
 * layer would cost the call a promise and a microtask turn of its own.
 */
export function handleInvocation(
  platform: Platform,
  metrics: GatewayMetrics,
  exchange: Exchange,
): Promise<void> | undefined {
  const match = functionPath.exec(exchange.url);
  const callId = callIdOf(exchange.headers["x-call-id"]) ?? newCallId();
  const name = functionNameOf(match?.[1] ?? "");
  if (name === undefined) {
    exchange.discardBody();
    sendError(exchange, 400, callId, "RUNLET_INVALID_REQUEST", badNameMessage);
    return undefined;
  }
  const target = name ? platform.findTarget(name) : undefined;
  if (!target) {
    exchange.discardBody();
    sendError(
      exchange,
      404,
      callId,
      "RUNLET_FUNCTION_NOT_FOUND",
      `Function ${name || "(none)"} does not exist; see the deployed ones with: runlet list`,
    );
    return undefined;
  }
  return invokeTarget(platform, metrics, exchange, {
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
export function invokeTarget(
  platform: Platform,
  metrics: GatewayMetrics,
  exchange: Exchange,
  call: InvokeTarget,
): Promise<void> | undefined {
  const { name, target, callId } = call;
  if (target.config.auth === "required" && !isAdmin(exchange.headers, platform.credentials)) {
    exchange.discardBody();
    exchange.send(
      401,
      {
        "content-type": "application/json",
        "www-authenticate": 'Bearer realm="runlet"',
        "x-call-id": callId,
      },
      unauthorizedJson,
    );
    return undefined;
  }
  metrics.calls.started(name);
  const started = performance.now();
  return forward(platform.executor, {
    exchange,
    target,
    callId,
    pathAndQuery: call.pathAndQuery,
    params: call.params,
    credentials: platform.credentials,
    events: platform.events,
    onAnswered: (status) =>
      metrics.calls.finished(name, status, (performance.now() - started) / 1000),
  });
}

export const badNameMessage =
  "The function name in the path is not valid percent-encoding; call /function/NAME with the name as deployed.";

/** The function a path segment names; undefined when its percent-encoding is broken. */
export function functionNameOf(segment: string): string | undefined {
  let name: string;
  try {
    name = segment.includes("%") ? decodeURIComponent(segment) : segment;
  } catch {
    return undefined;
  }
  // OpenFaaS clients may address NAME.NAMESPACE; there is one namespace here.
  return name.replace(/\.(default|openfaas-fn)$/, "");
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
  code: ErrorCode,
  message: string,
): void {
  exchange.send(
    status,
    { "content-type": "application/json", "x-call-id": callId },
    errorJson(code, message),
  );
}
