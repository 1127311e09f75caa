/**
 * The invocation frame format shared by the gateway and the runtimes (docs/runtime-protocol.md,
 * "Invocation frames"): 4-byte big-endian length of what follows, 1-byte type, 4-byte stream
 * id, payload. The code is the Node-based runtimes' own (runtimes/shared/frames.mjs, which must stay
 * dependency-free), so gateway and instance share one codec.
 */
export {
  FrameDecoder,
  FrameError,
  FrameType,
  encodeFrame,
  frameHeaderBytes,
  maxFrameBytes,
  streamWindowBytes,
  writeFrameHeader,
} from "../../runtimes/shared/frames.mjs";
