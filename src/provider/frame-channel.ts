/**
 * The gateway's side of the framed invocation channel (docs/runtime-protocol.md, "Invocation
 * frames"): calls multiplexed over a few persistent connections to one instance, on a Unix
 * socket (a local instance) or over TCP (a pod).
 * Per call this costs a JSON head, a few small buffers and one socket write each way, where
 * an HTTP client builds and parses a full request and response.
 */
import { connect, type Socket } from "node:net";
import { Readable } from "node:stream";
import type { InvocationRequest, InvocationResponse } from "./types.js";
import {
  FrameDecoder,
  FrameType,
  encodeFrame,
  frameHeaderBytes,
  streamWindowBytes,
  writeFrameHeader,
} from "./frames.js";
import { StreamTable, maxStreams } from "./stream-table.js";

const emptyBody = Buffer.alloc(0);
/** A body at hand up to this size goes out in the same buffer as its head; larger, in parts. */
const maxWholeBodyBytes = 64 * 1024;

/** An instance's frame server on a Unix socket. */
export interface UnixFrameAddress {
  readonly socketPath: string;
}

/** An instance's frame server over TCP. */
export interface TcpFrameAddress {
  readonly host: string;
  readonly port: number;
  /**
   * Idle time before the kernel starts probing a quiet connection, so one to a peer that
   * vanished without a reset (a deleted pod, a lost node) is closed in the end (its probes
   * take minutes with Linux's defaults) rather than kept forever and handed new calls. Calls
   * in flight do not wait for it: their deadline cancels them. @default 15000
   */
  readonly keepAliveDelayMs?: number;
  /**
   * How long connecting may take. A pod address nobody answers drops the handshake rather
   * than refusing it, and the kernel would retry for minutes. @default 5000
   */
  readonly connectTimeoutMs?: number;
}

export type FrameChannelOptions = (UnixFrameAddress | TcpFrameAddress) & {
  /** Connections opened to the instance, on demand. @default 2 */
  readonly connections?: number;
};

/** An address resolved once: how to open one connection to it, and its name for errors. */
interface Endpoint {
  /** Undefined for a Unix socket: it is the one local instance's, and connecting names the path. */
  readonly name: string | undefined;
  connect(): Socket;
}

function resolveEndpoint(address: UnixFrameAddress | TcpFrameAddress): Endpoint {
  if ("socketPath" in address) {
    const { socketPath } = address;
    return { name: undefined, connect: () => connect(socketPath) };
  }
  const { host, port } = address;
  const keepAliveDelayMs = address.keepAliveDelayMs ?? 15_000;
  const connectTimeoutMs = address.connectTimeoutMs ?? 5_000;
  return {
    name: host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`,
    connect: () => {
      // No Nagle: a small call's frames must leave now, not wait for the previous call's ack.
      const socket = connect({
        host,
        port,
        noDelay: true,
        keepAlive: true,
        keepAliveInitialDelay: keepAliveDelayMs,
      });
      const timer = setTimeout(() => {
        socket.destroy(new Error(`no connection after ${connectTimeoutMs} ms`));
      }, connectTimeoutMs);
      const stop = (): void => clearTimeout(timer);
      socket.once("connect", stop);
      socket.once("close", stop);
      return socket;
    },
  };
}

/** The connection failed or closed under a call: the router then looks for the exit cause. */
export class ChannelClosed extends Error {}

interface ResponseHead {
  readonly status: number;
  readonly headers: Record<string, string | string[] | number | undefined>;
}

/** One call in flight on a connection. */
class Call {
  readonly id: number;
  readonly request: InvocationRequest;
  readonly resolve: (response: InvocationResponse) => void;
  readonly reject: (error: unknown) => void;
  body: ResponseBody | undefined;
  /** The response head, until it is handed out with the body or a stream of it. */
  head: ResponseHead | undefined;
  /** Body chunks received before the head was handed out. */
  chunks: Buffer[] = [];
  onAbort: (() => void) | undefined;
  /** Response bytes pushed but not yet acknowledged to the instance with a Window frame. */
  unacked = 0;

  constructor(
    id: number,
    request: InvocationRequest,
    resolve: (response: InvocationResponse) => void,
    reject: (error: unknown) => void,
  ) {
    this.id = id;
    this.request = request;
    this.resolve = resolve;
    this.reject = reject;
  }
}

/** A call's response body; reading from it is what lets the instance send more. */
class ResponseBody extends Readable {
  readonly #connection: FrameConnection;
  readonly #call: Call;

  constructor(connection: FrameConnection, call: Call) {
    super();
    this.#connection = connection;
    this.#call = call;
  }

  override _read(): void {
    this.#connection.acknowledge(this.#call);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // The reader gave up early (the caller went away): stop the handler too.
    this.#connection.cancel(this.#call, error ?? new Error("response body discarded"));
    callback(error);
  }
}

class FrameConnection {
  readonly #socket: Socket;
  readonly #calls = new StreamTable<Call>();
  readonly #decoder: FrameDecoder;
  /** Request bodies paused until the socket drains. */
  readonly #pausedBodies = new Set<Readable>();
  /** Calls whose head arrived in the chunk being decoded: answered once it is done. */
  readonly #headsArrived: Call[] = [];
  /** Frames waiting for the end of this event-loop turn, so concurrent calls share a write. */
  #outgoing: Buffer[] = [];
  #outgoingBytes = 0;
  #flushScheduled = false;
  readonly #onClose: (connection: FrameConnection) => void;
  #closed = false;
  #error: Error | undefined;
  readonly connected: Promise<void>;

  readonly #name: string | undefined;

  constructor(endpoint: Endpoint, onClose: (connection: FrameConnection) => void) {
    this.#onClose = onClose;
    this.#name = endpoint.name;
    this.#socket = endpoint.connect();
    this.#decoder = new FrameDecoder((type, id, payload) => this.#onFrame(type, id, payload));
    this.connected = new Promise((resolve, reject) => {
      this.#socket.once("connect", resolve);
      this.#socket.once("close", () => reject(this.#closedError()));
    });
    // Nobody may be waiting on it; the failure reaches callers through their calls.
    this.connected.catch(() => undefined);
    this.#socket.on("data", (chunk: Buffer) => {
      try {
        this.#decoder.push(chunk);
      } catch (error) {
        this.#socket.destroy(error instanceof Error ? error : new Error(String(error)));
      }
      this.#answerHeads();
    });
    this.#socket.on("drain", () => {
      for (const body of this.#pausedBodies) {
        body.resume();
      }
      this.#pausedBodies.clear();
    });
    this.#socket.on("error", (error) => {
      this.#error = error;
    });
    this.#socket.on("close", () => this.#close());
  }

  get active(): number {
    return this.#calls.size;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Whether frames already wait for this turn's write, with room for more: a call sent here
   * joins that write instead of costing a syscall (and a wake-up of the instance) of its own.
   */
  get batching(): boolean {
    return (
      this.#flushScheduled && this.#outgoingBytes < 16 * 1024 && !this.#socket.writableNeedDrain
    );
  }

  start(request: InvocationRequest): Promise<InvocationResponse> {
    return new Promise<InvocationResponse>((resolve, reject) => {
      if (this.#closed) {
        reject(this.#closedError());
        return;
      }
      const id = this.#calls.nextId();
      if (id === undefined) {
        reject(new Error(`more than ${maxStreams} calls in flight on one connection`));
        return;
      }
      const call = new Call(id, request, resolve, reject);
      this.#calls.add(call);
      const head = JSON.stringify({
        method: request.method,
        path: request.path,
        headers: request.headers,
      });
      const { body, signal } = request;
      call.onAbort = () => this.cancel(call, signal.reason);
      signal.addEventListener("abort", call.onAbort, { once: true });
      const whole = body === undefined ? emptyBody : Buffer.isBuffer(body) ? body : undefined;
      if (whole !== undefined && whole.length <= maxWholeBodyBytes) {
        // Head, body and end in one buffer, the head's JSON encoded straight into it: a call
        // whose body is at hand costs one allocation and joins this turn's single write.
        const headBytes = Buffer.byteLength(head);
        const bodyFrameBytes = whole.length > 0 ? frameHeaderBytes + whole.length : 0;
        const frames = Buffer.allocUnsafe(2 * frameHeaderBytes + headBytes + bodyFrameBytes);
        writeFrameHeader(frames, 0, FrameType.RequestHead, id, headBytes);
        frames.write(head, frameHeaderBytes, "utf8");
        let offset = frameHeaderBytes + headBytes;
        if (bodyFrameBytes > 0) {
          writeFrameHeader(frames, offset, FrameType.RequestBody, id, whole.length);
          frames.set(whole, offset + frameHeaderBytes);
          offset += bodyFrameBytes;
        }
        writeFrameHeader(frames, offset, FrameType.RequestEnd, id, 0);
        this.#write(frames);
        return;
      }
      this.#write(encodeFrame(FrameType.RequestHead, id, head));
      if (whole !== undefined) {
        for (let offset = 0; offset < whole.length; offset += maxWholeBodyBytes) {
          const part = whole.subarray(offset, offset + maxWholeBodyBytes);
          this.#write(encodeFrame(FrameType.RequestBody, id, part));
        }
        this.#write(encodeFrame(FrameType.RequestEnd, id));
        return;
      }
      this.#sendBody(call, body as Readable);
    });
  }

  /** Gives up on a call: tells the instance (its handler's signal aborts) and fails the caller. */
  cancel(call: Call, reason: unknown): void {
    if (this.#calls.get(call.id) !== call) {
      return;
    }
    if (!this.#socket.destroyed) {
      const message = reason instanceof Error ? reason.message : String(reason);
      this.#write(encodeFrame(FrameType.Cancel, call.id, message));
    }
    this.#fail(call, reason);
  }

  /** Lets the instance send more of a call's body once the reader has taken what it had. */
  acknowledge(call: Call): void {
    if (call.unacked > 0 && this.#calls.get(call.id) === call) {
      const payload = Buffer.allocUnsafe(4);
      payload.writeUInt32BE(call.unacked, 0);
      call.unacked = 0;
      this.#write(encodeFrame(FrameType.Window, call.id, payload));
    }
  }

  destroy(): void {
    this.#socket.destroy();
  }

  #sendBody(call: Call, body: Readable): void {
    const onData = (chunk: Buffer): void => {
      if (!this.#write(encodeFrame(FrameType.RequestBody, call.id, chunk))) {
        body.pause();
        this.#pausedBodies.add(body);
      }
    };
    const onEnd = (): void => {
      detach();
      if (this.#calls.get(call.id) === call) {
        this.#write(encodeFrame(FrameType.RequestEnd, call.id));
      }
    };
    const onError = (error: Error): void => {
      detach();
      // e.g. the body limit: the call fails with that error, and the instance drops it.
      this.cancel(call, error);
    };
    const detach = (): void => {
      body.off("data", onData);
      body.off("end", onEnd);
      body.off("error", onError);
      this.#pausedBodies.delete(body);
    };
    body.on("data", onData);
    body.once("end", onEnd);
    body.once("error", onError);
  }

  #onFrame(type: number, id: number, payload: Buffer): void {
    const call = this.#calls.get(id);
    if (!call) {
      // Late frames of a call already cancelled here.
      return;
    }
    switch (type) {
      case FrameType.ResponseHead:
        call.head = JSON.parse(payload.toString("utf8")) as ResponseHead;
        this.#headsArrived.push(call);
        return;
      case FrameType.ResponseBody: {
        call.unacked += payload.length;
        const body = call.body;
        if (!body) {
          if (!call.head) {
            throw new Error(`body before head on stream ${id}`);
          }
          call.chunks.push(payload);
          return;
        }
        // Acknowledged in batches while the reader keeps up, and from _read() once it has
        // caught up when it does not: the instance never has more than a window unread here.
        if (body.push(payload) && call.unacked >= streamWindowBytes / 2) {
          this.acknowledge(call);
        }
        return;
      }
      case FrameType.ResponseEnd:
        this.#finish(call);
        if (call.head) {
          // The whole answer came at once: hand it out as one buffer, no stream needed.
          const { status, headers } = call.head;
          call.head = undefined;
          const body = call.chunks.length === 1 ? call.chunks[0] : Buffer.concat(call.chunks);
          call.chunks = [];
          call.resolve({ status, headers, body: body ?? Buffer.alloc(0) });
        } else {
          call.body?.push(null);
        }
        return;
      case FrameType.Error:
        this.#fail(call, new Error(`the function's response failed: ${payload.toString("utf8")}`));
        return;
      default:
        throw new Error(`unexpected frame type ${type} on stream ${id}`);
    }
  }

  /** Answers calls whose head came in the last chunk but whose end did not: as streams. */
  #answerHeads(): void {
    for (const call of this.#headsArrived.splice(0)) {
      const head = call.head;
      if (head === undefined) {
        continue;
      }
      call.head = undefined;
      const body = new ResponseBody(this, call);
      call.body = body;
      for (const chunk of call.chunks.splice(0)) {
        body.push(chunk);
      }
      call.resolve({ status: head.status, headers: head.headers, body });
    }
  }

  /**
   * Queues a frame for one write at the end of this event-loop turn: calls that arrive
   * together (many callers, one poll) then cost one syscall. Returns false when the caller
   * should wait for "drain" before sending more.
   */
  #write(frame: Buffer): boolean {
    this.#outgoing.push(frame);
    this.#outgoingBytes += frame.length;
    if (this.#outgoingBytes >= 64 * 1024) {
      return this.#flush();
    }
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => this.#flush());
    }
    return !this.#socket.writableNeedDrain;
  }

  #flush(): boolean {
    this.#flushScheduled = false;
    const frames = this.#outgoing;
    if (frames.length === 0 || this.#socket.destroyed) {
      this.#outgoing = [];
      this.#outgoingBytes = 0;
      return !this.#socket.writableNeedDrain;
    }
    const data = frames.length === 1 ? frames[0] : Buffer.concat(frames, this.#outgoingBytes);
    this.#outgoing = [];
    this.#outgoingBytes = 0;
    return data === undefined ? true : this.#socket.write(data);
  }

  #finish(call: Call): void {
    this.#calls.delete(call.id);
    if (call.onAbort) {
      call.request.signal.removeEventListener("abort", call.onAbort);
    }
  }

  #fail(call: Call, error: unknown): void {
    this.#finish(call);
    const { body } = call.request;
    if (body && !Buffer.isBuffer(body) && !body.readableEnded) {
      body.destroy();
    }
    call.head = undefined;
    call.chunks = [];
    if (call.body) {
      call.body.destroy(error instanceof Error ? error : new Error(String(error)));
    } else {
      call.reject(error);
    }
  }

  #closedError(): ChannelClosed {
    const at = this.#name === undefined ? "" : ` at ${this.#name}`;
    const why = this.#error ? ` (${this.#error.message})` : "";
    return new ChannelClosed(`the connection to the instance${at} closed${why}`);
  }

  #close(): void {
    if (this.#closed) {
      return;
    }
    this.#closed = true;
    this.#onClose(this);
    const error = this.#closedError();
    for (const call of this.#calls.values()) {
      this.#fail(call, error);
    }
    this.#pausedBodies.clear();
  }
}

/** Calls to one instance over up to `connections` framed connections. */
export class FrameChannel {
  readonly #endpoint: Endpoint;
  readonly #maxConnections: number;
  #connections: FrameConnection[] = [];
  #closed = false;

  constructor(options: FrameChannelOptions) {
    this.#endpoint = resolveEndpoint(options);
    this.#maxConnections = Math.max(1, options.connections ?? 2);
  }

  invoke(request: InvocationRequest): Promise<InvocationResponse> {
    if (request.signal.aborted) {
      return Promise.reject(request.signal.reason);
    }
    if (this.#closed) {
      return Promise.reject(new ChannelClosed("the instance has stopped"));
    }
    return this.#pick().start(request);
  }

  /** Opens all connections now, so the first calls do not wait for them. */
  async open(): Promise<void> {
    while (!this.#closed && this.#connections.length < this.#maxConnections) {
      this.#add();
    }
    await Promise.all(this.#connections.map((connection) => connection.connected));
  }

  close(): void {
    this.#closed = true;
    for (const connection of this.#connections) {
      connection.destroy();
    }
    this.#connections = [];
  }

  /**
   * The connection already taking frames in this event-loop turn (calls that arrive together
   * then share one write and one read on each side), else an idle one, else a new one while
   * under the limit, else the least busy. The other connections take over once that write
   * grows big or the socket is full, so a large body does not hold small calls back.
   */
  #pick(): FrameConnection {
    let best: FrameConnection | undefined;
    for (const connection of this.#connections) {
      if (connection.batching) {
        return connection;
      }
    }
    for (const connection of this.#connections) {
      if (connection.active === 0) {
        return connection;
      }
      if (!best || connection.active < best.active) {
        best = connection;
      }
    }
    if (!best || this.#connections.length < this.#maxConnections) {
      return this.#add();
    }
    return best;
  }

  #add(): FrameConnection {
    const connection = new FrameConnection(this.#endpoint, (closed) => {
      this.#connections = this.#connections.filter((c) => c !== closed);
    });
    this.#connections.push(connection);
    return connection;
  }
}
