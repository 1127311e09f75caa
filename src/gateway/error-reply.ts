/**
 * How a Fastify listener of the gateway answers the error a request ends with, Runlet's or
 * Fastify's own (bad URL, parameter too long, body not parsed, wrong content type): in the
 * catalogue's shape, 4xx for the caller's mistakes, and a bare 500 for ours, whose detail
 * (which may name host paths) goes to the log only.
 */
import type { FastifyError, FastifyReply } from "fastify";
import { codeForStatus, errorBody, isUserError, userErrorBody, type UserError } from "../errors.js";

/** What the caller of a request that hit our bug is told; the detail goes to the log. */
export const internalErrorMessage = "Runlet hit an internal error; it is logged.";

export type ErrorReply = (error: FastifyError | UserError | Error, reply: FastifyReply) => unknown;

export function errorReply(onInternalError: (error: unknown) => void): ErrorReply {
  return (error, reply) => {
    if (isUserError(error)) {
      return reply.code(error.status).send(userErrorBody(error));
    }
    const errorCode = (error as { code?: unknown }).code;
    if (typeof errorCode === "string" && errorCode.startsWith("TAR_")) {
      // The archive library's refusals (links, paths too deep, bad entries) are the upload's fault.
      return reply
        .code(400)
        .send(
          errorBody("RUNLET_INVALID_ARCHIVE", `The package archive was refused: ${error.message}`),
        );
    }
    const status =
      "statusCode" in error && typeof error.statusCode === "number" ? error.statusCode : 500;
    if (status < 500) {
      return reply.code(status).send(errorBody(codeForStatus(status), error.message));
    }
    onInternalError(error);
    return reply.code(500).send(errorBody("RUNLET_INTERNAL", internalErrorMessage));
  };
}
