/**
 * Package grants: a short-lived credential that lets one instance fetch one package's archive
 * from the gateway (Kubernetes mode: a pod fetches its own package). The token is the grant's
 * fields and an HMAC-SHA256 of them under a platform key, so any gateway replica holding the
 * key checks it without shared state; it names the digest and the instance and expires soon.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

export interface GrantClaims {
  readonly digest: string;
  readonly instanceId: string;
  /** Milliseconds since the epoch. */
  readonly expiresAt: number;
}

/** Why a token does not open a package, as the route answers it. */
export type GrantRefusal =
  | { readonly status: 401; readonly reason: "missing" | "malformed" | "forged" | "expired" }
  | { readonly status: 403; readonly reason: "other-package" };

export interface PackageGrantsOptions {
  /** The platform's signing key: 32 random bytes or more, the same on every replica. */
  readonly key: Buffer;
  /** How long a grant is valid after it is issued. @default 60000 */
  readonly ttlMs?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

export class PackageGrants {
  readonly #key: Buffer;
  readonly #ttlMs: number;
  readonly #now: () => number;

  constructor(options: PackageGrantsOptions) {
    if (options.key.length < 32) {
      throw new Error("a package grant key needs at least 32 bytes");
    }
    this.#key = options.key;
    this.#ttlMs = options.ttlMs ?? 60_000;
    this.#now = options.now ?? Date.now;
  }

  issue(digest: string, instanceId: string): { token: string; expiresAt: number } {
    const expiresAt = this.#now() + this.#ttlMs;
    const payload = Buffer.from(
      JSON.stringify({ d: digest, i: instanceId, e: expiresAt }),
    ).toString("base64url");
    return { token: `${payload}.${this.#sign(payload)}`, expiresAt };
  }

  /** The grant's claims when `token` opens `digest` now, else why it does not. */
  check(
    token: string | undefined,
    digest: string,
  ):
    | { readonly ok: true; readonly claims: GrantClaims }
    | { readonly ok: false; readonly refusal: GrantRefusal } {
    if (!token) {
      return { ok: false, refusal: { status: 401, reason: "missing" } };
    }
    const [payload, signature, ...rest] = token.split(".");
    if (!payload || !signature || rest.length > 0) {
      return { ok: false, refusal: { status: 401, reason: "malformed" } };
    }
    const expected = Buffer.from(this.#sign(payload), "base64url");
    const given = Buffer.from(signature, "base64url");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return { ok: false, refusal: { status: 401, reason: "forged" } };
    }
    let claims: { d?: unknown; i?: unknown; e?: unknown };
    try {
      claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as typeof claims;
    } catch {
      return { ok: false, refusal: { status: 401, reason: "malformed" } };
    }
    if (
      typeof claims.d !== "string" ||
      typeof claims.i !== "string" ||
      typeof claims.e !== "number"
    ) {
      return { ok: false, refusal: { status: 401, reason: "malformed" } };
    }
    if (claims.e <= this.#now()) {
      return { ok: false, refusal: { status: 401, reason: "expired" } };
    }
    if (claims.d !== digest) {
      return { ok: false, refusal: { status: 403, reason: "other-package" } };
    }
    return { ok: true, claims: { digest: claims.d, instanceId: claims.i, expiresAt: claims.e } };
  }

  #sign(payload: string): string {
    return createHmac("sha256", this.#key)
      .update(`runlet-package-grant\n${payload}`)
      .digest("base64url");
  }
}

/** What a refusal tells the fetcher (the route answers it with the status). */
export function refusalMessage(refusal: GrantRefusal): string {
  switch (refusal.reason) {
    case "missing":
      return "Fetching a package needs a grant: send `Authorization: Bearer <token>` with the token the platform gave the instance.";
    case "malformed":
      return "The package grant is not a token the platform issued; specialize the instance again to get a new one.";
    case "forged":
      return "The package grant's signature does not match; it was not issued by this platform.";
    case "expired":
      return "The package grant has expired; specialize the instance again to get a new one.";
    case "other-package":
      return "The package grant is for another package; each grant opens only the package it was issued for.";
  }
}
