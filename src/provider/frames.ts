/**
 * The invocation frame format shared by the gateway and the runtimes (docs/runtime-protocol.md,
 * "Invocation frames"): 4-byte big-endian length of what follows, 1-byte type, 4-byte stream
 * id, payload. runtimes/node/frames.mjs is the runtime's copy; the two must stay identical.
 */

export const FrameType = {
  /** gateway → instance: JSON {method, path, headers}. */
  RequestHead: 1,
  RequestBody: 2,
  RequestEnd: 3,
  /** instance → gateway: JSON {status, headers}. */
  ResponseHead: 4,
  ResponseBody: 5,
  ResponseEnd: 6,
  /** gateway → instance: the caller went away or the call timed out; payload is the reason. */
  Cancel: 7,
  /** instance → gateway: the call failed after its head was sent; payload is the message. */
  Error: 8,
  /** gateway → instance: 4-byte count of response body bytes the gateway has passed on. */
  Window: 9,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

/** Length field + type + stream id. */
export const frameHeaderBytes = 9;
/** A frame larger than this is a protocol error: both sides split bodies far below it. */
export const maxFrameBytes = 16 * 2 ** 20;
/**
 * Response body bytes an instance may send on one stream before the gateway acknowledges
 * them, so a slow caller holds back only its own stream, not the whole connection.
 */
export const streamWindowBytes = 2 ** 20;

/** One frame as a single buffer: small frames go out in one write, unsplit. */
export function encodeFrame(type: FrameType, id: number, payload?: Uint8Array | string): Buffer {
  const length =
    payload === undefined
      ? 0
      : typeof payload === "string"
        ? Buffer.byteLength(payload)
        : payload.length;
  const frame = Buffer.allocUnsafe(frameHeaderBytes + length);
  frame.writeUInt32BE(length + 5, 0);
  frame[4] = type;
  frame.writeUInt32BE(id, 5);
  if (typeof payload === "string") {
    frame.write(payload, frameHeaderBytes, "utf8");
  } else if (payload !== undefined) {
    frame.set(payload, frameHeaderBytes);
  }
  return frame;
}

export class FrameError extends Error {}

/**
 * Splits a byte stream into frames. Chunks may end mid-frame or hold many frames; payloads
 * are views into the received chunk (no copy) unless a frame spans chunks.
 */
export class FrameDecoder {
  readonly #onFrame: (type: number, id: number, payload: Buffer) => void;
  #pending: Buffer | undefined;

  constructor(onFrame: (type: number, id: number, payload: Buffer) => void) {
    this.#onFrame = onFrame;
  }

  /** Throws FrameError on a frame no peer would send; the connection is then unusable. */
  push(chunk: Buffer): void {
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
      const type = data[offset + 4] ?? 0;
      const id = data.readUInt32BE(offset + 5);
      const payload = data.subarray(offset + frameHeaderBytes, offset + 4 + length);
      offset += 4 + length;
      this.#onFrame(type, id, payload);
    }
    if (offset < data.length) {
      // Copy the tail so a large received chunk is not kept alive by a few pending bytes.
      data = data.subarray(offset);
      this.#pending = data.length < 4096 ? Buffer.from(data) : data;
    }
  }

  /** Bytes of an incomplete frame held until more arrive. */
  get pendingBytes(): number {
    return this.#pending?.length ?? 0;
  }
}
