/**
 * /api/v1/triggers: HTTP routes, cron schedules and NATS subjects that call functions, each in
 * its function's namespace. HTTP routes are one table on the gateway's root: a route is held by
 * one trigger, so by one namespace.
 */
import type { FastifyInstance } from "fastify";
import type { Platform } from "../../platform/platform.js";
import { parseFunctionSpec } from "../../spec/function-spec.js";
import { triggerRequestSchema } from "../../spec/trigger-spec.js";
import { namespaceOf } from "../access.js";
import { keyIn, targetKeyIn, triggerKeyIn, triggerNamespace, triggerView } from "../namespaced.js";

export function registerTriggerRoutes(app: FastifyInstance, platform: Platform): void {
  app.get("/api/v1/triggers", async (request) => {
    const namespace = namespaceOf(request);
    return platform.triggers
      .list()
      .filter((trigger) => triggerNamespace(trigger) === namespace)
      .map(triggerView);
  });

  app.post("/api/v1/triggers", async (request, reply) => {
    const body = parseFunctionSpec(triggerRequestSchema, request.body, "trigger");
    const created = await platform.triggers.create({
      ...body,
      name: keyIn(request, body.name, "trigger"),
      function: targetKeyIn(request, body.function),
    });
    return reply.code(201).send(triggerView(created));
  });

  app.get<{ Params: { name: string } }>("/api/v1/triggers/:name", async (request) =>
    triggerView(platform.triggers.get(triggerKeyIn(request, request.params.name))),
  );

  app.delete<{ Params: { name: string } }>("/api/v1/triggers/:name", async (request, reply) => {
    await platform.triggers.remove(triggerKeyIn(request, request.params.name));
    return reply.code(204).send();
  });
}
