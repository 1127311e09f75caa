/**
 * The invocation hot path, `ANY /function/NAME[/sub/path]`, served straight from node:http
 * (no framework routing on the path every call takes).
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
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
  const callId = headerValue(req.headers["x-call-id"]) ?? randomUUID();
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
    pathAndQuery: `${match?.[2] || "/"}${match?.[3] ?? ""}`,
  });
  const labels = { function_name: name, code: String(status) };
  metrics.invocations.inc(labels);
  metrics.duration.observe(labels, (performance.now() - started) / 1000);
}

function headerValue(value: string | string[] | undefined): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  return first && /^[\w.:-]{1,128}$/.test(first) ? first : undefined;
}

function sendError(
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
