/**
 * Moving a function between revisions (issue 20): `POST /api/v1/functions/NAME/rollback`
 * activates an earlier revision, `POST /api/v1/functions/NAME/scale` sets its instance bounds
 * as a new revision. Both answer like a deploy: `{name, revision, outcome}`.
 */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { Platform } from "../../platform/platform.js";
import { parseFunctionSpec } from "../../spec/function-spec.js";
import { keyIn } from "../namespaced.js";
import { deployAnswer } from "../views.js";

export const rollbackBodySchema = z.strictObject({
  /** The revision to activate. @default the newest one before the active revision */
  revision: z.number().int().min(1).optional(),
});

export const scaleBodySchema = z
  .strictObject({
    min: z.number().int().min(0).max(1000).optional(),
    max: z.number().int().min(1).max(1000).optional(),
  })
  .refine((body) => body.min !== undefined || body.max !== undefined, {
    message: 'give min, max or both, e.g. {"min": 1, "max": 5}',
  });

export function registerRevisionRoutes(app: FastifyInstance, platform: Platform): void {
  app.post<{ Params: { name: string } }>("/api/v1/functions/:name/rollback", async (request) => {
    const body = parseFunctionSpec(rollbackBodySchema, request.body ?? {}, "rollback request");
    return deployAnswer(
      await platform.rollback(keyIn(request, request.params.name), body.revision),
    );
  });

  app.post<{ Params: { name: string } }>("/api/v1/functions/:name/scale", async (request) => {
    const body = parseFunctionSpec(scaleBodySchema, request.body ?? {}, "scale request");
    return deployAnswer(await platform.scale(keyIn(request, request.params.name), body));
  });
}
