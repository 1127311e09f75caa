/**
 * Admin authentication for control routes: `Authorization: Bearer <token>`, or Basic with
 * user `admin` and the token as password (what OpenFaaS clients send). Compared in constant
 * time (src/router/credentials.ts).
 */
import type { IncomingHttpHeaders } from "node:http";
import type { PlatformCredentials } from "../router/credentials.js";

export function isAdmin(headers: IncomingHttpHeaders, credentials: PlatformCredentials): boolean {
  return credentials.isAdmin(headers.authorization);
}

export const unauthorizedMessage =
  "This route needs the admin token: send `Authorization: Bearer <token>` (the token `runlet up` printed, also in <data-dir>/admin-token), or log in with `runlet login`.";
