/**
 * The platform's credentials (the admin token) as the call path sees them: recognized in an
 * Authorization value in constant time, and removed from every call before it reaches a
 * function, its logs or a stored async call (issue 13). A function's own Authorization scheme
 * (a bearer token it checks itself) passes through untouched.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

export class PlatformCredentials {
  readonly #digests: readonly Buffer[];

  /** `tokens`: every token the platform accepts (today the admin token). */
  constructor(tokens: readonly string[]) {
    this.#digests = tokens.filter((token) => token !== "").map(digest);
  }

  /**
   * Whether `value` (an Authorization header) authenticates as the admin: `Bearer <token>`, or
   * Basic with user `admin` and the token as password (what OpenFaaS clients send).
   */
  isAdmin(value: string | string[] | undefined): boolean {
    const header = Array.isArray(value) ? value[0] : value;
    if (!header) {
      return false;
    }
    const { scheme, credentials } = splitScheme(header);
    if (scheme === "bearer") {
      return this.#matches(credentials);
    }
    if (scheme === "basic") {
      const decoded = Buffer.from(credentials, "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      // Both compared, whatever the user: no early answer on a wrong user name.
      const user = colon === -1 ? "" : decoded.slice(0, colon);
      const password = this.#matches(colon === -1 ? "" : decoded.slice(colon + 1));
      return password && user === "admin";
    }
    return false;
  }

  /**
   * Whether `value` carries a platform credential in any form a client might send one: the
   * token alone, after any scheme, or as a Basic password (any user) or Basic value.
   */
  carries(value: string | string[] | undefined): boolean {
    if (value === undefined) {
      return false;
    }
    for (const header of Array.isArray(value) ? value : [value]) {
      const { scheme, credentials } = splitScheme(header);
      let found = this.#matches(header.trim()) || this.#matches(credentials);
      if (scheme === "basic") {
        const decoded = Buffer.from(credentials, "base64").toString("utf8");
        const colon = decoded.indexOf(":");
        found = this.#matches(decoded) || this.#matches(decoded.slice(colon + 1)) || found;
      }
      if (found) {
        return true;
      }
    }
    return false;
  }

  /**
   * Removes every credential header that carries a platform credential from `headers` (names
   * in lower case), in place. Nearly every call has no Authorization at all: then this is two
   * property reads.
   */
  strip(headers: IncomingHttpHeaders | Record<string, string>): void {
    if (headers.authorization !== undefined && this.carries(headers.authorization)) {
      delete headers.authorization;
    }
    const proxy = headers["proxy-authorization"];
    if (proxy !== undefined && this.carries(proxy)) {
      delete headers["proxy-authorization"];
    }
  }

  /** Constant time in the token and the value: both are hashed to one length first. */
  #matches(value: string): boolean {
    const given = digest(value);
    let found = false;
    for (const expected of this.#digests) {
      found = timingSafeEqual(given, expected) || found;
    }
    return found;
  }
}

function digest(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}

function splitScheme(header: string): { scheme: string; credentials: string } {
  const trimmed = header.trim();
  const space = trimmed.indexOf(" ");
  return space === -1
    ? { scheme: "", credentials: trimmed }
    : {
        scheme: trimmed.slice(0, space).toLowerCase(),
        credentials: trimmed.slice(space + 1).trim(),
      };
}
