/** Async call status under /api/v1/calls: one call with its result, or a filtered list. */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { Platform } from "../../platform/platform.js";
import { parseFunctionSpec } from "../../spec/function-spec.js";
import { callStates } from "../../store/call-store.js";
import { callView } from "../views.js";

export const callsQuerySchema = z.object({
  function: z.string().min(1).optional(),
  status: z.enum(callStates).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});

export function registerCallRoutes(app: FastifyInstance, platform: Platform): void {
  app.get("/api/v1/calls", async (request) => {
    const query = parseFunctionSpec(callsQuerySchema, request.query, "calls query");
    const calls = await platform.calls.list({
      functionName: query.function,
      state: query.status,
      limit: query.limit,
    });
    return calls.map((call) => callView(call));
  });

  app.get<{ Params: { id: string } }>("/api/v1/calls/:id", async (request) =>
    callView(await platform.calls.require(request.params.id)),
  );
}
