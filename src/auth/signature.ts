/**
 * Signed calls (`auth: signed`, issue 18): the caller sends `sha256=<hex>`, the HMAC-SHA256 of
 * the body under a secret both sides know, in a header (GitHub's X-Hub-Signature-256 form, the
 * one the OpenFaaS workshop's webhook functions check). Compared in constant time.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

export const defaultSignatureHeader = "x-hub-signature-256";

/** The header value a sender computes for `body`. */
export function signBody(secret: string | Buffer, body: Buffer | string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

/** Why a signature is refused, or undefined when it matches. */
export function signatureProblem(
  secret: string | Buffer,
  body: Buffer,
  header: string | string[] | undefined,
  headerName: string,
): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value === "") {
    return `this function takes only signed calls: send ${headerName}: sha256=<hex HMAC-SHA256 of the body under the shared secret>`;
  }
  const match = /^sha256=([0-9a-fA-F]{64})$/.exec(value.trim());
  if (!match?.[1]) {
    return `${headerName} must be sha256=<64 hex digits> (the HMAC-SHA256 of the body)`;
  }
  const expected = createHmac("sha256", secret).update(body).digest();
  const given = Buffer.from(match[1], "hex");
  if (!timingSafeEqual(expected, given)) {
    return `the ${headerName} signature does not match the body; sign the exact bytes sent with the shared secret`;
  }
  return undefined;
}
