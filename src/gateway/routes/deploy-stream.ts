/**
 * A deploy whose progress streams as NDJSON (`Accept: application/x-ndjson`): one JSON object
 * per line — build steps and tool output as they happen, then the deploy's result or its
 * error. The status is 200 once streaming starts; the last line says how the deploy ended.
 */
import { deployAnswer } from "../views.js";
import { PassThrough } from "node:stream";
import type { FastifyReply, FastifyRequest } from "fastify";
import { errorBody, isUserError, statusOf, userErrorBody } from "../../errors.js";
import type { DeployResult, Platform } from "../../platform/platform.js";
import type { DeployRequest } from "../../spec/function-spec.js";

export const ndjson = "application/x-ndjson";

export function wantsDeployStream(request: FastifyRequest): boolean {
  return (request.headers.accept ?? "").includes(ndjson);
}

/** Lines: {type:"step"|"log"|"notice", …}, then {type:"result", …} or {type:"error", status, error}. */
export function streamDeploy(
  platform: Platform,
  name: string,
  body: DeployRequest,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  const stream = new PassThrough();
  // A client that goes away does not stop the deploy; its lines are dropped.
  stream.on("error", () => undefined);
  const write = (line: Record<string, unknown>): void => {
    if (!stream.writableEnded && !stream.destroyed) {
      stream.write(`${JSON.stringify(line)}\n`);
    }
  };
  void platform
    .deploy(name, body, { onBuildEvent: (event) => write({ ...event }) })
    .then(
      (result: DeployResult) => write({ type: "result", ...deployAnswer(result) }),
      (error: unknown) => {
        if (isUserError(error)) {
          write({ type: "error", status: error.status, ...userErrorBody(error) });
          return;
        }
        request.log.error({ err: error }, "deploy failed");
        write({
          type: "error",
          status: statusOf("RUNLET_INTERNAL"),
          ...errorBody("RUNLET_INTERNAL", (error as Error).message),
        });
      },
    )
    .finally(() => stream.end());
  return reply
    .code(200)
    .header("content-type", ndjson)
    .header("cache-control", "no-cache")
    .send(stream);
}
