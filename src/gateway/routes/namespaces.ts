/**
 * /api/v1/namespaces (issue 18): each namespace's use (functions, instances, their memory) and
 * its quota. Anyone who may view a namespace reads it; only the admin token sets quotas, so a
 * namespace's own admin cannot raise its own.
 */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { UserError } from "../../errors.js";
import type { Platform } from "../../platform/platform.js";
import { parseFunctionSpec } from "../../spec/function-spec.js";
import { isInNamespace, namespaceNamed } from "../../spec/namespaces.js";
import { formatSize, parseSize, sizeTextPattern } from "../../spec/units.js";
import type { Quota } from "../../store/quota-store.js";
import type { RouteAccess } from "../access.js";

const quotaBodySchema = z.strictObject({
  functions: z.number().int().min(0).optional(),
  instances: z.number().int().min(0).optional(),
  memory: z
    .union([z.string().regex(sizeTextPattern, 'a size, e.g. "2Gi" or "512Mi"'), z.number()])
    .optional(),
});

/** The namespace in the path (`default` is the default one), for the access check. */
const pathNamespace = (request: { params: unknown }): string =>
  namespaceNamed((request.params as { namespace: string }).namespace);

export function registerNamespaceRoutes(app: FastifyInstance, platform: Platform): void {
  app.get(
    "/api/v1/namespaces",
    { config: { access: { right: "superuser" } satisfies RouteAccess } },
    async () => platform.namespaces().map((namespace) => namespaceView(platform, namespace)),
  );

  app.get<{ Params: { namespace: string } }>(
    "/api/v1/namespaces/:namespace",
    { config: { access: { right: "view", namespace: pathNamespace } satisfies RouteAccess } },
    async (request) => namespaceView(platform, pathNamespace(request)),
  );

  app.put<{ Params: { namespace: string } }>(
    "/api/v1/namespaces/:namespace/quota",
    { config: { access: { right: "superuser", namespace: pathNamespace } satisfies RouteAccess } },
    async (request) => {
      const quotas = quotaStore(platform);
      const body = parseFunctionSpec(quotaBodySchema, request.body, "quota");
      const memoryBytes = body.memory === undefined ? undefined : parseSize(body.memory);
      const quota: Quota = {
        ...(body.functions === undefined ? {} : { functions: body.functions }),
        ...(body.instances === undefined ? {} : { instances: body.instances }),
        ...(memoryBytes === undefined ? {} : { memoryBytes }),
      };
      const namespace = pathNamespace(request);
      quotas.put(namespace, quota);
      return namespaceView(platform, namespace);
    },
  );

  app.delete<{ Params: { namespace: string } }>(
    "/api/v1/namespaces/:namespace/quota",
    { config: { access: { right: "superuser", namespace: pathNamespace } satisfies RouteAccess } },
    async (request, reply) => {
      quotaStore(platform).remove(pathNamespace(request));
      return reply.code(204).send();
    },
  );
}

function quotaStore(platform: Platform) {
  const quotas = platform.quotas;
  if (!quotas) {
    throw new UserError(
      "RUNLET_INVALID_REQUEST",
      "This platform keeps no namespace quotas (Kubernetes mode: use a Kubernetes ResourceQuota on the functions' namespace).",
    );
  }
  return quotas;
}

/** A namespace's use, and its quota when it has one. */
function namespaceView(platform: Platform, namespace: string): Record<string, unknown> {
  const functions = platform.list().filter((fn) => isInNamespace(fn.name, namespace));
  let instances = 0;
  let memoryBytes = 0;
  for (const fn of functions) {
    instances += fn.replicas;
    memoryBytes += fn.replicas * fn.config.memoryBytes;
  }
  const quota = platform.quotas?.get(namespace);
  return {
    name: namespace,
    usage: { functions: functions.length, instances, memory: formatSize(memoryBytes) },
    ...(quota === undefined ? {} : { quota: quotaView(quota) }),
  };
}

function quotaView(quota: Quota): Record<string, unknown> {
  return {
    ...(quota.functions === undefined ? {} : { functions: quota.functions }),
    ...(quota.instances === undefined ? {} : { instances: quota.instances }),
    ...(quota.memoryBytes === undefined ? {} : { memory: formatSize(quota.memoryBytes) }),
  };
}
