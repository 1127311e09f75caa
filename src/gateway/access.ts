/**
 * Access to the control API (issue 18): who a request is (authenticate, 401 when nobody), what
 * it may do (authorize, 403 naming the missing right), and the audit entry it leaves. Each
 * route's right comes from its method unless the route says otherwise in its Fastify config
 * (`config.access`): reads need `view`, changes need `deploy`. The namespace a request acts in
 * is `?namespace=`, else the body's `namespace` (OpenFaaS clients send it), else the default.
 */
import type { IncomingMessage } from "node:http";
import type { FastifyReply, FastifyRequest } from "fastify";
import { authorize, principalName, type Principal, type Right } from "../auth/roles.js";
import { errorBody, errorJson } from "../errors.js";
import { defaultFunctionNamespace } from "../kubernetes/names.js";
import { namespaceNamed } from "../spec/namespaces.js";
import type { Platform } from "../platform/platform.js";
import { tokenRateRefusal } from "./auth.js";
import { rateLimitsOf } from "./rate-limits.js";

/** What a route may declare in `config.access`. */
export interface RouteAccess {
  /** @default "view" for GET and HEAD, "deploy" otherwise */
  readonly right?: Right;
  /** The namespace the request acts in. @default requestNamespace() */
  readonly namespace?: (request: FastifyRequest, principal: Principal) => string;
}

interface Granted {
  readonly principal: Principal | undefined;
  namespace: string;
  refusal: string | undefined;
}

const granted = new WeakMap<IncomingMessage, Granted>();

const readMethods = new Set(["GET", "HEAD", "OPTIONS"]);

export const unauthorizedMessage =
  "This route needs a token: send `Authorization: Bearer <token>` (the admin token `runlet up` printed, also in <data-dir>/admin-token, or a token from `runlet token create`), or log in with `runlet login`.";

export const challenge = 'Basic realm="runlet", Bearer realm="runlet"';

/** The principal of a request the onRequest check let in. */
export function principalOf(request: FastifyRequest): Principal {
  return granted.get(request.raw)?.principal ?? { kind: "admin" };
}

/**
 * ?namespace=, else the body's namespace, else the default namespace ("default" stands for it
 * too); a 400 when it is not a valid name.
 */
export function requestNamespace(request: FastifyRequest): string {
  const query = request.query as Record<string, unknown> | undefined;
  const fromQuery = query?.["namespace"];
  if (typeof fromQuery === "string" && fromQuery !== "") {
    return namespaceNamed(fromQuery);
  }
  const body = request.body as Record<string, unknown> | undefined;
  const fromBody =
    body !== null && typeof body === "object" && !Buffer.isBuffer(body)
      ? body["namespace"]
      : undefined;
  return namespaceNamed(typeof fromBody === "string" ? fromBody : undefined);
}

/** The namespace a request acts in, as its access check found it. */
export function namespaceOf(request: FastifyRequest): string {
  return granted.get(request.raw)?.namespace ?? requestNamespace(request);
}

function routeAccess(request: FastifyRequest): RouteAccess {
  const config = request.routeOptions.config as { access?: RouteAccess } | undefined;
  return config?.access ?? {};
}

/** onRequest: 401 for a request without a valid credential; the rest goes on to authorize. */
export function authenticate(
  platform: Platform,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply | undefined {
  const result = platform.credentials.authenticate(request.headers.authorization);
  if (!result.ok) {
    granted.set(request.raw, {
      principal: undefined,
      namespace: defaultFunctionNamespace,
      refusal: result.message,
    });
    const message =
      result.reason === "missing"
        ? unauthorizedMessage
        : `${unauthorizedMessage} (${result.message})`;
    return reply
      .code(401)
      .header("www-authenticate", challenge)
      .send(errorBody("RUNLET_UNAUTHORIZED", message));
  }
  granted.set(request.raw, {
    principal: result.principal,
    namespace: defaultFunctionNamespace,
    refusal: undefined,
  });
  const limited = tokenRateRefusal(result.principal, rateLimitsOf(platform));
  if (limited) {
    return reply
      .code(limited.status)
      .headers(limited.extraHeaders())
      .type("application/json")
      .send(limited.json);
  }
  return undefined;
}

/** preHandler (the body is parsed, so its namespace is known): 403 when the right is missing. */
export function authorizeRequest(
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply | undefined {
  const state = granted.get(request.raw);
  if (!state?.principal) {
    return undefined;
  }
  const access = routeAccess(request);
  const right = access.right ?? (readMethods.has(request.method) ? "view" : "deploy");
  state.namespace = access.namespace
    ? access.namespace(request, state.principal)
    : requestNamespace(request);
  const refusal = authorize(state.principal, right, state.namespace);
  if (refusal !== undefined) {
    state.refusal = refusal;
    return reply.code(403).send(errorBody("RUNLET_FORBIDDEN", `${capitalize(refusal)}.`));
  }
  return undefined;
}

/**
 * onSend: one audit entry per control action (every request that is not a read), and for
 * every refused read. Reads that succeed are not recorded: the dashboard polls them.
 */
export async function audit(
  platform: Platform,
  request: FastifyRequest,
  reply: FastifyReply,
  payload: unknown,
): Promise<void> {
  const state = granted.get(request.raw);
  if (!state) {
    return;
  }
  const status = reply.statusCode;
  const refused = status === 401 || status === 403;
  if (readMethods.has(request.method) && !refused) {
    return;
  }
  if (readMethods.has(request.method) && status === 401) {
    // Anonymous reads are not worth a row each: anyone can send them by the thousand.
    return;
  }
  await platform.audit.append({
    time: platform.clock.now(),
    actor: state.principal ? principalName(state.principal) : "anonymous",
    namespace: state.namespace,
    action: `${request.method} ${request.routeOptions.url ?? request.url.split("?")[0] ?? ""}`,
    object: objectOf(request),
    result: status < 400 ? "ok" : `${status}: ${errorMessageOf(payload) ?? state.refusal ?? ""}`,
    status,
  });
}

/** What a request acts on: its path's names, or the name in its body (OpenFaaS routes). */
function objectOf(request: FastifyRequest): string {
  const route = request.routeOptions.url ?? "";
  const params = (request.params ?? {}) as Record<string, string>;
  const kind =
    route
      .replace(/^\/(api\/v1|system)\//, "")
      .split("/")
      .find((part) => part !== "" && !part.startsWith(":")) ?? "";
  const names = Object.values(params).filter((value) => typeof value === "string");
  const body = request.body as Record<string, unknown> | undefined;
  if (names.length === 0 && body !== null && typeof body === "object" && !Buffer.isBuffer(body)) {
    for (const field of ["service", "functionName", "name"]) {
      const value = body[field];
      if (typeof value === "string") {
        names.push(value);
        break;
      }
    }
  }
  return [kind, ...names].join(" ").trim();
}

function errorMessageOf(payload: unknown): string | undefined {
  if (typeof payload !== "string" || !payload.startsWith('{"error"')) {
    return undefined;
  }
  try {
    const parsed = JSON.parse(payload) as { error?: { message?: unknown } };
    return typeof parsed.error?.message === "string"
      ? parsed.error.message.slice(0, 500)
      : undefined;
  } catch {
    return undefined;
  }
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** The JSON of a refusal for the call path (no Fastify there). */
export function forbiddenJson(message: string): string {
  return errorJson("RUNLET_FORBIDDEN", `${capitalize(message)}.`);
}
