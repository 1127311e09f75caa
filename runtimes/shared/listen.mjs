// Where a runtime listens, and how it stops (docs/runtime-protocol.md): HTTP and the frame
// server at the addresses its environment gives, and on SIGTERM a graceful stop. Shared by the
// Node-based runtime servers; dependency-free.
import { createFrameServer } from "./frame-server.mjs";
import { describeError } from "./responses.mjs";

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
 * Starts a runtime's servers where the platform says: HTTP on RUNLET_SOCKET (or PORT in a
 * pod) and, when RUNLET_FRAME_SOCKET is set, the frame server for `serveCall` beside it. Exits
 * the process when either cannot listen. Returns where each listens, for calls to itself
 * (`http` as node:http request options take it, `frames` as net.connect does), and the frame
 * server.
 */
export async function listenRuntime(httpServer, serveCall) {
  const socketPath = process.env.RUNLET_SOCKET;
  const frameSocketPath = process.env.RUNLET_FRAME_SOCKET;
  const port = Number(process.env.PORT ?? 8888);
  const http = socketPath ? { socketPath } : { host: "127.0.0.1", port };
  const frames = frameSocketPath ? { path: frameSocketPath } : undefined;
  const frameServer = frames ? createFrameServer(serveCall) : undefined;
  try {
    await Promise.all([
      listen(httpServer, socketPath ? { path: socketPath } : { port, host: "0.0.0.0" }),
      frameServer ? listen(frameServer, frames) : undefined,
    ]);
  } catch (error) {
    process.stderr.write(`cannot listen: ${describeError(error)}\n`);
    process.exit(1);
  }
  return { http, frames, frameServer };
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
