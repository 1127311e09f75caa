/**
 * Who may call a function that is not public (issue 18): `auth: required` takes the admin
 * token, an invoker (or deployer, or admin) token of the function's namespace, or one of the
 * function's own invoke keys, in `Authorization: Bearer <token>` or as a Basic password (user:
 * the token's name, or `admin`). Never the right to deploy: calling and changing are apart.
 */
import type { IncomingHttpHeaders } from "node:http";
import { authorize, type Principal } from "../auth/roles.js";
import { namespaceOfKey } from "../spec/namespaces.js";
import type { PlatformCredentials } from "../router/credentials.js";
import { parseRate } from "../spec/rate.js";
import type { CallRefusal } from "./call-refusal.js";
import { rateLimited } from "./call-refusal.js";
import type { RateLimits } from "./rate-limits.js";

export const unauthorizedMessage =
  "This function needs a credential: send `Authorization: Bearer <token>` with a token of role invoker (runlet token create NAME --role invoker), one of the function's invoke keys (runlet function key create FUNCTION), or the admin token.";

/**
 * undefined when the caller may invoke `functionName`; else "unauthenticated", the 403's
 * message, or the 429 of a token past its own rate limit.
 */
export function invokeRefusal(
  headers: IncomingHttpHeaders,
  credentials: PlatformCredentials,
  functionName: string,
  limits: RateLimits | undefined,
): "unauthenticated" | string | CallRefusal | undefined {
  const result = credentials.authenticate(headers.authorization);
  if (!result.ok) {
    return "unauthenticated";
  }
  const refusal = authorize(result.principal, "invoke", namespaceOfKey(functionName), functionName);
  if (refusal !== undefined || limits === undefined) {
    return refusal;
  }
  return tokenRateRefusal(result.principal, limits);
}

/** The 429 of a token past its own rate limit, or undefined. */
export function tokenRateRefusal(
  principal: Principal,
  limits: RateLimits,
): CallRefusal | undefined {
  if (principal.kind !== "token" || principal.rate === undefined) {
    return undefined;
  }
  const rate = parseRate(principal.rate);
  const wait = rate && limits.take(`token ${principal.name}`, rate);
  return wait === undefined
    ? undefined
    : rateLimited(`Token ${principal.name}`, principal.rate, wait);
}
