/**
 * The platform's credentials (the admin token, scoped tokens and function invoke keys) as the
 * call path sees them: recognized in an Authorization value (the admin token in constant time,
 * scoped ones by their SHA-256 in the token store), and removed from every call before it
 * reaches a function, its logs or a stored async call (issues 13, 18). A function's own
 * Authorization scheme (a bearer token it checks itself) passes through untouched.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { adminPrincipal, type Principal } from "../auth/roles.js";
import { containsToken, looksLikeToken, tokenDigest } from "../auth/token-format.js";
import type { TokenStore } from "../store/token-store.js";

/** Who an Authorization value names, or why it names nobody. */
export type Authentication =
  | { readonly ok: true; readonly principal: Principal }
  | {
      readonly ok: false;
      /** "missing": no credential sent; "invalid": not one we know; "expired": past its time. */
      readonly reason: "missing" | "invalid" | "expired";
      readonly message: string;
    };

export interface ScopedTokens {
  readonly store: TokenStore;
  /** Epoch milliseconds, for expiry. */
  readonly now: () => number;
}

const missing: Authentication = {
  ok: false,
  reason: "missing",
  message: "no credential was sent",
};
const invalid: Authentication = {
  ok: false,
  reason: "invalid",
  message:
    "the credential sent is not a token this platform knows (revoked, mistyped, or another platform's)",
};

export class PlatformCredentials {
  readonly #digests: readonly Buffer[];
  readonly #scoped: ScopedTokens | undefined;

  /**
   * `tokens`: the superuser tokens (the admin token); `scoped`: where scoped tokens and invoke
   * keys are looked up (without it only the superuser tokens are accepted).
   */
  constructor(tokens: readonly string[], scoped?: ScopedTokens) {
    this.#digests = tokens.filter((token) => token !== "").map(digest);
    this.#scoped = scoped;
  }

  /**
   * Who `value` (an Authorization header) authenticates as: `Bearer <token>`, or Basic with the
   * token as password and, as user, `admin` for the admin token or the scoped token's name
   * (what OpenFaaS clients send).
   */
  authenticate(value: string | string[] | undefined): Authentication {
    const header = Array.isArray(value) ? value[0] : value;
    if (!header) {
      return missing;
    }
    const { scheme, credentials } = splitScheme(header);
    let user: string | undefined;
    let secret: string;
    if (scheme === "bearer") {
      secret = credentials;
    } else if (scheme === "basic") {
      const decoded = Buffer.from(credentials, "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      user = colon === -1 ? "" : decoded.slice(0, colon);
      secret = colon === -1 ? "" : decoded.slice(colon + 1);
    } else {
      return invalid;
    }
    // Compared whatever the user: no early answer on a wrong user name.
    const isAdminToken = this.#matches(secret);
    if (isAdminToken) {
      return user === undefined || user === "admin"
        ? { ok: true, principal: adminPrincipal }
        : invalid;
    }
    if (!this.#scoped || !looksLikeToken(secret)) {
      return invalid;
    }
    const record = this.#scoped.store.findByDigest(tokenDigest(secret));
    if (!record || (user !== undefined && user !== record.name)) {
      return invalid;
    }
    if (record.expiresAt !== undefined && this.#scoped.now() >= record.expiresAt) {
      return {
        ok: false,
        reason: "expired",
        message: `token ${record.name} expired at ${new Date(record.expiresAt).toISOString()}; ask an admin for a new one (runlet token create)`,
      };
    }
    return {
      ok: true,
      principal: {
        kind: "token",
        name: record.name,
        namespace: record.namespace,
        role: record.role,
        function: record.function,
        rate: record.rate,
      },
    };
  }

  /**
   * Whether `value` (an Authorization header) authenticates as the admin: `Bearer <token>`, or
   * Basic with user `admin` and the token as password (what OpenFaaS clients send).
   */
  isAdmin(value: string | string[] | undefined): boolean {
    const result = this.authenticate(value);
    return result.ok && result.principal.kind === "admin";
  }

  /**
   * Whether `value` carries a platform credential in any form a client might send one: the
   * token alone, after any scheme, or as a Basic password (any user) or Basic value. Anything
   * shaped like a scoped token counts, known or not (a revoked one is still nobody's business).
   */
  carries(value: string | string[] | undefined): boolean {
    if (value === undefined) {
      return false;
    }
    for (const header of Array.isArray(value) ? value : [value]) {
      const { scheme, credentials } = splitScheme(header);
      let found =
        this.#matches(header.trim()) || this.#matches(credentials) || containsToken(header);
      if (scheme === "basic") {
        const decoded = Buffer.from(credentials, "base64").toString("utf8");
        const colon = decoded.indexOf(":");
        found =
          this.#matches(decoded) ||
          this.#matches(decoded.slice(colon + 1)) ||
          containsToken(decoded) ||
          found;
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
