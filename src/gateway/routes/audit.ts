/**
 * GET /api/v1/audit: the audit log of control actions (issue 18), oldest first, for the admin
 * token (every namespace) or a namespace's admins (their namespace); GET /api/v1/audit/verify
 * recomputes the hash chain and says where it breaks.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import type { Principal } from "../../auth/roles.js";
import { defaultFunctionNamespace } from "../../kubernetes/names.js";
import type { Platform } from "../../platform/platform.js";
import { parseFunctionSpec } from "../../spec/function-spec.js";
import type { AuditEntry } from "../../store/audit-log.js";
import { principalOf, type RouteAccess } from "../access.js";
import { sinceMs, sinceParam } from "./logs.js";

export const auditQuerySchema = z.strictObject({
  since: sinceParam.optional(),
  namespace: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(100_000).optional(),
});

function auditNamespace(request: FastifyRequest, principal: Principal): string {
  const asked = (request.query as Record<string, unknown>)["namespace"];
  if (typeof asked === "string" && asked !== "") {
    return asked;
  }
  return principal.kind === "token" ? principal.namespace : defaultFunctionNamespace;
}

export function auditView(entry: AuditEntry): Record<string, unknown> {
  return {
    ...(entry.chain !== undefined && { chain: entry.chain }),
    seq: entry.seq,
    time: new Date(entry.time).toISOString(),
    actor: entry.actor,
    namespace: entry.namespace,
    action: entry.action,
    object: entry.object,
    result: entry.result,
    status: entry.status,
    hash: entry.hash,
  };
}

export function registerAuditRoutes(app: FastifyInstance, platform: Platform): void {
  app.get(
    "/api/v1/audit",
    { config: { access: { right: "readAudit", namespace: auditNamespace } satisfies RouteAccess } },
    async (request) => {
      const query = parseFunctionSpec(auditQuerySchema, request.query, "audit query");
      const principal = principalOf(request);
      const namespace =
        principal.kind === "admin" ? query.namespace : auditNamespace(request, principal);
      return platform.audit
        .list({ since: sinceMs(query.since), namespace, limit: query.limit })
        .map(auditView);
    },
  );

  app.get(
    "/api/v1/audit/verify",
    { config: { access: { right: "superuser" } satisfies RouteAccess } },
    async () => platform.audit.verify(),
  );
}
