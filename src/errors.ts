/**
 * The two kinds of error in Runlet: a UserError is the caller's mistake and says how to fix
 * it (HTTP 4xx, CLI exit 1, no stack); anything else is a bug or an outage (HTTP 5xx, full
 * stack). One top-level handler per process decides how each is shown.
 */

/** Stable machine-readable codes; the message is for people, the code is for programs. */
export type ErrorCode =
  | "RUNLET_INVALID_NAME"
  | "RUNLET_INVALID_SPEC"
  | "RUNLET_INVALID_STACK_FILE"
  | "RUNLET_INVALID_ARCHIVE"
  | "RUNLET_INVALID_REQUEST"
  | "RUNLET_INVALID_IMPORT"
  | "RUNLET_SOURCE_NOT_FOUND"
  | "RUNLET_HANDLER_NOT_FOUND"
  | "RUNLET_HANDLER_SYNTAX"
  | "RUNLET_HANDLER_NO_EXPORT"
  | "RUNLET_HANDLER_LOAD_FAILED"
  | "RUNLET_PACKAGE_NOT_FOUND"
  | "RUNLET_PACKAGE_TOO_LARGE"
  | "RUNLET_PACKAGE_TOO_COMPRESSED"
  | "RUNLET_PACKAGE_CORRUPT"
  | "RUNLET_FUNCTION_NOT_FOUND"
  | "RUNLET_SECRET_NOT_FOUND"
  | "RUNLET_UNAUTHORIZED"
  | "RUNLET_BODY_TOO_LARGE"
  | "RUNLET_NOT_LOGGED_IN"
  | "RUNLET_GATEWAY_UNREACHABLE"
  | "RUNLET_PORT_IN_USE"
  | "RUNLET_UNSUPPORTED_RUNTIME"
  | "RUNLET_ALREADY_EXISTS"
  | "RUNLET_QUEUE_FULL"
  | "RUNLET_BUILD_FAILED"
  | "RUNLET_CALL_NOT_FOUND"
  | "RUNLET_API_ERROR"
  | "RUNLET_TRIGGER_NOT_FOUND"
  | "RUNLET_TRIGGER_CONFLICT"
  | "RUNLET_NATS_NOT_CONFIGURED"
  | "RUNLET_NATS_UNAVAILABLE"
  | "RUNLET_NOT_FOUND"
  | "RUNLET_METHOD_NOT_ALLOWED"
  | "RUNLET_REQUEST_TIMEOUT"
  | "RUNLET_URI_TOO_LONG"
  | "RUNLET_UNSUPPORTED_MEDIA_TYPE"
  | "RUNLET_HEADERS_TOO_LARGE"
  | "RUNLET_INTERNAL"
  | "RUNLET_UPSTREAM_FAILED"
  | "RUNLET_INSTANCE_FAILED"
  | "RUNLET_INVALID_RESPONSE"
  | "RUNLET_CRASH_LOOP"
  | "RUNLET_FUNCTION_TIMEOUT";

const statusByCode: Partial<Record<ErrorCode, number>> = {
  RUNLET_UNAUTHORIZED: 401,
  RUNLET_FUNCTION_NOT_FOUND: 404,
  RUNLET_SECRET_NOT_FOUND: 404,
  RUNLET_PACKAGE_NOT_FOUND: 404,
  RUNLET_CALL_NOT_FOUND: 404,
  RUNLET_ALREADY_EXISTS: 409,
  RUNLET_TRIGGER_NOT_FOUND: 404,
  RUNLET_TRIGGER_CONFLICT: 409,
  RUNLET_NATS_UNAVAILABLE: 503,
  RUNLET_BODY_TOO_LARGE: 413,
  RUNLET_PACKAGE_TOO_LARGE: 413,
  RUNLET_PACKAGE_TOO_COMPRESSED: 413,
  // The stored tree no longer matches its digest: the platform's data, not the caller's mistake.
  RUNLET_PACKAGE_CORRUPT: 500,
  RUNLET_QUEUE_FULL: 429,
  RUNLET_BUILD_FAILED: 422,
  RUNLET_NOT_FOUND: 404,
  RUNLET_METHOD_NOT_ALLOWED: 405,
  RUNLET_REQUEST_TIMEOUT: 408,
  RUNLET_URI_TOO_LONG: 414,
  RUNLET_UNSUPPORTED_MEDIA_TYPE: 415,
  RUNLET_HEADERS_TOO_LARGE: 431,
  RUNLET_INTERNAL: 500,
  RUNLET_UPSTREAM_FAILED: 502,
  RUNLET_INSTANCE_FAILED: 502,
  RUNLET_INVALID_RESPONSE: 502,
  RUNLET_CRASH_LOOP: 502,
  RUNLET_FUNCTION_TIMEOUT: 504,
};

/** The status an error code is answered with (400 for the codes that name none). */
export function statusOf(code: ErrorCode): number {
  return statusByCode[code] ?? 400;
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

/** The one serializer of error bodies for errors that carry only a code and a message. */
export function errorJson(code: ErrorCode, message: string): string {
  return JSON.stringify({ error: { code, message } });
}

export interface UserErrorOptions extends ErrorOptions {
  /** HTTP status when the error crosses the API; defaults by code, else 400. */
  status?: number;
  /** Extra structured detail (file/line of a handler error, the list of problems, …). */
  details?: Record<string, unknown>;
}

/** A mistake the user can fix; the message says how. */
export class UserError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: UserErrorOptions = {}) {
    super(message, options);
    this.name = "UserError";
    this.code = code;
    this.status = options.status ?? statusByCode[code] ?? 400;
    this.details = options.details;
  }
}

export function isUserError(error: unknown): error is UserError {
  return error instanceof UserError;
}

/** The JSON body every API error has: `{ error: { code, message, ...details } }`. */
export interface ErrorBody {
  error: { code: string; message: string } & Record<string, unknown>;
}

export function errorBody(error: UserError): ErrorBody {
  return { error: { code: error.code, message: error.message, ...error.details } };
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
