/**
 * One HTTP call as the router sees it, whichever server read it: node:http (every path) or the
 * gateway's lean front (the common shape of `/function/…` calls, src/gateway/front). The router
 * reads the request and writes the answer only through this.
 */
import type { IncomingHttpHeaders } from "node:http";
import type { Readable } from "node:stream";
import type { CancelSignal } from "../provider/types.js";

export type OutgoingHeaders = Record<string, string | string[] | number>;

/**
 * The function's answer cannot be sent as given (a status out of range, a header name or value
 * a client could read as something else): the caller gets a 502 naming it instead.
 */
export class InvalidResponse extends Error {}

/**
 * A request body as the router takes it: none, all of it in a Buffer, a stream, or a function
 * that reads all of a body known to be small (see RunCallRequest.body).
 */
export type ExchangeBody =
  Readable | Buffer | undefined | ((signal: CancelSignal) => Promise<Buffer>);

export interface Exchange {
  readonly method: string;
  /** Path and query as the client sent them. */
  readonly url: string;
  /** Request headers, names in lower case. */
  readonly headers: IncomingHttpHeaders;
  readonly remoteAddress: string | undefined;
  /** The body length the request declared (0 when it declared none). */
  readonly declaredLength: number;
  /** The request body as runCall takes it, failing with BodyTooLarge past `limit` bytes. */
  body(limit: number): ExchangeBody;
  /** Lets a body nobody will read go (the call was answered without it). */
  discardBody(): void;
  /** Whether the status line is out (a failure after that can only cut the connection). */
  readonly headersSent: boolean;
  /** Sends the whole answer; throws InvalidResponse, sending nothing, if it cannot. */
  send(status: number, headers: OutgoingHeaders, body: Buffer | string): void;
  /**
   * Sends the head, then `body`; resolves once all of it is handed to the connection. Throws
   * InvalidResponse, sending nothing, if the head cannot be sent.
   */
  stream(status: number, headers: OutgoingHeaders, body: Readable): Promise<void>;
  /** Cuts the connection: the only signal left once the head is out. */
  abort(error?: Error): void;
  /** Calls `listener` once if the caller goes before the whole answer is out. */
  onAbandon(listener: () => void): void;
}
