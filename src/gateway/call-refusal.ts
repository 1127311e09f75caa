/** A call turned away before it reached the router, with the answer its caller gets. */
import { errorJson, statusOf, type ErrorCode } from "../errors.js";

export class CallRefusal {
  readonly status: number;
  /** The error body, serialized. */
  readonly json: string;
  /** The WWW-Authenticate challenge of a 401. */
  readonly challenge: string | undefined;
  /** Seconds the caller of a 429 should wait (Retry-After). */
  readonly retryAfter: number | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    challenge: string | undefined,
    json?: string,
    retryAfter?: number,
  ) {
    this.status = statusOf(code);
    this.json = json ?? errorJson(code, message);
    this.challenge = challenge;
    this.retryAfter = retryAfter;
  }

  /** The headers of the answer besides its content type. */
  extraHeaders(): Record<string, string> {
    return {
      ...(this.challenge === undefined ? {} : { "www-authenticate": this.challenge }),
      ...(this.retryAfter === undefined ? {} : { "retry-after": String(this.retryAfter) }),
    };
  }
}

/** A 429 for a call over a rate limit. */
export function rateLimited(what: string, rate: string, retryAfter: number): CallRefusal {
  return new CallRefusal(
    "RUNLET_RATE_LIMITED",
    `${what} is limited to ${rate}; retry after ${retryAfter} s (Retry-After).`,
    undefined,
    undefined,
    retryAfter,
  );
}
