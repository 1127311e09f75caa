/**
 * The gateway's lean front: it reads the connections node:http's server accepts, serves
 * function calls of the plain shape (request-head.ts) itself, and hands a connection to
 * node:http, bytes unread, the moment a request is anything else. node:http costs about as
 * much CPU per request as the whole rest of a call (docs/benchmarks.md); this front costs a
 * head parse and one socket write, so the gateway keeps up with more calls per core.
 *
 * One request at a time per connection: a pipelined request waits, read but not started,
 * until the answer before it is out, which keeps answers in order.
 */
import type { Socket } from "node:net";
import type { Readable } from "node:stream";
import { systemClock, type Clock, type TimerHandle } from "../../clock.js";
import { InvalidResponse, type Exchange, type OutgoingHeaders } from "../../router/exchange.js";
import { bodyEnded } from "../../router/answer-body.js";
import { errorJson, type ErrorCode } from "../../errors.js";
import { RequestTimeout, type RunCallRequest } from "../../router/run-call.js";
import { maxBodyBytes, maxHeadBytes, parseRequestHead, type RequestHead } from "./request-head.js";
import { responseHead, type Framing } from "./response-head.js";

export interface LeanFrontOptions {
  /** Whether the front serves a request for this URL (else node:http does). */
  readonly serves: (url: string) => boolean;
  /** Runs a call; it ends by answering through the exchange. */
  readonly handle: (exchange: Exchange) => void;
  /** Gives a connection to node:http (its "connection" listeners). */
  readonly handOff: (socket: Socket) => void;
  /** Idle keep-alive connections close after this. */
  readonly keepAliveTimeoutMs: number;
  /**
   * A request whose head and body are not all in by then gets a 408; a call waiting for its
   * body too, which has not started on an instance yet (issue 13).
   */
  readonly requestReadTimeoutMs: number;
  /** Time for the sweep of idle and slow connections. @default systemClock */
  readonly clock?: Clock;
}

const headEnd = Buffer.from("\r\n\r\n");
const noBody = Buffer.alloc(0);
const chunkedEnd = Buffer.from("0\r\n\r\n");
/** How often idle and slow connections are looked for. */
export const sweepIntervalMs = 1000;
/** Bodies up to this size go out in one buffer with the head. */
const maxCopiedBodyBytes = 16 * 1024;

export class LeanFront {
  readonly #options: LeanFrontOptions;
  readonly #connections = new Set<LeanConnection>();
  readonly #clock: Clock;
  readonly #sweep: TimerHandle;
  #closing = false;
  /** Calls started and not yet answered. */
  inFlight = 0;
  /**
   * The time as of the last sweep or accepted connection: what connections stamp their
   * activity with. Timeouts here are checked once a second, so a clock that ticks once a
   * second serves them, without a system call on every read and answer.
   */
  coarseNow: number;

  constructor(options: LeanFrontOptions) {
    this.#options = options;
    const clock = options.clock ?? systemClock;
    this.#clock = clock;
    this.coarseNow = clock.now();
    // One timer for all connections: a timer per request would cost more than the parse.
    this.#sweep = clock
      .setInterval(() => {
        this.coarseNow = clock.now();
        this.#sweepTimeouts();
      }, sweepIntervalMs)
      .unref();
  }

  /** Takes a connection node:http's server accepted. */
  accept(socket: Socket): void {
    if (this.#closing) {
      socket.destroy();
      return;
    }
    this.coarseNow = this.#clock.now();
    this.#connections.add(new LeanConnection(this, this.#options, socket));
  }

  /** Stops serving: idle connections close now, busy ones after their answer. */
  close(): void {
    this.#closing = true;
    this.#clock.clearInterval(this.#sweep);
    for (const connection of this.#connections) {
      connection.closeWhenIdle();
    }
  }

  /** Cuts every connection still open. */
  destroyAll(): void {
    for (const connection of this.#connections) {
      connection.socket.destroy();
    }
  }

  get closing(): boolean {
    return this.#closing;
  }

  forget(connection: LeanConnection): void {
    this.#connections.delete(connection);
  }

  #sweepTimeouts(): void {
    const now = this.coarseNow;
    for (const connection of this.#connections) {
      connection.checkTimeouts(now);
    }
  }
}

class LeanConnection {
  readonly socket: Socket;
  readonly #front: LeanFront;
  readonly #options: LeanFrontOptions;
  /** Bytes read and not yet taken by a request. */
  #pending: Buffer | undefined;
  #exchange: LeanExchange | undefined;
  /** When the client last sent or was last answered (LeanFront.coarseNow). */
  #lastActive: number;
  /** When the request being read started arriving. */
  #readingSince: number | undefined;
  /** The client will send nothing more (half-closed), or the platform is closing. */
  #ending = false;
  /** Inside #next's loop: an answer given synchronously lets the loop go on. */
  #dispatching = false;
  #waitingForDrain = false;
  readonly keepAliveSeconds: number;
  readonly #onData = (chunk: Buffer): void => this.#read(chunk);
  readonly #onEnd = (): void => this.#clientEnded();
  readonly #onClose = (): void => this.#closed();

  constructor(front: LeanFront, options: LeanFrontOptions, socket: Socket) {
    this.#front = front;
    this.#options = options;
    this.socket = socket;
    this.#lastActive = front.coarseNow;
    // Announced as node:http announces its keepAliveTimeout.
    this.keepAliveSeconds = Math.floor(options.keepAliveTimeoutMs / 1000);
    socket.on("data", this.#onData);
    socket.on("end", this.#onEnd);
    socket.on("close", this.#onClose);
    socket.on("error", ignore); // "close" follows; a call in flight learns of it there
  }

  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  closeWhenIdle(): void {
    this.#ending = true;
    if (!this.#exchange) {
      this.socket.end();
    }
  }

  checkTimeouts(now: number): void {
    // Stamps lag the clock by up to a sweep: allow one, so a timeout never comes early.
    const late =
      this.#readingSince !== undefined &&
      now - this.#readingSince > this.#options.requestReadTimeoutMs + sweepIntervalMs;
    const exchange = this.#exchange;
    if (exchange) {
      // A call whose body is all in is the function's timeout's to bound; one still waiting
      // for its body has not started, and its caller gets the 408.
      if (late && exchange.awaitedBodyBytes !== undefined) {
        this.#readingSince = undefined;
        exchange.bodyTimedOut();
      }
      return;
    }
    if (this.#readingSince !== undefined) {
      if (late) {
        this.#refuse(408, "RUNLET_REQUEST_TIMEOUT", "The request was not received in time.");
      }
    } else if (now - this.#lastActive > this.#options.keepAliveTimeoutMs + sweepIntervalMs) {
      this.socket.destroy();
    }
  }

  /** The exchange's answer is out (or cut): take the next request, or close. */
  answered(exchange: LeanExchange, reusable: boolean): void {
    if (this.#exchange !== exchange) {
      return;
    }
    this.#exchange = undefined;
    this.#front.inFlight -= 1;
    this.#lastActive = this.#front.coarseNow;
    if (!reusable || this.#ending || this.#front.closing) {
      // Nothing more is read: a body the answer left unread (a 413, a 408) is not worth it.
      this.#ending = true;
      this.#pending = undefined;
      const socket = this.socket;
      socket.end(() => socket.destroy());
      return;
    }
    if (this.socket.isPaused() && !this.#waitingForDrain) {
      this.socket.resume();
    }
    if (!this.#dispatching) {
      this.#next();
    }
  }

  #read(chunk: Buffer): void {
    if (this.#ending && !this.#exchange) {
      return; // answered for the last time: what follows is not read
    }
    this.#pending = this.#pending ? Buffer.concat([this.#pending, chunk]) : chunk;
    this.#lastActive = this.#front.coarseNow;
    const exchange = this.#exchange;
    if (exchange?.awaitedBodyBytes !== undefined) {
      this.#deliverBody(exchange, exchange.awaitedBodyBytes);
    }
    if (this.#exchange) {
      // A pipelining client: hold what it sends, within bounds, until the answer is out.
      if (this.#pending && this.#pending.length > maxHeadBytes + maxBodyBytes) {
        this.socket.pause();
      }
      return;
    }
    this.#next();
  }

  /** Starts the requests read so far, one at a time. */
  #next(): void {
    this.#dispatching = true;
    try {
      while (!this.#exchange && this.#pending && !this.#ending && this.#startOne(this.#pending)) {
        // each turn starts one call; one answered at once lets the next start here
      }
    } finally {
      this.#dispatching = false;
    }
  }

  /** Starts the first request in `pending`; false when it cannot start (yet) here. */
  #startOne(pending: Buffer): boolean {
    if (this.socket.writableNeedDrain) {
      // A client that sends and does not read: wait until it reads its answers.
      if (!this.#waitingForDrain) {
        this.#waitingForDrain = true;
        this.socket.pause();
        this.socket.once("drain", () => {
          this.#waitingForDrain = false;
          this.socket.resume();
          this.#next();
        });
      }
      return false;
    }
    const end = pending.indexOf(headEnd);
    if (end === -1) {
      if (pending.length > maxHeadBytes || hasBareLineFeed(pending)) {
        // Too long (node:http answers 431), or lines not ended by CRLF, which this front
        // would never see end: node:http decides what they mean.
        this.#handOff();
      } else {
        this.#readingSince ??= this.#front.coarseNow;
      }
      return false;
    }
    const head = parseRequestHead(pending.toString("latin1", 0, end));
    if (!head || !this.#options.serves(head.url)) {
      this.#handOff();
      return false;
    }
    const bodyStart = end + 4;
    const bodyEnd = bodyStart + head.contentLength;
    const readingSince = this.#readingSince;
    this.#readingSince = undefined;
    let exchange: LeanExchange;
    if (pending.length >= bodyEnd) {
      const body = head.contentLength > 0 ? pending.subarray(bodyStart, bodyEnd) : undefined;
      this.#pending = bodyEnd < pending.length ? pending.subarray(bodyEnd) : undefined;
      exchange = new LeanExchange(this, head, body);
    } else {
      // The router has the call now and waits for its body before it takes an instance; the
      // read timeout covers the wait, from the head's first bytes (checkTimeouts).
      this.#pending = bodyStart < pending.length ? pending.subarray(bodyStart) : undefined;
      this.#readingSince = readingSince ?? this.#front.coarseNow;
      exchange = new LeanExchange(this, head, undefined);
    }
    this.#exchange = exchange;
    this.#front.inFlight += 1;
    this.#options.handle(exchange);
    return true;
  }

  /** Hands the exchange its body once all of it is in. */
  #deliverBody(exchange: LeanExchange, length: number): void {
    const pending = this.#pending;
    if (pending && pending.length >= length) {
      this.#pending = length < pending.length ? pending.subarray(length) : undefined;
      this.#readingSince = undefined;
      exchange.bodyArrived(pending.subarray(0, length));
    }
  }

  /** From here on node:http serves this connection, starting with the bytes not yet taken. */
  #handOff(): void {
    const socket = this.socket;
    socket.off("data", this.#onData);
    socket.off("end", this.#onEnd);
    socket.off("close", this.#onClose);
    socket.off("error", ignore);
    this.#front.forget(this);
    if (this.#pending) {
      socket.unshift(this.#pending);
      this.#pending = undefined;
    }
    this.#options.handOff(socket);
    if (socket.isPaused()) {
      socket.resume();
    }
  }

  #refuse(status: number, code: ErrorCode, message: string): void {
    const body = errorJson(code, message);
    const head = responseHead(
      status,
      { "content-type": "application/json" },
      { kind: "length", length: Buffer.byteLength(body) },
      undefined,
    );
    this.socket.end(head + body);
  }

  /** A client that stops sending has gone, as node:http sees it (no half-open HTTP). */
  #clientEnded(): void {
    this.#ending = true;
    this.#abandon();
    this.socket.end();
  }

  #closed(): void {
    this.#front.forget(this);
    this.#abandon();
  }

  #abandon(): void {
    const exchange = this.#exchange;
    if (exchange) {
      this.#exchange = undefined;
      this.#front.inFlight -= 1;
      exchange.abandoned();
    }
  }
}

class LeanExchange implements Exchange {
  readonly #connection: LeanConnection;
  readonly #head: RequestHead;
  #body: Buffer | undefined;
  /** Body bytes still to come, while the call has started without them. */
  awaitedBodyBytes: number | undefined;
  #onBody: ((body: Buffer) => void) | undefined;
  #onBodyTimeout: (() => void) | undefined;
  #headersSent = false;
  #finished = false;
  #onAbandon: (() => void) | undefined;

  constructor(connection: LeanConnection, head: RequestHead, body: Buffer | undefined) {
    this.#connection = connection;
    this.#head = head;
    this.#body = body;
    if (body === undefined && head.contentLength > 0) {
      this.awaitedBodyBytes = head.contentLength;
    }
  }

  get method(): string {
    return this.#head.method;
  }

  get url(): string {
    return this.#head.url;
  }

  get headers(): RequestHead["headers"] {
    return this.#head.headers;
  }

  get remoteAddress(): string | undefined {
    return this.#connection.remoteAddress;
  }

  get declaredLength(): number {
    return this.#head.contentLength;
  }

  get headersSent(): boolean {
    return this.#headersSent;
  }

  body(): RunCallRequest["body"] {
    // Never longer than the declared length, which the router checked against its limit.
    if (this.awaitedBodyBytes === undefined) {
      return this.#body ?? noBody;
    }
    return (signal) =>
      new Promise<Buffer>((resolve, reject) => {
        const onAbort = (): void => reject(signal.reason);
        if (signal.aborted) {
          onAbort();
          return;
        }
        signal.addEventListener("abort", onAbort);
        this.#onBody = (body) => {
          signal.removeEventListener("abort", onAbort);
          resolve(body);
        };
        this.#onBodyTimeout = () => {
          signal.removeEventListener("abort", onAbort);
          reject(
            new RequestTimeout(
              "The request body was not received in time; send all of the body it declares.",
            ),
          );
        };
      });
  }

  /** All of the body is in. */
  bodyArrived(body: Buffer): void {
    this.awaitedBodyBytes = undefined;
    this.#body = body;
    this.#onBodyTimeout = undefined;
    this.#onBody?.(body);
  }

  /** The body did not all come within the read timeout: the call fails with a 408. */
  bodyTimedOut(): void {
    const onTimeout = this.#onBodyTimeout;
    this.#onBody = undefined;
    this.#onBodyTimeout = undefined;
    onTimeout?.();
  }

  discardBody(): void {
    // Nothing to do: a body is read with its request, and one not all in yet means the
    // connection closes after the answer (see #reusable).
  }

  send(status: number, headers: OutgoingHeaders, body: Buffer | string): void {
    const bytes = typeof body === "string" ? Buffer.from(body) : body;
    const bodyless = status === 204 || status === 304;
    const head = responseHead(
      status,
      headers,
      bodyless ? { kind: "none" } : { kind: "length", length: bytes.length },
      this.#keepAliveSeconds(),
    );
    this.#headersSent = true;
    const socket = this.#connection.socket;
    if (bodyless || bytes.length === 0) {
      socket.write(head, "latin1");
    } else if (bytes.length <= maxCopiedBodyBytes) {
      // One buffer, one write: a small answer in a single segment.
      const out = Buffer.allocUnsafe(head.length + bytes.length);
      out.write(head, 0, "latin1");
      bytes.copy(out, head.length);
      socket.write(out);
    } else {
      socket.cork();
      socket.write(head, "latin1");
      socket.write(bytes);
      socket.uncork();
    }
    this.#finish(this.#reusable());
  }

  stream(status: number, headers: OutgoingHeaders, body: Readable): Promise<void> {
    const declared = Number(headers["content-length"] ?? Number.NaN);
    const framing: Framing =
      status === 204 || status === 304
        ? { kind: "none" }
        : Number.isSafeInteger(declared) && declared >= 0
          ? { kind: "length", length: declared }
          : { kind: "chunked" };
    const head = responseHead(status, headers, framing, this.#keepAliveSeconds());
    this.#headersSent = true;
    const socket = this.#connection.socket;
    socket.write(head, "latin1");
    const ended = bodyEnded(body);
    let sent = 0;
    const onData = (chunk: Buffer): void => {
      sent += chunk.length;
      let flowing: boolean;
      if (framing.kind === "chunked") {
        socket.cork();
        socket.write(`${chunk.length.toString(16)}\r\n`, "latin1");
        socket.write(chunk);
        flowing = socket.write("\r\n", "latin1");
        socket.uncork();
      } else if (framing.kind === "length") {
        flowing = socket.write(chunk);
      } else {
        flowing = true; // no body may follow this status: drop it
      }
      if (!flowing) {
        body.pause();
        socket.once("drain", () => body.resume());
      }
    };
    body.on("data", onData);
    return ended
      .finally(() => body.off("data", onData))
      .then(() => {
        if (framing.kind === "length" && sent !== framing.length) {
          throw new InvalidResponse(
            `the function declared ${framing.length} body bytes and sent ${sent}`,
          );
        }
        if (framing.kind === "chunked") {
          socket.write(chunkedEnd);
        }
        this.#finish(this.#reusable());
      });
  }

  abort(): void {
    this.#finish(false);
    this.#connection.socket.destroy();
  }

  onAbandon(listener: () => void): void {
    this.#onAbandon = listener;
  }

  /** The connection closed under the call. */
  abandoned(): void {
    if (!this.#finished) {
      this.#finished = true;
      this.#onAbandon?.();
    }
  }

  #finish(reusable: boolean): void {
    if (this.#finished) {
      return;
    }
    this.#finished = true;
    this.#connection.answered(this, reusable);
  }

  #keepAliveSeconds(): number | undefined {
    return this.#reusable() ? this.#connection.keepAliveSeconds : undefined;
  }

  /**
   * Whether the connection can take another request after this answer: not when the client
   * said close, nor when the answer went out before the body was all in (the rest of it would
   * be read as the next request).
   */
  #reusable(): boolean {
    return this.#head.keepAlive && this.awaitedBodyBytes === undefined;
  }
}

function ignore(): void {}

/** Whether `bytes` hold a line feed without a carriage return before it. */
function hasBareLineFeed(bytes: Buffer): boolean {
  for (let at = bytes.indexOf(0x0a); at !== -1; at = bytes.indexOf(0x0a, at + 1)) {
    if (at === 0 || bytes[at - 1] !== 0x0d) {
      return true;
    }
  }
  return false;
}
