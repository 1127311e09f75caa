/**
 * What both queues (SQLite and JetStream) decide the same way: whether a request may be
 * queued and what is stored of it, what an attempt's answer means for the call (done,
 * failed, dead, or run again), and what is kept of a result.
 */
import { randomUUID } from "node:crypto";
import { UserError } from "../errors.js";
import type { FunctionCallResult } from "../router/call.js";
import type { PlatformCredentials } from "../router/credentials.js";
import { requireTarget, type RevisionLookup } from "../router/revision-lookup.js";
import { formatSize } from "../spec/units.js";
import type { CallRecord, CallResult, NewCall } from "../store/call-store.js";
import type { EnqueueRequest } from "./async-call-queue.js";
import { CallbackAddressPolicy } from "./callback-address.js";

/**
 * Request headers that carry credentials. A platform credential in one is never stored; a
 * function's own (its bearer token, a cookie) is stored sealed, for the attempt to send it.
 */
const credentialHeaders = new Set(["authorization", "proxy-authorization", "cookie"]);

const callIdPattern = /^[\w.:-]{1,128}$/;

export interface CallRequestContext {
  readonly revisions: RevisionLookup;
  readonly credentials: PlatformCredentials;
  readonly policy: CallbackAddressPolicy;
  readonly now: number;
}

/** Validates a request into the call to store; throws the UserErrors enqueue() documents. */
export function newCallOf(request: EnqueueRequest, context: CallRequestContext): NewCall {
  const target = requireTarget(context.revisions, request.name);
  if (request.callbackUrl !== undefined) {
    assertCallbackUrl(request.callbackUrl, context.policy);
  }
  const id = request.callId ?? randomUUID();
  if (!callIdPattern.test(id)) {
    throw new UserError(
      "RUNLET_INVALID_REQUEST",
      `Call id "${id.slice(0, 200)}" is not valid; use 1 to 128 letters, digits, '.', ':', '_' or '-'.`,
    );
  }
  if (request.body.length > target.config.maxBodyBytes) {
    throw new UserError(
      "RUNLET_BODY_TOO_LARGE",
      `The request body is larger than this function's limit of ${formatSize(target.config.maxBodyBytes)}; send less, or raise maxBody in the function's spec.`,
    );
  }
  const headers: Record<string, string> = {};
  const sealedHeaders: Record<string, string> = {};
  for (const [key, value] of Object.entries(request.headers)) {
    const name = key.toLowerCase();
    if (!credentialHeaders.has(name)) {
      headers[name] = value;
    } else if (!context.credentials.carries(value)) {
      sealedHeaders[name] = value;
    }
  }
  return {
    id,
    functionName: request.name,
    source: request.source ?? "http",
    method: request.method.toUpperCase(),
    path: request.path.startsWith("/") ? request.path : `/${request.path}`,
    headers,
    sealedHeaders,
    body: request.body,
    callbackUrl: request.callbackUrl,
    createdAt: context.now,
  };
}

/** A repeated call id names the same call again, unless it is another function's. */
export function assertSameFunction(existing: CallRecord, call: NewCall): CallRecord {
  if (existing.functionName !== call.functionName) {
    throw new UserError(
      "RUNLET_ALREADY_EXISTS",
      `Call id ${call.id} is already used by a call to ${existing.functionName}; use another X-Call-Id.`,
    );
  }
  return existing;
}

export function callNotFound(id: string): UserError {
  return new UserError(
    "RUNLET_CALL_NOT_FOUND",
    `Call ${id} does not exist (finished calls are kept for a limited time); list recent calls with: runlet calls`,
  );
}

/** What an attempt's answer means for its call. */
export type AttemptOutcome =
  | {
      readonly state: "succeeded" | "failed" | "dead";
      readonly error: string | undefined;
      readonly failures: number;
    }
  | { readonly state: "retry"; readonly error: string; readonly failures: number };

/**
 * Below 400 the call succeeded; another 4xx failed it (running it again would not help); a
 * 5xx, 429 or 408 runs it again until `maxRetries` retries are spent, then it is dead.
 * `maxRetries` is undefined when the function was removed meanwhile: nothing runs it again.
 */
export function attemptOutcome(
  result: FunctionCallResult,
  failures: number,
  maxRetries: number | undefined,
): AttemptOutcome {
  if (result.status < 400) {
    return { state: "succeeded", error: undefined, failures };
  }
  const error = describeFailure(result);
  if (!isRetryable(result.status)) {
    return { state: "failed", error, failures };
  }
  const failed = failures + 1;
  if (maxRetries === undefined) {
    return {
      state: "failed",
      error: `the function was removed; last attempt: ${error}`,
      failures: failed,
    };
  }
  if (failed > maxRetries) {
    return {
      state: "dead",
      error: `gave up after ${failed} failed attempts: ${error}`,
      failures: failed,
    };
  }
  return { state: "retry", error, failures: failed };
}

/** The result as stored: at most `limit` bytes of body, with the full size. */
export function storedResult(result: FunctionCallResult, limit: number): CallResult {
  return {
    headers: result.headers,
    body: result.body.length > limit ? result.body.subarray(0, limit) : result.body,
    size: result.body.length,
    truncated: result.body.length > limit,
  };
}

/** 5xx (the function failed, timed out or crashed), 429 (no capacity) and 408 run again. */
export function isRetryable(status: number): boolean {
  return status >= 500 || status === 429 || status === 408;
}

function describeFailure(result: FunctionCallResult): string {
  const text = result.body.subarray(0, 2048).toString("utf8");
  try {
    const parsed = JSON.parse(text) as { error?: { message?: unknown } };
    if (typeof parsed.error?.message === "string") {
      return `${result.status}: ${parsed.error.message}`;
    }
  } catch {
    // not a Runlet error body: show the start of it
  }
  const snippet = text.trim().slice(0, 200);
  return snippet ? `${result.status}: ${snippet}` : `the function answered ${result.status}`;
}

function assertCallbackUrl(value: string, policy: CallbackAddressPolicy): void {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:") || !url.hostname) {
    throw new UserError(
      "RUNLET_INVALID_REQUEST",
      `Callback URL "${value.slice(0, 200)}" is not an absolute http:// or https:// URL; send one like https://example.com/hooks/result in X-Callback-Url.`,
    );
  }
  const refusal = policy.refusalOfUrl(url);
  if (refusal !== undefined) {
    throw new UserError(
      "RUNLET_INVALID_REQUEST",
      `Callback URL "${value.slice(0, 200)}" is refused: ${refusal}, where callbacks are not delivered; send a public address in X-Callback-Url, or ${CallbackAddressPolicy.howToAllow(url.hostname)}.`,
    );
  }
}

export function queuedRecord(call: NewCall): CallRecord {
  return {
    id: call.id,
    functionName: call.functionName,
    source: call.source,
    method: call.method,
    path: call.path,
    requestSize: call.body.length,
    state: "queued",
    attempts: 0,
    failures: 0,
    createdAt: call.createdAt,
    startedAt: undefined,
    finishedAt: undefined,
    nextAttemptAt: call.createdAt,
    durationMs: undefined,
    statusCode: undefined,
    lastError: undefined,
    result: undefined,
    callback:
      call.callbackUrl === undefined
        ? undefined
        : {
            url: call.callbackUrl,
            state: undefined,
            attempts: 0,
            status: undefined,
            error: undefined,
          },
  };
}
