/**
 * The async call queue as the platform and its shells use it (docs/async.md): one port, two
 * implementations: CallQueue on the embedded SQLite store, and JetStreamCallQueue on NATS
 * JetStream, which several gateway replicas share. Every method that touches the queue's
 * storage is asynchronous, so neither the shells nor the platform know which one runs.
 */
import type { CallQuery, CallRecord, CallState } from "../store/call-store.js";

export interface EnqueueRequest {
  readonly name: string;
  readonly method: string;
  /** Path inside the function, with the query string. */
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
  /** Where the result is POSTed; must be an http(s) URL. */
  readonly callbackUrl?: string;
  /** Who makes the call: "http", "cli", "cron:<trigger>", "nats:<trigger>"… @default "http" */
  readonly source?: string;
  /** A caller-chosen id makes enqueueing idempotent: the same id returns the stored call. */
  readonly callId?: string;
}

/** Stored calls of one function in one state (the runlet_async_calls gauge). */
export interface CallCount {
  readonly functionName: string;
  readonly state: CallState;
  readonly count: number;
}

export interface AsyncCallQueue {
  /** Starts the workers (re-queuing what a previous process left running, where it must). */
  start(): Promise<void>;
  /**
   * Stores a call and resolves with its record once it is durable. Rejects with a UserError
   * for an unknown function (404), a bad callback URL or call id (400), a body over the
   * function's limit (413), or a call id already used for another function (409).
   */
  enqueue(request: EnqueueRequest): Promise<CallRecord>;
  get(id: string): Promise<CallRecord | undefined>;
  /** Like get(), but a missing call is a 404 UserError. */
  require(id: string): Promise<CallRecord>;
  /** Newest first, without result bodies. */
  list(query?: CallQuery): Promise<CallRecord[]>;
  counts(): Promise<CallCount[]>;
  /** Attempts running in this process now. */
  readonly runningCount: number;
  /**
   * Stops taking calls; waits up to graceMs for running attempts, then cancels the rest and
   * puts them back in the queue.
   */
  close(graceMs?: number): Promise<void>;
}
