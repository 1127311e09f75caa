/** How the router passes a function's streamed answer on to its caller. */
import type { ServerResponse } from "node:http";
import type { Readable } from "node:stream";

/**
 * Streams `body` to the caller and resolves once all of it is handed to the socket. Plain
 * pipe() plus three listeners: stream.pipeline() would cost an AbortController, a DOMException
 * and its own listeners on every call of the hot path.
 */
export function sendBody(body: Readable, res: ServerResponse): Promise<void> {
  const ended = bodyEnded(body);
  body.pipe(res);
  return ended;
}

/**
 * Resolves when a function's response body has ended; rejects when it fails, or is destroyed
 * before its end (the answer is then incomplete). Its listeners are removed either way.
 */
export function bodyEnded(body: Readable): Promise<void> {
  return new Promise((resolve, reject) => {
    const onEnd = (): void => {
      cleanUp();
      resolve();
    };
    const onError = (error: Error): void => {
      cleanUp();
      reject(error);
    };
    const onClose = (): void => {
      // Destroyed without an error (or before "end" was seen): the answer is incomplete.
      cleanUp();
      reject(new Error("the function's response ended early"));
    };
    const cleanUp = (): void => {
      body.off("end", onEnd);
      body.off("error", onError);
      body.off("close", onClose);
    };
    body.once("end", onEnd);
    body.once("error", onError);
    body.once("close", onClose);
  });
}
