/**
 * A buffered call through the router, for callers that are not an HTTP socket: async call
 * workers, triggers. Same core as sync calls (run-call.ts): same executor queue, timeout and
 * body limit; 429, 502 and 504 come back as statuses with the JSON error body a sync caller
 * would get, never as exceptions.
 */
import type { IncomingHttpHeaders } from "node:http";
import type { Readable } from "node:stream";
import type { Executor } from "../executor/executor.js";
import { CallController } from "./call-controller.js";
import type { PlatformCredentials } from "./credentials.js";
import { requireTarget, type RevisionLookup } from "./revision-lookup.js";
import {
  BodyTooLarge,
  classify,
  hopByHop,
  responseHeaders,
  runCall,
  type CallFailure,
} from "./run-call.js";

export interface FunctionCall {
  readonly name: string;
  readonly method: string;
  /** Path inside the function ("/" or "/sub/path"), with the query string. */
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
  readonly callId: string;
  /** Route parameters, sent to the function as X-Runlet-Params (JSON). */
  readonly params?: Record<string, string>;
}

/** What a buffered call runs on: the same parts `forward` is given for a sync call. */
export interface CallRouting {
  readonly executor: Executor;
  readonly revisions: RevisionLookup;
  /** Never passed on to the function. */
  readonly credentials: PlatformCredentials;
}

export interface FunctionCallResult {
  readonly status: number;
  /** The function's response headers (hop-by-hop ones dropped) plus X-Call-Id. */
  readonly headers: Record<string, string | string[]>;
  readonly body: Buffer;
  readonly durationMs: number;
}

/**
 * Runs one call and buffers its answer. Throws RUNLET_FUNCTION_NOT_FOUND (a UserError) for
 * an unknown function; every other failure is a status in the result. `signal` cancels the
 * call (its result is then a 502 naming the reason).
 */
export async function callFunction(
  routing: CallRouting,
  call: FunctionCall,
  signal?: AbortSignal,
): Promise<FunctionCallResult> {
  const target = requireTarget(routing.revisions, call.name);
  const started = performance.now();
  const finish = (
    status: number,
    headers: Record<string, string | string[]>,
    body: Buffer,
  ): FunctionCallResult => {
    headers["x-call-id"] = call.callId;
    return { status, headers, body, durationMs: performance.now() - started };
  };
  const failed = (failure: CallFailure): FunctionCallResult => {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (failure.status === 429) {
      headers["retry-after"] = "1";
    }
    return finish(failure.status, headers, Buffer.from(JSON.stringify(failure.toJSON())));
  };
  const { maxBodyBytes } = target.config;
  if (call.body.length > maxBodyBytes) {
    return failed(classify(new BodyTooLarge(maxBodyBytes)));
  }
  const controller = new CallController();
  const onAbort = (): void => controller.abort(signal?.reason);
  if (signal?.aborted) {
    onAbort();
  }
  signal?.addEventListener("abort", onAbort, { once: true });
  const method = call.method.toUpperCase();
  const hasBody = method !== "GET" && method !== "HEAD";
  const headers: IncomingHttpHeaders = {};
  for (const [key, value] of Object.entries(call.headers)) {
    const lower = key.toLowerCase();
    if (!hopByHop.has(lower)) {
      headers[lower] = value;
    }
  }
  if (hasBody) {
    headers["content-length"] = String(call.body.length);
  } else {
    delete headers["content-length"]; // GET and HEAD carry no body, whatever the caller said
  }
  try {
    return await runCall(
      routing.executor,
      {
        target,
        callId: call.callId,
        method,
        pathAndQuery: call.path.startsWith("/") ? call.path : `/${call.path}`,
        headers,
        // Whole already: head, body and end go to the instance in one buffer.
        body: hasBody ? call.body : undefined,
        params: call.params,
        controller,
        credentials: routing.credentials,
      },
      async (response) => {
        const body = Buffer.isBuffer(response.body) ? response.body : await collect(response.body);
        return finish(response.status, responseHeaders(response.headers), body);
      },
    );
  } catch (failure) {
    return failed(failure as CallFailure);
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}

async function collect(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) {
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
