// The invocation channel in frames (docs/runtime-protocol.md, "Invocation frames"): many
// calls multiplexed over a few persistent connections from the gateway, so the hot path
// skips HTTP parsing and header serialization on both sides. Dependency-free.
import { EventEmitter } from "node:events";
import { Server } from "node:net";
import {
  FrameDecoder,
  FrameType,
  encodeFrame,
  frameHeaderBytes,
  streamWindowBytes,
  writeFrameHeader,
} from "./frames.mjs";

/** Bodies above this go out as frames of at most this size, written without a copy. */
const maxBodyFrameBytes = 2 ** 20;
/** Up to this size, head, body and end are copied into one buffer and written at once. */
const coalesceBytes = 64 * 1024;

/**
 * The response side of one framed call, with the subset of http.ServerResponse the runtime
 * uses (writeHead, write, end, destroy, "drain", "close"), so one code path serves both.
 * write() returns false while the socket is full or the stream's window is used up.
 */
class FrameResponse extends EventEmitter {
  writableFinished = false;
  destroyed = false;
  /** Why the gateway cancelled the call, for context.signal's reason. */
  cancelReason = undefined;
  #connection;
  #id;
  #head;
  #headBytes = 0;
  #outstanding = 0;
  #waiting = false;

  constructor(connection, id) {
    super();
    this.#connection = connection;
    this.#id = id;
  }

  writeHead(status, headers) {
    // Held back so head, body and end of a small answer leave in one write.
    // Kept as text: it is encoded straight into the outgoing frame.
    const head = JSON.stringify({ status, headers });
    this.#head = head;
    this.#headBytes = Buffer.byteLength(head);
    return this;
  }

  write(chunk) {
    if (this.destroyed) {
      return false;
    }
    const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    if (bytes.length === 0) {
      return true;
    }
    const writable = this.#send(bytes, false);
    this.#outstanding += bytes.length;
    if (!writable || this.#outstanding >= streamWindowBytes) {
      this.#waiting = true;
      return false;
    }
    return true;
  }

  end(chunk) {
    if (this.destroyed) {
      return;
    }
    const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    this.#send(bytes, true);
    this.writableFinished = true;
    this.#close();
  }

  /** The call failed after it started answering: tell the gateway, which cuts its caller off. */
  destroy(error) {
    if (this.destroyed) {
      return;
    }
    this.#connection.send([
      encodeFrame(FrameType.Error, this.#id, String(error?.message ?? error)),
    ]);
    this.#close();
  }

  /** The gateway gave up on the call: nothing more is sent, and the handler's signal aborts. */
  cancel(reason) {
    if (this.destroyed) {
      return;
    }
    this.cancelReason = reason || "caller went away";
    this.#close();
  }

  /** The gateway passed on `bytes` of this stream's body. */
  credit(bytes) {
    this.#outstanding -= bytes;
    this.resumeIfWritable();
  }

  resumeIfWritable() {
    if (
      this.#waiting &&
      !this.#connection.socket.writableNeedDrain &&
      this.#outstanding < streamWindowBytes
    ) {
      this.#waiting = false;
      this.emit("drain");
    }
  }

  #send(body, end) {
    const head = this.#head;
    this.#head = undefined;
    const bodyLength = body?.length ?? 0;
    const total =
      (head ? frameHeaderBytes + this.#headBytes : 0) +
      (bodyLength > 0 ? frameHeaderBytes + bodyLength : 0) +
      (end ? frameHeaderBytes : 0);
    if (total <= coalesceBytes) {
      const out = Buffer.allocUnsafe(total);
      let offset = 0;
      if (head) {
        writeFrameHeader(out, offset, FrameType.ResponseHead, this.#id, this.#headBytes);
        out.write(head, offset + frameHeaderBytes, "utf8");
        offset += frameHeaderBytes + this.#headBytes;
      }
      if (bodyLength > 0) {
        writeFrameHeader(out, offset, FrameType.ResponseBody, this.#id, bodyLength);
        out.set(body, offset + frameHeaderBytes);
        offset += frameHeaderBytes + bodyLength;
      }
      if (end) {
        writeFrameHeader(out, offset, FrameType.ResponseEnd, this.#id, 0);
      }
      return this.#connection.send([out]);
    }
    const parts = [];
    if (head) {
      parts.push(encodeFrame(FrameType.ResponseHead, this.#id, head));
    }
    for (let offset = 0; offset < bodyLength; offset += maxBodyFrameBytes) {
      const slice = body.subarray(offset, Math.min(bodyLength, offset + maxBodyFrameBytes));
      const header = Buffer.allocUnsafe(frameHeaderBytes);
      writeFrameHeader(header, 0, FrameType.ResponseBody, this.#id, slice.length);
      parts.push(header, slice);
    }
    if (end) {
      parts.push(encodeFrame(FrameType.ResponseEnd, this.#id));
    }
    return this.#connection.send(parts);
  }

  #close() {
    this.destroyed = true;
    this.#connection.streams.delete(this.#id);
    this.emit("close");
    this.#connection.endIfStoppedAndIdle();
  }
}

/**
 * Calls on one connection by stream id. Not a Map: under tens of thousands of set/delete a
 * second a Map keeps rehashing, and the tables it leaves in the old generation still point at
 * the calls that were in them, so every call's objects outlive young collections (measured:
 * multi-millisecond scavenges and half of a small call's CPU). Here a call sits in an array
 * slot picked by the id's low 16 bits (the gateway gives concurrent calls distinct ones); an
 * id whose slot is taken goes to a Map, which any other id scheme then falls back on.
 */
class StreamMap {
  #slots = [];
  #overflow = new Map();
  size = 0;

  get(id) {
    const entry = this.#slots[id & 0xffff];
    return entry !== undefined && entry.id === id ? entry : this.#overflow.get(id);
  }

  set(id, entry) {
    const slot = id & 0xffff;
    const current = this.#slots[slot];
    if (current !== undefined && current.id === id) {
      this.#slots[slot] = entry;
    } else if (current === undefined && !this.#overflow.has(id)) {
      this.#slots[slot] = entry;
      this.size += 1;
    } else {
      if (!this.#overflow.has(id)) {
        this.size += 1;
      }
      this.#overflow.set(id, entry);
    }
  }

  delete(id) {
    const slot = id & 0xffff;
    const current = this.#slots[slot];
    if (current !== undefined && current.id === id) {
      this.#slots[slot] = undefined;
      this.size -= 1;
    } else if (this.#overflow.delete(id)) {
      this.size -= 1;
    }
  }

  values() {
    return [...this.#slots.filter((entry) => entry !== undefined), ...this.#overflow.values()];
  }

  clear() {
    this.#slots = [];
    this.#overflow.clear();
    this.size = 0;
  }
}

/**
 * Serves one connection from the gateway; `serveCall(call, res)` runs each call. Returns the
 * connection's `stop()`: end it once its calls in progress have answered.
 */
function serveConnection(socket, serveCall) {
  /** Stream id → {head, chunks, res}; a call is removed once its answer is complete. */
  const streams = new StreamMap();
  // Frames wait for the end of this event-loop turn, so answers to calls that arrived together
  // leave in one write; big ones go at once, without a copy.
  let outgoing = [];
  let outgoingBytes = 0;
  let flushScheduled = false;
  const flush = () => {
    flushScheduled = false;
    const parts = outgoing;
    outgoing = [];
    outgoingBytes = 0;
    if (parts.length === 0 || socket.destroyed) {
      return !socket.writableNeedDrain;
    }
    if (parts.length === 1) {
      return socket.write(parts[0]);
    }
    socket.cork();
    let writable = true;
    for (const part of parts) {
      writable = socket.write(part);
    }
    socket.uncork();
    return writable;
  };
  let stopping = false;
  const connection = {
    socket,
    streams,
    stop() {
      stopping = true;
      connection.endIfStoppedAndIdle();
    },
    endIfStoppedAndIdle() {
      if (stopping && streams.size === 0 && !socket.destroyed) {
        flush();
        socket.end();
      }
    },
    /** Returns false when the caller should wait for the socket to drain. */
    send(parts) {
      if (socket.destroyed) {
        return true;
      }
      for (const part of parts) {
        outgoing.push(part);
        outgoingBytes += part.length;
      }
      if (outgoingBytes >= coalesceBytes) {
        return flush();
      }
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flush);
      }
      return !socket.writableNeedDrain;
    },
  };
  const decoder = new FrameDecoder((type, id, payload) => {
    switch (type) {
      case FrameType.RequestHead: {
        const head = JSON.parse(payload.toString("utf8"));
        const res = new FrameResponse(connection, id);
        streams.set(id, { id, head, chunks: [], res, started: false });
        return;
      }
      case FrameType.RequestBody:
        // A view into the received chunk, kept only until the call has read its body.
        streams.get(id)?.chunks.push(payload);
        return;
      case FrameType.RequestEnd: {
        const call = streams.get(id);
        if (!call || call.started) {
          return;
        }
        call.started = true;
        const body = call.chunks.length === 1 ? call.chunks[0] : Buffer.concat(call.chunks);
        call.chunks = [];
        serveCall(
          {
            method: call.head.method,
            url: call.head.path,
            headers: call.head.headers,
            body,
            readBody: () => Promise.resolve(body),
          },
          call.res,
        );
        return;
      }
      case FrameType.Cancel: {
        const call = streams.get(id);
        streams.delete(id);
        call?.res.cancel(payload.toString("utf8"));
        return;
      }
      case FrameType.Window:
        if (payload.length >= 4) {
          streams.get(id)?.res.credit(payload.readUInt32BE(0));
        }
        return;
      default:
        throw new Error(`unexpected frame type ${type}`);
    }
  });
  socket.on("data", (chunk) => {
    try {
      decoder.push(chunk);
    } catch (error) {
      process.stderr.write(
        `invocation channel: ${error instanceof Error ? error.message : String(error)}; closing it\n`,
      );
      socket.destroy();
    }
  });
  socket.on("drain", () => {
    for (const call of streams.values()) {
      call.res.resumeIfWritable();
    }
  });
  socket.on("error", () => {
    // "close" follows; the gateway reports the failure to its callers.
  });
  socket.on("close", () => {
    for (const call of streams.values()) {
      call.res.cancel("the gateway closed the connection");
    }
    streams.clear();
  });
  return connection;
}

/** The frame server: connections from the gateway, and a graceful stop. */
class FrameServer extends Server {
  #connections = new Set();

  constructor(serveCall) {
    super({ noDelay: true }, (socket) => {
      const connection = serveConnection(socket, serveCall);
      this.#connections.add(connection);
      socket.on("close", () => this.#connections.delete(connection));
    });
  }

  /**
   * Takes no new connections and ends each open one once its calls in progress have answered
   * (the gateway keeps its connections open, so close() alone would never complete).
   */
  stop(onClosed) {
    this.close(onClosed);
    for (const connection of this.#connections) {
      connection.stop();
    }
  }
}

export function createFrameServer(serveCall) {
  return new FrameServer(serveCall);
}
