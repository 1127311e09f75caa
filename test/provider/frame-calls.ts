// Calls through a FrameChannel as the router makes them, and their answers read as text.
import { Readable } from "node:stream";
import type { FrameChannel } from "../../src/provider/frame-channel.js";
import type { InvocationResponse } from "../../src/provider/types.js";

export function call(
  channel: FrameChannel,
  path: string,
  options: { body?: string; signal?: AbortSignal; headers?: Record<string, string> } = {},
): Promise<InvocationResponse> {
  return channel.invoke({
    method: options.body === undefined ? "GET" : "POST",
    path,
    headers: {
      "x-call-id": `test-${path}`,
      "content-type": "application/json",
      ...options.headers,
    },
    body: options.body === undefined ? undefined : Readable.from([Buffer.from(options.body)]),
    signal: options.signal ?? new AbortController().signal,
  });
}

export async function text(response: InvocationResponse): Promise<string> {
  if (Buffer.isBuffer(response.body)) {
    return response.body.toString("utf8");
  }
  const chunks: Buffer[] = [];
  for await (const chunk of response.body) {
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}
