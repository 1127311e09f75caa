/**
 * Calls to `auth: signed` functions (issue 18): the body is read whole (up to the function's
 * limit) before anything runs, its `sha256=<hex>` signature checked against the function's
 * secret, and only a call that matches goes on, with the body it was signed over.
 */
import { revealIn } from "../provider/instance-files.js";
import { namespaceOfKey } from "../spec/namespaces.js";
import type { IncomingHttpHeaders } from "node:http";
import type { Readable } from "node:stream";
import { signatureProblem } from "../auth/signature.js";
import { isUserError } from "../errors.js";
import type { RevisionTarget } from "../executor/revision-target.js";
import type { Platform } from "../platform/platform.js";
import type { Exchange, ExchangeBody, OutgoingHeaders } from "../router/exchange.js";
import { CallRefusal } from "./call-refusal.js";

/** Why a signed call is refused (401 without a signature, 403 with a wrong one), or undefined. */
export function signedCallRefusal(
  platform: Platform,
  target: RevisionTarget,
  headers: IncomingHttpHeaders,
  body: Buffer,
): CallRefusal | undefined {
  const signature = target.config.signature;
  if (!signature) {
    return undefined;
  }
  let secret: Buffer | undefined;
  try {
    // The one-value secret: the key of its own name, as bytes (a key need not be text).
    // From the function's own namespace.
    const value = revealIn(platform.secrets, namespaceOfKey(target.functionName), [
      signature.secret,
    ])[signature.secret]?.[signature.secret];
    secret = value === undefined ? undefined : Buffer.from(value);
  } catch (error) {
    if (!isUserError(error)) {
      throw error;
    }
  }
  if (secret === undefined) {
    return new CallRefusal(
      "RUNLET_SECRET_NOT_FOUND",
      `Function ${target.functionName} checks signatures with secret ${signature.secret}, which does not exist; create it: runlet secret create ${signature.secret}`,
      undefined,
    );
  }
  const given = headers[signature.header];
  const problem = signatureProblem(secret, body, given, signature.header);
  if (problem === undefined) {
    return undefined;
  }
  return given === undefined
    ? new CallRefusal("RUNLET_UNAUTHORIZED", capitalize(problem), undefined)
    : new CallRefusal("RUNLET_FORBIDDEN", capitalize(problem), undefined);
}

/**
 * Reads a signed call's body and checks it: the exchange to forward (its body now the bytes
 * read), or the refusal.
 */
export async function admitSignedCall(
  platform: Platform,
  exchange: Exchange,
  target: RevisionTarget,
): Promise<Exchange | CallRefusal> {
  let body: Buffer;
  try {
    body = await readWhole(exchange.body(target.config.maxBodyBytes));
  } catch (error) {
    if (isUserError(error)) {
      return new CallRefusal(error.code, error.message, undefined);
    }
    throw error;
  }
  const refusal = signedCallRefusal(platform, target, exchange.headers, body);
  return refusal ?? new BufferedExchange(exchange, body);
}

const neverAborted = new AbortController().signal;

async function readWhole(body: ExchangeBody): Promise<Buffer> {
  if (body === undefined) {
    return Buffer.alloc(0);
  }
  if (Buffer.isBuffer(body)) {
    return body;
  }
  if (typeof body === "function") {
    return body(neverAborted);
  }
  const chunks: Buffer[] = [];
  for await (const chunk of body as Readable) {
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** The same exchange, with its body already read. */
class BufferedExchange implements Exchange {
  readonly #inner: Exchange;
  readonly #body: Buffer;

  constructor(inner: Exchange, body: Buffer) {
    this.#inner = inner;
    this.#body = body;
  }

  get method(): string {
    return this.#inner.method;
  }
  get url(): string {
    return this.#inner.url;
  }
  get headers(): IncomingHttpHeaders {
    return this.#inner.headers;
  }
  get remoteAddress(): string | undefined {
    return this.#inner.remoteAddress;
  }
  get declaredLength(): number {
    return this.#body.length;
  }
  get headersSent(): boolean {
    return this.#inner.headersSent;
  }
  body(): ExchangeBody {
    return this.#body;
  }
  discardBody(): void {
    // Read already.
  }
  send(status: number, headers: OutgoingHeaders, body: Buffer | string): void {
    this.#inner.send(status, headers, body);
  }
  stream(status: number, headers: OutgoingHeaders, body: Readable): Promise<void> {
    return this.#inner.stream(status, headers, body);
  }
  abort(error?: Error): void {
    this.#inner.abort(error);
  }
  onAbandon(listener: () => void): void {
    this.#inner.onAbandon(listener);
  }
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
