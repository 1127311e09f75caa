/**
 * What a scoped token looks like: `rlt_` and 32 random bytes (base64url), so a leaked one is
 * recognizable (and strippable) anywhere, and kept only as its SHA-256: with 256 bits of
 * randomness a plain hash cannot be reversed or guessed, and needs no per-token salt.
 */
import { createHash, randomBytes } from "node:crypto";

export const tokenPrefix = "rlt_";

/** Anything that holds a Runlet token, wherever in a header value it stands. */
const tokenPattern = /rlt_[A-Za-z0-9_-]{43}/;

export function newToken(): string {
  return `${tokenPrefix}${randomBytes(32).toString("base64url")}`;
}

/** The stored form of a token (hex SHA-256). */
export function tokenDigest(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

export function looksLikeToken(value: string): boolean {
  return value.startsWith(tokenPrefix) && value.length === tokenPrefix.length + 43;
}

/** Whether `text` contains something shaped like a scoped token. */
export function containsToken(text: string): boolean {
  return text.includes(tokenPrefix) && tokenPattern.test(text);
}
