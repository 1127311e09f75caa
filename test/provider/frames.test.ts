// The frame codec on both sides of the invocation channel, as each side imports it: the gateway's
// (src/provider/frames.ts, a re-export) and the runtime's (runtimes/shared/frames.mjs).
import { describe, expect, it } from "vitest";
import * as gatewayFrames from "../../src/provider/frames.js";

interface Decoded {
  readonly type: number;
  readonly id: number;
  readonly payload: string;
}

interface Codec {
  encodeFrame(type: number, id: number, payload?: Uint8Array | string): Buffer;
  FrameDecoder: new (onFrame: (type: number, id: number, payload: Buffer) => void) => {
    push(chunk: Buffer): void;
    readonly pendingBytes: number;
  };
}

const runtimeFrames = (await import(
  new URL("../../runtimes/shared/frames.mjs", import.meta.url).href
)) as Codec;

const codecs: [string, Codec][] = [
  ["gateway", gatewayFrames as unknown as Codec],
  ["runtime", runtimeFrames],
];

function decoder(codec: Codec): {
  frames: Decoded[];
  push: (chunk: Buffer) => void;
  pending: () => number;
} {
  const frames: Decoded[] = [];
  const instance = new codec.FrameDecoder((type, id, payload) => {
    frames.push({ type, id, payload: payload.toString("utf8") });
  });
  return { frames, push: (chunk) => instance.push(chunk), pending: () => instance.pendingBytes };
}

describe.each(codecs)("%s frame decoder", (_side, codec) => {
  const sample = Buffer.concat([
    codec.encodeFrame(1, 7, JSON.stringify({ method: "GET", path: "/x?a=1", headers: {} })),
    codec.encodeFrame(2, 7, Buffer.from("body ✓")),
    codec.encodeFrame(3, 7),
    codec.encodeFrame(4, 0xffff_fffe, "{}"),
  ]);
  const expected: Decoded[] = [
    { type: 1, id: 7, payload: '{"method":"GET","path":"/x?a=1","headers":{}}' },
    { type: 2, id: 7, payload: "body ✓" },
    { type: 3, id: 7, payload: "" },
    { type: 4, id: 0xffff_fffe, payload: "{}" },
  ];

  it("encodes length, type and stream id ahead of the payload", () => {
    const frame = codec.encodeFrame(5, 258, "hi");
    expect([...frame]).toEqual([0, 0, 0, 7, 5, 0, 0, 1, 2, 104, 105]);
  });

  it("reads several frames from one chunk", () => {
    const { frames, push, pending } = decoder(codec);
    push(sample);
    expect(frames).toEqual(expected);
    expect(pending()).toBe(0);
  });

  it("reassembles frames that arrive one byte at a time", () => {
    const { frames, push, pending } = decoder(codec);
    for (let i = 0; i < sample.length; i += 1) {
      push(sample.subarray(i, i + 1));
      if (i < 8) {
        // Not even the first frame's header is complete yet.
        expect(frames).toEqual([]);
      }
    }
    expect(frames).toEqual(expected);
    expect(pending()).toBe(0);
  });

  it("handles every split point of a stream, and a large frame across many chunks", () => {
    for (let cut = 1; cut < sample.length; cut += 1) {
      const { frames, push } = decoder(codec);
      push(sample.subarray(0, cut));
      push(sample.subarray(cut));
      expect(frames).toEqual(expected);
    }
    const big = Buffer.alloc(300_000, 120);
    const { frames, push, pending } = decoder(codec);
    const stream = Buffer.concat([codec.encodeFrame(5, 1, big), codec.encodeFrame(6, 1)]);
    for (let offset = 0; offset < stream.length; offset += 65_536) {
      push(stream.subarray(offset, offset + 65_536));
    }
    expect(frames.map((f) => [f.type, f.payload.length])).toEqual([
      [5, 300_000],
      [6, 0],
    ]);
    expect(pending()).toBe(0);
  });

  it("refuses a length no peer sends", () => {
    const { push } = decoder(codec);
    expect(() => push(Buffer.from([0, 0, 0, 1, 1]))).toThrow(/invalid frame length 1/);
    const { push: pushHuge } = decoder(codec);
    expect(() => pushHuge(Buffer.from([0x7f, 0, 0, 0, 1, 0, 0, 0, 1]))).toThrow(
      /invalid frame length/,
    );
  });
});
