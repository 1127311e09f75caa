/**
 * A node:http request and response as the router's Exchange: every call node:http reads (HTTP
 * trigger routes, and `/function/…` calls outside the lean front's shape: chunked or large
 * bodies, HEAD, HTTP/1.0, upgrades) takes this way.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { Transform, type Readable, type TransformCallback } from "node:stream";
import { InvalidResponse, type Exchange, type OutgoingHeaders } from "../router/exchange.js";
import { sendBody } from "../router/answer-body.js";
import type { CancelSignal } from "../provider/types.js";
import { BodyTooLarge, type RunCallRequest } from "../router/run-call.js";

/**
 * Bodies with a declared length up to this size are read whole before they go to the
 * instance: one buffer with the call's head instead of a stream through the limit.
 */
const maxWholeBodyBytes = 64 * 1024;

export class NodeExchange implements Exchange {
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  readonly declaredLength: number;
  /** A small body nobody needs is being read to its end, so the connection can be kept. */
  #draining = false;

  constructor(req: IncomingMessage, res: ServerResponse) {
    this.#req = req;
    this.#res = res;
    this.declaredLength = Number(req.headers["content-length"] ?? 0);
  }

  get method(): string {
    return this.#req.method ?? "GET";
  }

  get url(): string {
    return this.#req.url ?? "/";
  }

  get headers(): IncomingMessage["headers"] {
    return this.#req.headers;
  }

  get remoteAddress(): string | undefined {
    return this.#req.socket.remoteAddress;
  }

  get headersSent(): boolean {
    return this.#res.headersSent;
  }

  body(limit: number): RunCallRequest["body"] {
    const req = this.#req;
    // The parser holds a body with a declared length to that length.
    const hasLength =
      req.headers["content-length"] !== undefined && req.headers["transfer-encoding"] === undefined;
    return this.declaredLength <= maxWholeBodyBytes && hasLength
      ? (signal) => readWhole(req, signal)
      : req.pipe(limitBytes(limit));
  }

  discardBody(): void {
    if (!this.#unreadBody()) {
      return;
    }
    const req = this.#req;
    if (
      this.declaredLength <= maxWholeBodyBytes &&
      req.headers["transfer-encoding"] === undefined
    ) {
      this.#draining = true;
      req.resume(); // small: cheaper to read than a new connection
    }
    // Else a large or unknown body is not read just to be dropped (issue 13): the connection
    // closes after the answer (#writeHead), unread.
  }

  /**
   * Whether body bytes may still come when the answer goes: left unread (the call was refused
   * or timed out), or still streaming to the function. Either way the connection is not kept.
   */
  #unreadBody(): boolean {
    const req = this.#req;
    return (
      !req.complete &&
      (this.declaredLength > 0 || req.headers["transfer-encoding"] !== undefined) &&
      !this.#draining
    );
  }

  send(status: number, headers: OutgoingHeaders, body: Buffer | string): void {
    this.#writeHead(status, headers);
    this.#res.end(body);
  }

  stream(status: number, headers: OutgoingHeaders, body: Readable): Promise<void> {
    this.#writeHead(status, headers);
    return sendBody(body, this.#res);
  }

  #writeHead(status: number, headers: OutgoingHeaders): void {
    if (this.#unreadBody()) {
      // What is left of the body would be read as the next request: close after this answer.
      this.#res.setHeader("connection", "close");
    }
    try {
      this.#res.writeHead(status, headers);
    } catch (error) {
      // node:http refuses what it cannot send (ERR_INVALID_CHAR, ERR_HTTP_INVALID_STATUS_CODE…)
      // before writing anything; the lean front refuses the same.
      if (this.#res.headersSent) {
        throw error;
      }
      throw new InvalidResponse(
        `the function's answer cannot be sent: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  abort(error?: Error): void {
    this.#res.destroy(error);
  }

  onAbandon(listener: () => void): void {
    const res = this.#res;
    // Left on the response: once the answer is out, "close" finds it finished and does nothing.
    res.on("close", () => {
      if (!res.writableFinished) {
        listener();
      }
    });
  }
}

/**
 * All of a body whose length was declared and checked against the limit (the parser stops
 * the body at that length). Cancellation (timeout, caller gone) stops the wait and lets the
 * rest of the body drain.
 */
function readWhole(req: IncomingMessage, signal: CancelSignal): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanUp();
      resolve(chunks.length === 1 && chunks[0] ? chunks[0] : Buffer.concat(chunks));
    };
    const onAbort = (): void => {
      cleanUp();
      req.resume();
      reject(signal.reason);
    };
    const cleanUp = (): void => {
      req.off("data", onData);
      req.off("end", onEnd);
      signal.removeEventListener("abort", onAbort);
    };
    if (signal.aborted) {
      req.resume();
      reject(signal.reason);
      return;
    }
    req.on("data", onData);
    req.once("end", onEnd);
    signal.addEventListener("abort", onAbort);
  });
}

/** Passes bytes through until `limit`, then fails the stream with BodyTooLarge. */
function limitBytes(limit: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      seen += chunk.length;
      if (seen > limit) {
        callback(new BodyTooLarge(limit));
        return;
      }
      callback(null, chunk);
    },
  });
}
