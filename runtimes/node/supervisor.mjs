// What every Node-based runtime server (node, exec) does as a process under the platform's
// supervisor (docs/runtime-protocol.md): exit when the supervisor goes, tell it things on the
// control fd, and listen where it says. Dependency-free.
import { fstatSync, writeSync } from "node:fs";
import { Server } from "node:http";
import { createFrameServer } from "./frame-server.mjs";

const controlFd = process.env.RUNLET_CONTROL_FD ? Number(process.env.RUNLET_CONTROL_FD) : undefined;

function isPipe(fd) {
  try {
    const stat = fstatSync(fd);
    // Node's child_process gives stdio pipes as socket pairs.
    return stat.isFIFO() || stat.isSocket();
  } catch {
    return false;
  }
}

/**
 * Under a supervisor, stdin is a pipe from it that is never written: its end means the
 * supervisor is gone (even if it was killed), so the instance must not outlive it. Only a
 * pipe counts: a supervisor that gives no stdin (/dev/null) does not use this signal.
 */
export function exitWithSupervisor() {
  if (controlFd !== undefined && isPipe(0)) {
    process.stdin.on("end", () => process.exit(0));
    process.stdin.on("error", () => process.exit(0));
    process.stdin.resume();
  }
}

/** One JSON line to the supervisor (fd 3), or stdout/stderr when running without one (in a pod). */
export function control(message) {
  if (controlFd === undefined) {
    if (message.event === "log") {
      (message.stream === "stderr" ? process.stderr : process.stdout).write(message.text + "\n");
    }
    return;
  }
  try {
    writeSync(controlFd, JSON.stringify(message) + "\n");
  } catch {
    // The supervisor is gone; nothing useful is left to tell it.
  }
}

/** An error's stack, or the text of something thrown that is not an Error: for logs and bodies. */
export function describeError(error) {
  return error instanceof Error ? (error.stack ?? String(error)) : String(error);
}

function listen(target, options) {
  return /** @type {Promise<void>} */ (
    new Promise((resolveListen, reject) => {
      target.once("error", reject);
      target.listen(options, () => {
        target.off("error", reject);
        resolveListen();
      });
    })
  );
}

/**
 * Starts a runtime's servers where the platform says (docs/runtime-protocol.md): HTTP on
 * RUNLET_SOCKET (or PORT in a pod) and, when RUNLET_FRAME_SOCKET is set, the frame server
 * for `serveCall` beside it. Exits the process when either cannot listen.
 */
export async function listenRuntime(httpServer, serveCall) {
  const socketPath = process.env.RUNLET_SOCKET;
  const frameSocketPath = process.env.RUNLET_FRAME_SOCKET;
  const port = Number(process.env.PORT ?? 8888);
  const frameServer = frameSocketPath ? createFrameServer(serveCall) : undefined;
  try {
    await Promise.all([
      listen(httpServer, socketPath ? { path: socketPath } : { port, host: "0.0.0.0" }),
      frameServer ? listen(frameServer, { path: frameSocketPath }) : undefined,
    ]);
  } catch (error) {
    process.stderr.write(`cannot listen: ${describeError(error)}\n`);
    process.exit(1);
  }
  return { frameSocketPath, frameServer };
}

/**
 * On SIGTERM or SIGINT (a pod being stopped, Ctrl-C): take no new connections, let the calls
 * in progress finish with their whole answers, then exit 0. A second signal exits at once.
 */
export function stopOnSignals(httpServer, frameServer) {
  let stopping = false;
  const stop = () => {
    if (stopping) {
      process.stderr.write("stopping without waiting for the calls in progress\n");
      process.exit(1);
    }
    stopping = true;
    let open = frameServer ? 2 : 1;
    const closed = () => {
      open -= 1;
      if (open === 0) {
        process.exit(0);
      }
    };
    httpServer.stop(closed);
    frameServer?.stop(closed);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

export function readBody(req) {
  return new Promise((resolveBody, reject) => {
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", () => resolveBody(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

export function sendJson(res, status, value, extraHeaders = {}) {
  const bytes = Buffer.from(JSON.stringify(value));
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": bytes.length,
    ...extraHeaders,
  });
  res.end(bytes);
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
