// Types of the invocation frame codec (frames.mjs), for the gateway side, which uses the
// runtime's own code so the two ends cannot drift apart.

export declare const FrameType: {
  /** gateway → instance: JSON {method, path, headers}. */
  readonly RequestHead: 1;
  readonly RequestBody: 2;
  readonly RequestEnd: 3;
  /** instance → gateway: JSON {status, headers}. */
  readonly ResponseHead: 4;
  readonly ResponseBody: 5;
  readonly ResponseEnd: 6;
  /** gateway → instance: the caller went away or the call timed out; payload is the reason. */
  readonly Cancel: 7;
  /** instance → gateway: the call failed after its head was sent; payload is the message. */
  readonly Error: 8;
  /** gateway → instance: 4-byte count of response body bytes the gateway has passed on. */
  readonly Window: 9;
};
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

/** Length field + type + stream id. */
export declare const frameHeaderBytes: 9;
/** A frame larger than this is a protocol error: both sides split bodies far below it. */
export declare const maxFrameBytes: number;
/** Response body bytes one stream may have unacknowledged at the gateway. */
export declare const streamWindowBytes: number;

export declare function writeFrameHeader(
  target: Buffer,
  offset: number,
  type: FrameType,
  id: number,
  length: number,
): void;

/** One frame as a single buffer: small frames go out in one write, unsplit. */
export declare function encodeFrame(
  type: FrameType,
  id: number,
  payload?: Uint8Array | string,
): Buffer;

export declare class FrameError extends Error {}

/** Splits a byte stream into frames; chunks may end mid-frame or hold many frames. */
export declare class FrameDecoder {
  constructor(onFrame: (type: number, id: number, payload: Buffer) => void);
  /** Throws FrameError on a frame no peer would send; the connection is then unusable. */
  push(chunk: Buffer): void;
  /** Bytes of an incomplete frame held until more arrive. */
  get pendingBytes(): number;
}
