// Invocation frames, shared by the Node-based runtimes and the gateway (src/provider/frames.ts
// re-exports this file, typed by frames.d.mts): 4-byte big-endian length of what follows,
// 1-byte type, 4-byte stream id, payload. Protocol: docs/runtime-protocol.md, "Invocation frames".

export const FrameType = {
  RequestHead: 1,
  RequestBody: 2,
  RequestEnd: 3,
  ResponseHead: 4,
  ResponseBody: 5,
  ResponseEnd: 6,
  Cancel: 7,
  Error: 8,
  Window: 9,
};

export const frameHeaderBytes = 9;
export const maxFrameBytes = 16 * 2 ** 20;
export const streamWindowBytes = 2 ** 20;

/** Writes a frame header for `length` payload bytes into `target` at `offset`. */
export function writeFrameHeader(target, offset, type, id, length) {
  target.writeUInt32BE(length + 5, offset);
  target[offset + 4] = type;
  target.writeUInt32BE(id, offset + 5);
}

export function encodeFrame(type, id, payload) {
  const length =
    payload === undefined
      ? 0
      : typeof payload === "string"
        ? Buffer.byteLength(payload)
        : payload.length;
  const frame = Buffer.allocUnsafe(frameHeaderBytes + length);
  writeFrameHeader(frame, 0, type, id, length);
  if (typeof payload === "string") {
    frame.write(payload, frameHeaderBytes, "utf8");
  } else if (payload !== undefined) {
    frame.set(payload, frameHeaderBytes);
  }
  return frame;
}

export class FrameError extends Error {}

/** Splits a byte stream into frames; chunks may end mid-frame or hold many frames. */
export class FrameDecoder {
  #onFrame;
  #pending;

  constructor(onFrame) {
    this.#onFrame = onFrame;
  }

  push(chunk) {
    let data = this.#pending === undefined ? chunk : Buffer.concat([this.#pending, chunk]);
    this.#pending = undefined;
    let offset = 0;
    while (data.length - offset >= 4) {
      const length = data.readUInt32BE(offset);
      if (length < 5 || length > maxFrameBytes) {
        throw new FrameError(`invalid frame length ${length}`);
      }
      if (data.length - offset < 4 + length) {
        break;
      }
      const type = data[offset + 4];
      const id = data.readUInt32BE(offset + 5);
      const payload = data.subarray(offset + frameHeaderBytes, offset + 4 + length);
      offset += 4 + length;
      this.#onFrame(type, id, payload);
    }
    if (offset < data.length) {
      data = data.subarray(offset);
      this.#pending = data.length < 4096 ? Buffer.from(data) : data;
    }
  }

  get pendingBytes() {
    return this.#pending?.length ?? 0;
  }
}
