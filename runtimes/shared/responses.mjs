// Writing answers, over HTTP or frames (a FrameResponse answers to the same calls as an
// http.ServerResponse): whole bodies, JSON, and waiting for a full connection to drain.
// Shared by the Node-based runtime servers; dependency-free.

/** Answers with `bytes` whole; sets content-length in `headers` (which it may change). */
export function send(res, status, headers, bytes) {
  headers["content-length"] = bytes.length;
  res.writeHead(status, headers);
  res.end(bytes);
}

export function sendJson(res, status, value, extraHeaders = {}) {
  send(
    res,
    status,
    { "content-type": "application/json", ...extraHeaders },
    Buffer.from(JSON.stringify(value)),
  );
}

/** Waits until `res` takes more, or is closed (then no "drain" would ever come). */
export function drainedOrClosed(res) {
  return /** @type {Promise<void>} */ (
    new Promise((resume) => {
      const done = () => {
        res.off("drain", done);
        res.off("close", done);
        resume();
      };
      res.on("drain", done);
      res.on("close", done);
    })
  );
}

/** An error's stack, or the text of something thrown that is not an Error: for logs and bodies. */
export function describeError(error) {
  return error instanceof Error ? (error.stack ?? String(error)) : String(error);
}
