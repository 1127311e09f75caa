/**
 * Calls through HTTP trigger routes on the gateway's root (docs/triggers.md): the route table
 * picks the function (or a revision, for a weighted canary route), and the call takes the same
 * streaming path as `/function/NAME`, with the route's parameters as X-Runlet-Params.
 */
import type { IncomingMessage } from "node:http";
import type { Platform } from "../platform/platform.js";
import type { Exchange } from "../router/exchange.js";
import { isPlatformPath, type RouteMatch } from "../triggers/route-table.js";
import { newCallId } from "./call-id.js";
import { admitCall, CallRefusal } from "./call-admission.js";
import { callIdOf, invokeSigned, invokeTarget, refuseCall } from "./invoke.js";
import type { GatewayMetrics } from "./metrics.js";
import { rateLimitsOf } from "./rate-limits.js";

/** The route a request takes, or undefined for platform paths and paths no route serves. */
export function findRoute(platform: Platform, req: IncomingMessage): RouteMatch | undefined {
  const url = req.url ?? "/";
  const path = url.split("?", 1)[0] ?? "/";
  if (isPlatformPath(path)) {
    return undefined;
  }
  return platform.triggers.matchRoute(req.method ?? "GET", path);
}

export async function handleRoute(
  platform: Platform,
  metrics: GatewayMetrics,
  exchange: Exchange,
  route: RouteMatch,
): Promise<void> {
  const callId = callIdOf(exchange.headers["x-call-id"]) ?? newCallId();
  const target = admitCall(
    platform.targets,
    platform.credentials,
    exchange.headers,
    route,
    rateLimitsOf(platform),
  );
  if (target instanceof CallRefusal) {
    refuseCall(exchange, callId, target);
    return;
  }
  const call = {
    name: target.functionName,
    target,
    callId,
    // The function sees the path as the client sent it; the route's captures come as params.
    pathAndQuery: exchange.url,
    params: route.params,
  };
  await (target.config.auth === "signed"
    ? invokeSigned(platform, metrics, exchange, call)
    : invokeTarget(platform, metrics, exchange, call));
}
