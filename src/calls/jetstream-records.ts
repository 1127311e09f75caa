/**
 * How the JetStream call queue stores a call: the request travels as a work-stream message
 * (the body raw, everything else JSON in one header), and the call's record (state, attempts,
 * result headers, callback state) lives in a KV bucket under the call id; the result body
 * lives in a second bucket, so listing calls never reads result bodies.
 */
import type { CallRecord, CallResult, CallState, CallbackState } from "../store/call-store.js";

/** The message header that carries a request's metadata. */
export const callHeader = "Runlet-Call";
/** The message header that names the call a callback message is for. */
export const callbackHeader = "Runlet-Call-Id";

/** What a work message says about its call besides the body. */
export interface CallMessageMeta {
  readonly id: string;
  readonly functionName: string;
  readonly source: string;
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  /** Credential headers sealed with the secrets key (base64), as the SQLite store keeps them. */
  readonly sealed?: string;
  readonly callbackUrl?: string;
  readonly createdAt: number;
}

/** The record in the KV bucket: a CallRecord without its result body, plus what the queue needs. */
export interface StoredCall {
  readonly id: string;
  readonly functionName: string;
  readonly source: string;
  readonly method: string;
  readonly path: string;
  readonly requestSize: number;
  readonly state: CallState;
  readonly attempts: number;
  readonly failures: number;
  readonly createdAt: number;
  readonly startedAt?: number;
  readonly finishedAt?: number;
  readonly nextAttemptAt?: number;
  readonly durationMs?: number;
  readonly statusCode?: number;
  readonly lastError?: string;
  /** The stream sequence of the work message that carries this call; others are duplicates. */
  readonly seq: number;
  readonly result?: { headers: CallResult["headers"]; size: number; stored: number };
  readonly callback?: {
    readonly url: string;
    readonly state?: CallbackState;
    readonly attempts: number;
    readonly status?: number;
    readonly error?: string;
  };
}

/**
 * KV keys allow letters, digits and `-_=.` only (and no empty tokens); call ids may hold `:`.
 * base64url maps every id to a distinct key of allowed characters.
 */
export function recordKey(id: string): string {
  return Buffer.from(id, "utf8").toString("base64url");
}

export function encodeRecord(record: StoredCall): Uint8Array {
  return Buffer.from(JSON.stringify(record), "utf8");
}

export function decodeRecord(value: Uint8Array): StoredCall {
  return JSON.parse(Buffer.from(value).toString("utf8")) as StoredCall;
}

export function isFinished(state: CallState): boolean {
  return state === "succeeded" || state === "failed" || state === "dead";
}

/** The record of a call just accepted (or recreated from its message). */
export function queuedCall(meta: CallMessageMeta, bodySize: number, seq: number): StoredCall {
  return {
    id: meta.id,
    functionName: meta.functionName,
    source: meta.source,
    method: meta.method,
    path: meta.path,
    requestSize: bodySize,
    state: "queued",
    attempts: 0,
    failures: 0,
    createdAt: meta.createdAt,
    nextAttemptAt: meta.createdAt,
    seq,
    ...(meta.callbackUrl === undefined ? {} : { callback: { url: meta.callbackUrl, attempts: 0 } }),
  };
}

/** The record as the port answers it; `body` is the stored result body when it was read. */
export function toCallRecord(stored: StoredCall, body: Buffer | undefined): CallRecord {
  const finished = isFinished(stored.state);
  return {
    id: stored.id,
    functionName: stored.functionName,
    source: stored.source,
    method: stored.method,
    path: stored.path,
    requestSize: stored.requestSize,
    state: stored.state,
    attempts: stored.attempts,
    failures: stored.failures,
    createdAt: stored.createdAt,
    startedAt: stored.startedAt,
    finishedAt: stored.finishedAt,
    nextAttemptAt: stored.state === "queued" ? stored.nextAttemptAt : undefined,
    durationMs: stored.durationMs,
    statusCode: stored.statusCode,
    lastError: stored.lastError,
    result:
      finished && stored.result && body !== undefined
        ? {
            headers: stored.result.headers,
            body,
            size: stored.result.size,
            truncated: stored.result.size > stored.result.stored,
          }
        : undefined,
    callback: stored.callback
      ? {
          url: stored.callback.url,
          state: stored.callback.state,
          attempts: stored.callback.attempts,
          status: stored.callback.status,
          error: stored.callback.error,
        }
      : undefined,
  };
}
