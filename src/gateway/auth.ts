/**
 * Admin authentication for control routes: `Authorization: Bearer <token>`, or Basic with
 * user `admin` and the token as password (what OpenFaaS clients send).
 */
import { timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

export function isAdmin(headers: IncomingHttpHeaders, adminToken: string): boolean {
  const header = headers.authorization;
  if (!header) {
    return false;
  }
  const space = header.indexOf(" ");
  const scheme = header.slice(0, space).toLowerCase();
  const value = header.slice(space + 1).trim();
  if (scheme === "bearer") {
    return safeEqual(value, adminToken);
  }
  if (scheme === "basic") {
    const decoded = Buffer.from(value, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    return (
      colon !== -1 &&
      decoded.slice(0, colon) === "admin" &&
      safeEqual(decoded.slice(colon + 1), adminToken)
    );
  }
  return false;
}

function safeEqual(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export const unauthorizedBody = {
  error: {
    code: "RUNLET_UNAUTHORIZED",
    message:
      "This route needs the admin token: send `Authorization: Bearer <token>` (the token `runlet up` printed, also in <data-dir>/admin-token), or log in with `runlet login`.",
  },
};
