// The runtime's HTTP server (docs/runtime-protocol.md, "Requests"): control paths for the
// supervisor and invocations, with a graceful stop. Shared by the Node-based runtime servers;
// dependency-free.
import { Server } from "node:http";
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

  /** Stops listening, lets answers in progress finish, then closes every connection. */
  stop(onClosed) {
    this.#stopping = true;
    this.close(onClosed);
    this.closeIdleConnections();
  }

  /** Called as each answer ends (a "close" listener, shared so no call allocates one). */
  answerClosed = () => {
    if (this.#stopping) {
      this.closeIdleConnections();
    }
  };
}

/**
 * The runtime's HTTP server: control paths for the supervisor (`/healthz`,
 * `POST /v2/specialize`) and invocations. Only requests without X-Call-Id (the supervisor's)
 * may reach the control paths, so a function can serve its own /healthz.
 */
export function createRuntimeServer({ isSpecialized, specialize, serveCall }) {
  const server = new StoppableServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    res.on("close", server.answerClosed);
    if (!req.headers["x-call-id"]) {
      if (req.url === "/healthz") {
        return sendJson(res, 200, { status: "ok", specialized: isSpecialized() });
      }
      if (req.url === "/v2/specialize" && req.method === "POST") {
        return void readBody(req).then((body) => specialize(res, body));
      }
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
