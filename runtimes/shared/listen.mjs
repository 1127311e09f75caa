// Where a runtime listens, and how it stops (docs/runtime-protocol.md, "Transports"): HTTP and
// the frame server at the addresses its environment gives, and on SIGTERM a graceful stop.
// Shared by the Node-based runtime servers; dependency-free.
import { logStream } from "./control.mjs";
import { createFrameServer } from "./frame-server.mjs";
import { describeError } from "./responses.mjs";

/**
 * "HOST:PORT" (an IPv6 host in brackets, "[::1]:8080") as {host, port}; exits the process
 * naming the variable when it is not one.
 */
function tcpAddress(variable, value) {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value.trim());
  const port = Number(match?.[3]);
  const host = match?.[1] ?? match?.[2];
  if (host === undefined || !(port > 0 && port < 65536)) {
    process.stderr.write(
      `${variable} must be HOST:PORT (e.g. 0.0.0.0:8888), not ${JSON.stringify(value)}\n`,
    );
    process.exit(1);
  }
  return { host, port };
}

/**
 * Where the HTTP server listens: RUNLET_HTTP_ADDRESS (TCP), else RUNLET_SOCKET (a Unix
 * socket), else PORT on every interface (a pod's default, 8888). As node:http and net take it.
 */
function httpListenOptions() {
  const address = process.env.RUNLET_HTTP_ADDRESS;
  if (address) {
    return tcpAddress("RUNLET_HTTP_ADDRESS", address);
  }
  const socketPath = process.env.RUNLET_SOCKET;
  if (socketPath) {
    return { path: socketPath };
  }
  return { host: "0.0.0.0", port: Number(process.env.PORT ?? 8888) };
}

/** Where the frame server listens: RUNLET_FRAME_ADDRESS, else RUNLET_FRAME_SOCKET, else none. */
function frameListenOptions() {
  const address = process.env.RUNLET_FRAME_ADDRESS;
  if (address) {
    return tcpAddress("RUNLET_FRAME_ADDRESS", address);
  }
  const socketPath = process.env.RUNLET_FRAME_SOCKET;
  return socketPath ? { path: socketPath } : undefined;
}

/** An address to call a server on: what it listens on, with "any interface" as loopback. */
function callable(options) {
  if ("path" in options) {
    return { path: options.path };
  }
  const anyHost = options.host === "0.0.0.0" || options.host === "::";
  return { host: anyHost ? "localhost" : options.host, port: options.port };
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
 * Starts a runtime's servers where the platform says: HTTP, and the frame server for
 * `serveCall` when an address is given for it. Exits the process when either cannot listen.
 * Returns where each listens, for calls to itself (`http` as node:http request options take
 * it, `frames` as net.connect does), and the frame server.
 */
export async function listenRuntime(httpServer, serveCall) {
  const httpOptions = httpListenOptions();
  const frameOptions = frameListenOptions();
  const frameServer = frameOptions ? createFrameServer(serveCall) : undefined;
  try {
    await Promise.all([
      listen(httpServer, httpOptions),
      frameServer ? listen(frameServer, frameOptions) : undefined,
    ]);
  } catch (error) {
    process.stderr.write(`cannot listen: ${describeError(error)}\n`);
    process.exit(1);
  }
  const http = callable(httpOptions);
  return {
    http: "path" in http ? { socketPath: http.path } : http,
    frames: frameOptions ? callable(frameOptions) : undefined,
    frameServer,
  };
}

/**
 * On SIGTERM or SIGINT (a pod being stopped, Ctrl-C): take no new connections, let the calls
 * in progress finish with their whole answers, end the log stream once they have, then exit 0.
 * A second signal exits at once.
 */
export function stopOnSignals(httpServer, frameServer) {
  let stopping = false;
  const stop = () => {
    if (stopping) {
      process.stderr.write("stopping without waiting for the calls in progress\n");
      process.exit(1);
    }
    stopping = true;
    // HTTP answers, and frame calls; then HTTP's connections (the log stream's last), and the
    // frame server's.
    let callsLeft = frameServer ? 2 : 1;
    let serversLeft = frameServer ? 2 : 1;
    const callsDone = () => {
      callsLeft -= 1;
      if (callsLeft === 0) {
        logStream?.end();
      }
    };
    const closed = () => {
      serversLeft -= 1;
      if (serversLeft === 0) {
        process.exit(0);
      }
    };
    httpServer.stop({ onAnswered: callsDone, onClosed: closed });
    frameServer?.stop(() => {
      callsDone();
      closed();
    });
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
