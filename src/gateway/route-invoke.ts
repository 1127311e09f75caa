/**
 * Calls through HTTP trigger routes on the gateway's root (docs/triggers.md): the route table
 * picks the function (or a revision, for a weighted canary route), and the call takes the same
 * streaming path as `/function/NAME`, with the route's parameters as X-Runlet-Params.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Platform } from "../platform/platform.js";
import { forward } from "../router/forward.js";
import { parseTarget } from "../spec/trigger-spec.js";
import { isPlatformPath, type RouteMatch } from "../triggers/route-table.js";
import { isAdmin, unauthorizedBody } from "./auth.js";
import type { GatewayMetrics } from "./metrics.js";

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
  req: IncomingMessage,
  res: ServerResponse,
  route: RouteMatch,
): Promise<void> {
  const callId = callIdOf(req.headers["x-call-id"]) ?? randomUUID();
  const { functionName, revision } = parseTarget(route.target);
  const target =
    revision === undefined
      ? platform.findTarget(functionName)
      : platform.findRevisionTarget(functionName, revision);
  if (!target) {
    req.resume();
    const body = JSON.stringify({
      error: {
        code: "RUNLET_FUNCTION_NOT_FOUND",
        message: `Trigger ${route.trigger} calls ${route.target}, which does not exist; redeploy it or remove the trigger: runlet trigger remove ${route.trigger}`,
      },
    });
    res.writeHead(404, { "content-type": "application/json", "x-call-id": callId });
    res.end(body);
    return;
  }
  if (target.config.auth === "required" && !isAdmin(req.headers, platform.adminToken)) {
    req.resume();
    res.writeHead(401, {
      "content-type": "application/json",
      "www-authenticate": 'Bearer realm="runlet"',
      "x-call-id": callId,
    });
    res.end(JSON.stringify(unauthorizedBody));
    return;
  }
  metrics.invocationsStarted.inc({ function_name: functionName });
  const started = performance.now();
  const { status } = await forward(platform.executor, {
    req,
    res,
    target,
    callId,
    // The function sees the path as the client sent it; the route's captures come as params.
    pathAndQuery: req.url ?? "/",
    params: route.params,
  });
  const labels = { function_name: functionName, code: String(status) };
  metrics.invocations.inc(labels);
  metrics.duration.observe(labels, (performance.now() - started) / 1000);
}

function callIdOf(value: string | string[] | undefined): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  return first && /^[\w.:-]{1,128}$/.test(first) ? first : undefined;
}
