// The runtime's HTTP server (docs/runtime-protocol.md, "Requests"): control paths for the
// supervisor and invocations, with a graceful stop. Shared by the Node-based runtime servers;
// dependency-free.
import { Server } from "node:http";
import { logStream } from "./control.mjs";
import { sendJson } from "./responses.mjs";

/** @returns {Promise<Buffer>} */
export function readBody(req) {
  return new Promise((resolveBody, reject) => {
    /** @type {Buffer[]} */
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", () => resolveBody(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/**
 * An HTTP server that can stop gracefully. server.close() alone waits for keep-alive
 * connections to time out (65 s), and closeIdleConnections() at that moment misses those
 * still answering: so each answer that ends while stopping closes the connections left idle.
 */
class StoppableServer extends Server {
  #stopping = false;
  /** Answers in progress, the log stream's not counted: it ends after them. */
  #answering = 0;
  /** @type {(() => void) | undefined} */
  #onAnswered = undefined;

  /**
   * Stops listening, and lets answers in progress finish: `onAnswered` is called once none is
   * left (the log stream aside), `onClosed` once every connection is closed.
   */
  stop({ onAnswered, onClosed }) {
    this.#stopping = true;
    this.#onAnswered = onAnswered;
    this.close(onClosed);
    this.closeIdleConnections();
    if (this.#answering === 0) {
      this.#answered();
    }
  }

  /** Counts `res` as an answer in progress until it closes. */
  track(res) {
    this.#answering += 1;
    res.on("close", this.#answerClosed);
  }

  /** A "close" listener, shared so no call allocates one. */
  #answerClosed = () => {
    this.#answering -= 1;
    this.connectionFreed();
    if (this.#stopping && this.#answering === 0) {
      this.#answered();
    }
  };

  /** An answer ended: while stopping, its connection (idle now) is closed. */
  connectionFreed = () => {
    if (this.#stopping) {
      this.closeIdleConnections();
    }
  };

  #answered() {
    const onAnswered = this.#onAnswered;
    this.#onAnswered = undefined;
    onAnswered?.();
  }
}

/**
 * The runtime's HTTP server: control paths for the supervisor (`/healthz`,
 * `POST /v2/specialize`, and `GET /v2/logs` without a control pipe) and invocations. Only
 * requests without X-Call-Id (the supervisor's) may reach the control paths, so a function can
 * serve its own /healthz.
 */
export function createRuntimeServer({ isSpecialized, specialize, serveCall }) {
  const server = new StoppableServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    const controlPath = req.headers["x-call-id"] ? undefined : req.url;
    if (controlPath === "/v2/logs" && req.method === "GET" && logStream !== undefined) {
      res.on("close", server.connectionFreed);
      return logStream.serve(res);
    }
    server.track(res);
    if (controlPath === "/healthz") {
      return sendJson(res, 200, { status: "ok", specialized: isSpecialized() });
    }
    if (controlPath === "/v2/specialize" && req.method === "POST") {
      return void readBody(req).then((body) => specialize(res, body));
    }
    serveCall(
      {
        method: req.method,
        url: req.url,
        headers: req.headers,
        readBody: () => readBody(req),
        bodyStream: req,
      },
      res,
    );
  });
  return server;
}
