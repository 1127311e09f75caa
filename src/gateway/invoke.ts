/**
 * The invocation hot path, `ANY /function/NAME[/sub/path]`: whichever server read the request
 * (the lean front for plain-shaped calls, node:http for the rest), no framework routing on the
 * path every call takes.
 */
import { keyOfAddress } from "../spec/namespaces.js";
import type { RevisionTarget } from "../executor/revision-target.js";
import type { Platform } from "../platform/platform.js";
import type { Exchange } from "../router/exchange.js";
import { forward } from "../router/forward.js";
import { admitCall, CallRefusal } from "./call-admission.js";
import { newCallId } from "./call-id.js";
import type { GatewayMetrics } from "./metrics.js";
import { rateLimitsOf } from "./rate-limits.js";
import { admitSignedCall } from "./signed-call.js";

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
  const target = admitCall(
    platform.targets,
    platform.credentials,
    exchange.headers,
    name,
    rateLimitsOf(platform),
  );
  if (target instanceof CallRefusal) {
    refuseCall(exchange, callId, target);
    return undefined;
  }
  const call: InvokeTarget = {
    name: target.functionName,
    target,
    callId,
    pathAndQuery: `${match?.[2] || "/"}${match?.[3] ?? ""}`,
  };
  if (target.config.auth === "signed") {
    return invokeSigned(platform, metrics, exchange, call);
  }
  return invokeTarget(platform, metrics, exchange, call);
}

/** A call to an `auth: signed` function: its body read and its signature checked first. */
export async function invokeSigned(
  platform: Platform,
  metrics: GatewayMetrics,
  exchange: Exchange,
  call: InvokeTarget,
): Promise<void> {
  const admitted = await admitSignedCall(platform, exchange, call.target);
  if (admitted instanceof CallRefusal) {
    refuseCall(exchange, call.callId, admitted);
    return;
  }
  await invokeTarget(platform, metrics, admitted, call);
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

/** Forwards a call admitted by admitCall() and records it: every HTTP way in ends here. */
export function invokeTarget(
  platform: Platform,
  metrics: GatewayMetrics,
  exchange: Exchange,
  call: InvokeTarget,
): Promise<void> | undefined {
  const { name, target, callId } = call;
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

/** The function a path segment names; undefined when its percent-encoding is broken. */
export function functionNameOf(segment: string): string | undefined {
  let name: string;
  try {
    name = segment.includes("%") ? decodeURIComponent(segment) : segment;
  } catch {
    return undefined;
  }
  // NAME is the default namespace's; NAME.NAMESPACE (as OpenFaaS clients address it) another's.
  return keyOfAddress(name);
}

/** The caller's X-Call-Id when it is a sane id, for de-duplication across retries. */
export function callIdOf(value: string | string[] | undefined): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  return first && /^[\w.:-]{1,128}$/.test(first) ? first : undefined;
}

/** Answers a refused call; its body is not read. */
export function refuseCall(exchange: Exchange, callId: string, refusal: CallRefusal): void {
  exchange.discardBody();
  exchange.send(
    refusal.status,
    refusal.challenge === undefined && refusal.retryAfter === undefined
      ? { "content-type": "application/json", "x-call-id": callId }
      : { "content-type": "application/json", ...refusal.extraHeaders(), "x-call-id": callId },
    refusal.json,
  );
}
