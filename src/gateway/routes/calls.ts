/** Async call status under /api/v1/calls: one call with its result, or a filtered list. */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { Platform } from "../../platform/platform.js";
import { parseFunctionSpec } from "../../spec/function-spec.js";
import { callStates } from "../../store/call-store.js";
import { callView } from "../views.js";
import { namespaceOf } from "../access.js";
import { keyIn } from "../namespaced.js";
import { isInNamespace } from "../../spec/namespaces.js";
import { callNotFound } from "../../calls/call-request.js";

export const callsQuerySchema = z.object({
  function: z.string().min(1).optional(),
  status: z.enum(callStates).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});

export function registerCallRoutes(app: FastifyInstance, platform: Platform): void {
  app.get("/api/v1/calls", async (request) => {
    const query = parseFunctionSpec(callsQuerySchema, request.query, "calls query");
    const namespace = namespaceOf(request);
    const calls = await platform.calls.list({
      functionName: query.function === undefined ? undefined : keyIn(request, query.function),
      namespace,
      state: query.status,
      limit: query.limit,
    });
    return calls.map((call) => callView(call));
  });

  // A call of another namespace's function is not found: its id says nothing of it.
  app.get<{ Params: { id: string } }>("/api/v1/calls/:id", async (request) => {
    const call = await platform.calls.require(request.params.id);
    if (!isInNamespace(call.functionName, namespaceOf(request))) {
      throw callNotFound(request.params.id);
    }
    return callView(call);
  });
}
