/**
 * What triggers need from the platform, as a small interface so the trigger sources do not
 * import the platform (and tests of a source can run it against anything that calls).
 */

/** A buffered call through the router (NATS messages). */
export interface TriggerCall {
  readonly name: string;
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
  readonly callId: string;
}

export interface TriggerCallResult {
  readonly status: number;
  readonly headers: Record<string, string | string[] | number | undefined>;
  readonly body: Buffer;
}

/** A durable async call (cron firings): retried, and listed by `runlet calls`. */
export interface TriggerAsyncCall {
  readonly name: string;
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
  readonly source: string;
  readonly callId: string;
}

export interface TriggerHost {
  /** The function's timeout, or undefined when there is no such function. */
  functionTimeoutMs(name: string): number | undefined;
  /** Whether revision `revision` of `name` exists (canary routes name one). */
  hasRevision(name: string, revision: number): boolean;
  call(request: TriggerCall, signal?: AbortSignal): Promise<TriggerCallResult>;
  /** Resolves once the call is stored (durable); rejects as AsyncCallQueue.enqueue does. */
  enqueue(request: TriggerAsyncCall): Promise<void>;
  /** Failures nobody waits for (a cron firing that could not be queued, a NATS outage). */
  onError(error: unknown): void;
}
