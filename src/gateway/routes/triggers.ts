/** /api/v1/triggers: HTTP routes, cron schedules and NATS subjects that call functions. */
import type { FastifyInstance } from "fastify";
import type { Platform } from "../../platform/platform.js";
import { parseFunctionSpec } from "../../spec/function-spec.js";
import { triggerRequestSchema } from "../../spec/trigger-spec.js";

export function registerTriggerRoutes(app: FastifyInstance, platform: Platform): void {
  app.get("/api/v1/triggers", async () => platform.triggers.list());

  app.post("/api/v1/triggers", async (request, reply) => {
    const body = parseFunctionSpec(triggerRequestSchema, request.body, "trigger");
    return reply.code(201).send(await platform.triggers.create(body));
  });

  app.get<{ Params: { name: string } }>("/api/v1/triggers/:name", async (request) =>
    platform.triggers.get(request.params.name),
  );

  app.delete<{ Params: { name: string } }>("/api/v1/triggers/:name", async (request, reply) => {
    await platform.triggers.remove(request.params.name);
    return reply.code(204).send();
  });
}
