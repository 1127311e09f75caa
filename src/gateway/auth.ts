/**
 * Who may call a function that is not public (issue 18): `auth: required` takes the admin
 * token, an invoker (or deployer, or admin) token of the function's namespace, or one of the
 * function's own invoke keys, in `Authorization: Bearer <token>` or as a Basic password (user:
 * the token's name, or `admin`). Never the right to deploy: calling and changing are apart.
 */
import type { IncomingHttpHeaders } from "node:http";
import { authorize } from "../auth/roles.js";
import { defaultFunctionNamespace } from "../kubernetes/names.js";
import type { PlatformCredentials } from "../router/credentials.js";

export const unauthorizedMessage =
  "This function needs a credential: send `Authorization: Bearer <token>` with a token of role invoker (runlet token create NAME --role invoker), one of the function's invoke keys (runlet function key create FUNCTION), or the admin token.";

/** undefined when the caller may invoke `functionName`; "unauthenticated", or the 403's message. */
export function invokeRefusal(
  headers: IncomingHttpHeaders,
  credentials: PlatformCredentials,
  functionName: string,
): "unauthenticated" | string | undefined {
  const result = credentials.authenticate(headers.authorization);
  if (!result.ok) {
    return "unauthenticated";
  }
  return authorize(result.principal, "invoke", defaultFunctionNamespace, functionName);
}
