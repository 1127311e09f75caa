/**
 * `POST /async-function/NAME[/sub/path]`: reads the body, stores the call durably and answers
 * 202 with its X-Call-Id (OpenFaaS' async route, made durable). Served from node:http like
 * the sync path, so any content type is taken as raw bytes.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { isUserError, UserError, userErrorBody } from "../errors.js";
import type { Platform } from "../platform/platform.js";
import { hopByHop } from "../router/run-call.js";
import { formatSize } from "../spec/units.js";
import { admitCall, CallRefusal } from "./call-admission.js";
import { functionNameOf } from "./invoke.js";
import type { GatewayMetrics } from "./metrics.js";
import { rateLimitsOf } from "./rate-limits.js";
import { signedCallRefusal } from "./signed-call.js";

const asyncPath = /^\/async-function\/([^/?]+)(\/[^?]*)?(\?.*)?$/;

/** Headers that describe the request to us rather than to the function. */
const notStored = new Set([...hopByHop, "content-length", "x-callback-url", "x-call-id"]);

export function isAsyncInvocation(url: string): boolean {
  return url.startsWith("/async-function/");
}

export async function handleAsyncInvocation(
  platform: Platform,
  metrics: GatewayMetrics,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  try {
    const match = asyncPath.exec(req.url ?? "");
    const target = admitCall(
      platform.targets,
      platform.credentials,
      req.headers,
      functionNameOf(match?.[1] ?? ""),
      rateLimitsOf(platform),
    );
    if (target instanceof CallRefusal) {
      req.resume();
      res.writeHead(target.status, {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(target.json),
        ...target.extraHeaders(),
      });
      res.end(target.json);
      return;
    }
    const name = target.functionName;
    if (req.method !== "POST" && req.method !== "PUT") {
      throw new UserError(
        "RUNLET_INVALID_REQUEST",
        `Async calls are made with POST (or PUT), not ${req.method ?? "?"}: POST /async-function/${name}`,
        { status: 405 },
      );
    }
    const body = await readBody(req, target.config.maxBodyBytes);
    const unsigned = signedCallRefusal(platform, target, req.headers, body);
    if (unsigned) {
      res.writeHead(unsigned.status, {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(unsigned.json),
      });
      res.end(unsigned.json);
      return;
    }
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined && !notStored.has(key)) {
        headers[key] = Array.isArray(value) ? value.join(", ") : value;
      }
    }
    headers["x-forwarded-for"] ??= req.socket.remoteAddress ?? "";
    headers["x-forwarded-host"] ??= req.headers.host ?? "";
    const callbackUrl = single(req.headers["x-callback-url"]);
    const callId = single(req.headers["x-call-id"]);
    const record = await platform.calls.enqueue({
      name,
      method: req.method,
      path: `${match?.[2] || "/"}${match?.[3] ?? ""}`,
      headers,
      body,
      ...(callbackUrl === undefined ? {} : { callbackUrl }),
      ...(callId === undefined ? {} : { callId }),
      source: "http",
    });
    metrics.asyncAccepted.inc({ function_name: name });
    const answer = JSON.stringify({
      callId: record.id,
      state: record.state,
      status: `/api/v1/calls/${encodeURIComponent(record.id)}`,
    });
    res.writeHead(202, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(answer),
      "x-call-id": record.id,
      location: `/api/v1/calls/${encodeURIComponent(record.id)}`,
    });
    res.end(answer);
  } catch (error) {
    if (!isUserError(error)) {
      throw error;
    }
    req.resume();
    const answer = JSON.stringify(userErrorBody(error));
    res.writeHead(error.status, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(answer),
      ...(error.status === 405 ? { allow: "POST, PUT" } : {}),
    });
    res.end(answer);
  }
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = (): UserError =>
    new UserError(
      "RUNLET_BODY_TOO_LARGE",
      `The request body is larger than this function's limit of ${formatSize(limit)}; send less, or raise maxBody in the function's spec.`,
    );
  if (Number(req.headers["content-length"] ?? 0) > limit) {
    return Promise.reject(tooLarge());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners("data");
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.once("end", () => resolve(Buffer.concat(chunks)));
    req.once("error", reject);
  });
}
