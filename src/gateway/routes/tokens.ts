/**
 * /api/v1/tokens (scoped API tokens) and /api/v1/functions/NAME/keys (a function's invoke keys),
 * issue 18. Managing tokens needs the admin token or a namespace's admin role (and then only in
 * that namespace); invoke keys are managed by whoever may deploy the function.
 */
import { keyIn } from "../namespaced.js";
import { namespaceOfKey, splitQualifiedName } from "../../spec/namespaces.js";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Principal } from "../../auth/roles.js";
import { defaultFunctionNamespace } from "../../kubernetes/names.js";
import {
  createFunctionKey,
  createToken,
  functionKeyRequestSchema,
  tokenNotFound,
  tokenRequestSchema,
  tokenView,
} from "../../platform/access-tokens.js";
import type { Platform } from "../../platform/platform.js";
import { parseFunctionSpec } from "../../spec/function-spec.js";
import { principalOf, requestNamespace, type RouteAccess } from "../access.js";

/** ?namespace=, else the token's own namespace: a namespace admin lists its own tokens. */
function ownNamespace(request: FastifyRequest, principal: Principal): string {
  const query = request.query as Record<string, unknown>;
  const asked = query["namespace"];
  if (typeof asked === "string" && asked !== "") {
    return asked;
  }
  return principal.kind === "token" ? principal.namespace : defaultFunctionNamespace;
}

export function registerTokenRoutes(app: FastifyInstance, platform: Platform): void {
  const manage: RouteAccess = { right: "manageTokens", namespace: ownNamespace };

  app.post(
    "/api/v1/tokens",
    { config: { access: { right: "manageTokens", namespace: requestNamespace } } },
    async (request, reply) => {
      const body = parseFunctionSpec(tokenRequestSchema, request.body, "token request");
      const created = await createToken(platform.tokens, body, principalOf(request));
      return reply.code(201).header("cache-control", "no-store").send(created);
    },
  );

  app.get("/api/v1/tokens", { config: { access: manage } }, async (request) => {
    const principal = principalOf(request);
    const query = request.query as Record<string, unknown>;
    // The admin token without ?namespace= sees every namespace's tokens.
    const all = principal.kind === "admin" && typeof query["namespace"] !== "string";
    const namespace = ownNamespace(request, principal);
    return platform.tokens
      .list()
      .filter((record) => all || record.namespace === namespace)
      .map(tokenView);
  });

  app.delete<{ Params: { name: string } }>(
    "/api/v1/tokens/:name",
    {
      config: {
        access: {
          right: "manageTokens",
          // The namespace of the token revoked: a namespace admin revokes only its own.
          namespace: (request) =>
            platform.tokens.get((request.params as { name: string }).name)?.namespace ??
            defaultFunctionNamespace,
        } satisfies RouteAccess,
      },
    },
    async (request, reply) => {
      if (!(await platform.tokens.remove(request.params.name))) {
        throw tokenNotFound(request.params.name);
      }
      return reply.code(204).send();
    },
  );

  // Who the request's credential is, in its own namespace: what a client (the dashboard) acts as.
  app.get(
    "/api/v1/whoami",
    {
      config: {
        access: {
          right: "identify",
          namespace: (_request, principal) =>
            principal.kind === "token" ? principal.namespace : defaultFunctionNamespace,
        } satisfies RouteAccess,
      },
    },
    async (request) => {
      const principal = principalOf(request);
      return principal.kind === "admin"
        ? { kind: "admin", name: "admin", namespace: defaultFunctionNamespace, role: "superuser" }
        : {
            kind: principal.function === undefined ? "token" : "key",
            name: principal.name,
            namespace: principal.namespace,
            role: principal.role,
            ...(principal.function === undefined
              ? {}
              : { function: splitQualifiedName(principal.function).name }),
          };
    },
  );

  app.post<{ Params: { name: string } }>("/api/v1/functions/:name/keys", async (request, reply) => {
    const key = keyIn(request, request.params.name);
    platform.get(key);
    const body = parseFunctionSpec(functionKeyRequestSchema, request.body ?? {}, "key request");
    const created = await createFunctionKey(platform.tokens, key, body, principalOf(request));
    return reply.code(201).header("cache-control", "no-store").send(created);
  });

  app.get<{ Params: { name: string } }>(
    "/api/v1/functions/:name/keys",
    { config: { access: { right: "deploy" } satisfies RouteAccess } },
    async (request) => {
      const key = keyIn(request, request.params.name);
      platform.get(key);
      return platform.tokens
        .list()
        .filter((record) => record.function === key && record.namespace === namespaceOfKey(key))
        .map(tokenView);
    },
  );

  app.delete<{ Params: { name: string; key: string } }>(
    "/api/v1/functions/:name/keys/:key",
    async (request, reply) => {
      const record = platform.tokens.get(request.params.key);
      if (!record || record.function !== keyIn(request, request.params.name)) {
        throw tokenNotFound(request.params.key);
      }
      await platform.tokens.remove(record.name);
      return reply.code(204).send();
    },
  );
}
