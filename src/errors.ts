/**
 * The two kinds of error in Runlet: a UserError is the caller's mistake and says how to fix
 * it (HTTP 4xx, CLI exit 1, no stack); anything else is a bug or an outage (HTTP 5xx, full
 * stack). One top-level handler per process decides how each is shown. Both are answered
 * with a code from the catalogue below and a body from its one serializer.
 */

/**
 * The catalogue: every code Runlet answers with, and the HTTP status it is answered with. The
 * code is for programs, the message for people. A code exists only as a key here, so none can
 * be used without a status. 4xx is the caller's mistake; 5xx is ours or the function's.
 */
const statusByCode = {
  // The caller sent something Runlet cannot use.
  RUNLET_INVALID_NAME: 400,
  RUNLET_INVALID_SPEC: 400,
  RUNLET_INVALID_STACK_FILE: 400,
  RUNLET_INVALID_ARCHIVE: 400,
  RUNLET_INVALID_REQUEST: 400,
  RUNLET_INVALID_IMPORT: 400,
  RUNLET_SOURCE_NOT_FOUND: 400,
  RUNLET_UNSUPPORTED_RUNTIME: 400,
  RUNLET_API_ERROR: 400,
  RUNLET_NATS_NOT_CONFIGURED: 400,
  // Errors the CLI raises on the user's machine; they never cross the API.
  RUNLET_NOT_LOGGED_IN: 400,
  RUNLET_GATEWAY_UNREACHABLE: 400,
  RUNLET_PORT_IN_USE: 400,
  // The function's code does not load. At deploy that is the caller's to fix; a call that meets
  // it is answered 500 instead (router/run-call.ts), as the function's failure.
  RUNLET_HANDLER_NOT_FOUND: 400,
  RUNLET_HANDLER_SYNTAX: 400,
  RUNLET_HANDLER_NO_EXPORT: 400,
  RUNLET_HANDLER_LOAD_FAILED: 400,
  RUNLET_UNAUTHORIZED: 401,
  RUNLET_FORBIDDEN: 403,
  RUNLET_NOT_FOUND: 404,
  RUNLET_FUNCTION_NOT_FOUND: 404,
  RUNLET_SECRET_NOT_FOUND: 404,
  RUNLET_CONFIG_NOT_FOUND: 404,
  RUNLET_PACKAGE_NOT_FOUND: 404,
  RUNLET_CALL_NOT_FOUND: 404,
  RUNLET_TRIGGER_NOT_FOUND: 404,
  RUNLET_METHOD_NOT_ALLOWED: 405,
  RUNLET_REQUEST_TIMEOUT: 408,
  RUNLET_ALREADY_EXISTS: 409,
  RUNLET_TRIGGER_CONFLICT: 409,
  RUNLET_BODY_TOO_LARGE: 413,
  RUNLET_PACKAGE_TOO_LARGE: 413,
  RUNLET_PACKAGE_TOO_COMPRESSED: 413,
  RUNLET_URI_TOO_LONG: 414,
  RUNLET_UNSUPPORTED_MEDIA_TYPE: 415,
  RUNLET_BUILD_FAILED: 422,
  RUNLET_QUEUE_FULL: 429,
  RUNLET_RATE_LIMITED: 429,
  RUNLET_QUOTA_EXCEEDED: 429,
  RUNLET_HEADERS_TOO_LARGE: 431,
  // Ours: a bug, or the platform's data no longer matching its digest.
  RUNLET_INTERNAL: 500,
  RUNLET_PACKAGE_CORRUPT: 500,
  // The function's: its handler threw (the runtimes answer with this code), or its instance
  // failed, answered badly, keeps crashing or ran past its timeout.
  RUNLET_HANDLER_ERROR: 500,
  RUNLET_UPSTREAM_FAILED: 502,
  RUNLET_INSTANCE_FAILED: 502,
  RUNLET_INVALID_RESPONSE: 502,
  RUNLET_CRASH_LOOP: 502,
  RUNLET_NATS_UNAVAILABLE: 503,
  RUNLET_NATS_UNAUTHORIZED: 503,
  RUNLET_FUNCTION_TIMEOUT: 504,
} as const satisfies Record<`RUNLET_${string}`, number>;

/** Stable machine-readable codes: the catalogue's keys. */
export type ErrorCode = keyof typeof statusByCode;

/** Every code in the catalogue. */
export const errorCodes = Object.keys(statusByCode) as readonly ErrorCode[];

/** The status an error code is answered with. */
export function statusOf(code: ErrorCode): number {
  return statusByCode[code];
}

/**
 * The code for an error raised with only a status (by Fastify or node:http, not by Runlet):
 * the one the catalogue gives that status, else the generic client or server error.
 */
export function codeForStatus(status: number): ErrorCode {
  switch (status) {
    case 404:
      return "RUNLET_NOT_FOUND";
    case 405:
      return "RUNLET_METHOD_NOT_ALLOWED";
    case 408:
      return "RUNLET_REQUEST_TIMEOUT";
    case 413:
      return "RUNLET_BODY_TOO_LARGE";
    case 414:
      return "RUNLET_URI_TOO_LONG";
    case 415:
      return "RUNLET_UNSUPPORTED_MEDIA_TYPE";
    case 431:
      return "RUNLET_HEADERS_TOO_LARGE";
    default:
      return status < 500 ? "RUNLET_INVALID_REQUEST" : "RUNLET_INTERNAL";
  }
}

/**
 * Extra structured detail beside the code and message (file/line of a handler error, a build's
 * output, …); it cannot replace either.
 */
export type ErrorDetails = Readonly<Record<string, unknown>> & {
  readonly code?: never;
  readonly message?: never;
};

/** The JSON body every API error has: `{ error: { code, message, ...details } }`. */
export interface ErrorBody {
  readonly error: { readonly code: ErrorCode; readonly message: string } & Readonly<
    Record<string, unknown>
  >;
}

/**
 * The one serializer of error bodies: every error Runlet answers, over HTTP or as a message,
 * is built here, so the shape cannot drift between the places that answer. `errorJson` is the
 * same body as text, for answers written straight to a socket.
 */
export function errorBody(code: ErrorCode, message: string, details?: ErrorDetails): ErrorBody {
  return { error: details ? { code, message, ...details } : { code, message } };
}

export function errorJson(code: ErrorCode, message: string, details?: ErrorDetails): string {
  return JSON.stringify(errorBody(code, message, details));
}

export interface UserErrorOptions extends ErrorOptions {
  /** HTTP status when the error crosses the API; defaults to the code's in the catalogue. */
  status?: number;
  /** Extra structured detail (file/line of a handler error, the list of problems, …). */
  details?: ErrorDetails;
}

/** A mistake the user can fix; the message says how. */
export class UserError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: ErrorDetails | undefined;

  constructor(code: ErrorCode, message: string, options: UserErrorOptions = {}) {
    super(message, options);
    this.name = "UserError";
    this.code = code;
    this.status = options.status ?? statusByCode[code];
    this.details = options.details;
  }
}

export function isUserError(error: unknown): error is UserError {
  return error instanceof UserError;
}

/** A UserError's body, through the one serializer. */
export function userErrorBody(error: UserError): ErrorBody {
  return errorBody(error.code, error.message, error.details);
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
