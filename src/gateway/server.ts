/**
 * The gateway: one listening socket. The lean front (front/) answers plain-shaped function
 * calls itself and hands every other connection to node:http, where invocations (`/function/…`)
 * take a direct path to the router and everything else goes through Fastify (control API,
 * OpenFaaS routes, metrics, health).
 */
import { registerNamespaceRoutes } from "./routes/namespaces.js";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import Fastify, { type FastifyError, type FastifyInstance } from "fastify";
import type { Clock } from "../clock.js";
import { UserError, errorBody, errorJson, type ErrorCode } from "../errors.js";
import type { Platform } from "../platform/platform.js";
import type { Exchange } from "../router/exchange.js";
import { audit, authenticate, authorizeRequest, namespaceOf } from "./access.js";
import { errorReply, internalErrorMessage } from "./error-reply.js";
import { handleAsyncInvocation, isAsyncInvocation } from "./async-invoke.js";
import { LeanFront } from "./front/lean-front.js";
import { tuneGarbageCollection } from "./gc-tuning.js";
import { handleInvocation, isInvocation } from "./invoke.js";
import { NodeExchange } from "./node-exchange.js";
import { findRoute, handleRoute } from "./route-invoke.js";
import { createMetrics } from "./metrics.js";
import { openapiDocument } from "./openapi.js";
import { registerAuditRoutes } from "./routes/audit.js";
import { registerCallRoutes } from "./routes/calls.js";
import { registerImageRoutes } from "./routes/images.js";
import { registerNativeRoutes } from "./routes/native.js";
import { packageArchivePath, registerPackageArchiveRoute } from "./routes/package-archive.js";
import { registerOpenfaasRoutes } from "./routes/openfaas.js";
import { registerTokenRoutes } from "./routes/tokens.js";
import { registerTriggerRoutes } from "./routes/triggers.js";
import { registerLogEventRoutes } from "./routes/log-events.js";
import { registerMetricsHistoryRoutes, startMetricsHistory } from "./routes/metrics-history.js";
import { registerRevisionRoutes } from "./routes/revisions.js";
import { isDashboardPath, registerDashboardRoutes } from "./routes/ui.js";

export interface GatewayOptions {
  readonly platform: Platform;
  /** @default 8080 */
  readonly port?: number;
  /** @default "127.0.0.1" */
  readonly host?: string;
  /** Largest package upload. @default 100 MiB */
  readonly maxUploadBytes?: number;
  /** Reports errors that are our bug (full stack). @default console.error */
  readonly onInternalError?: (error: unknown) => void;
  /**
   * How long a client may take to send a whole request, head and body; past it the request
   * gets a 408 and its connection closes. A call starts on an instance (and its function's
   * timeout runs) only once its body is in, except bodies streamed to the function (over
   * 64 KiB, or chunked), which the function's timeout bounds (docs/architecture.md, "Slow
   * clients and the function's timeout"). The lean front, whose bodies are small, allows at
   * most 60 s. @default 300000 (node:http's own)
   */
  readonly requestTimeoutMs?: number;
  /** Milliseconds between two points of the metrics history (tests shorten it). @default 5000 */
  readonly historyStepMs?: number;
  /**
   * Time for the lean front's sweep of idle connections and requests slow to arrive (tests
   * feed it; node:http keeps its own timers). @default the platform's clock
   */
  readonly clock?: Clock;
  /** Serve HTTPS with this certificate and key (PEM) instead of plain HTTP. @default plain HTTP */
  readonly tls?: { readonly cert: Buffer | string; readonly key: Buffer | string };
}

export interface Gateway {
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  /** Stops accepting, drains in-flight calls (up to graceMs), stops instances. */
  close(graceMs?: number): Promise<void>;
}

const publicPaths = new Set(["/healthz", "/metrics", "/api/v1/openapi.json", "/"]);
const keepAliveTimeoutMs = 65_000;

/** An error body for a request refused before Runlet saw it (node:http's parser, timeouts). */
function refusal(status: number, reason: string, code: ErrorCode, message: string): string {
  const body = errorJson(code, message);
  return `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  tuneGarbageCollection();
  const { platform } = options;
  const metrics = createMetrics(platform);
  const history = startMetricsHistory(platform, metrics.calls, { stepMs: options.historyStepMs });
  const onInternalError = options.onInternalError ?? ((error: unknown) => console.error(error));
  let inFlight = 0;
  const countInFlight = (res: ServerResponse): void => {
    inFlight += 1;
    res.once("close", () => {
      inFlight -= 1;
    });
  };
  /**
   * Runs a direct-path call. One that fails unexpectedly (a throw or a rejection) is our bug:
   * report it, answer 500 if still possible.
   */
  const settle = (exchange: Exchange, work: () => Promise<void> | undefined): void => {
    const fail = (error: unknown): void => {
      onInternalError(error);
      if (!exchange.headersSent) {
        exchange.send(
          500,
          { "content-type": "application/json" },
          errorJson("RUNLET_INTERNAL", internalErrorMessage),
        );
      } else {
        exchange.abort();
      }
    };
    try {
      work()?.catch(fail);
    } catch (error) {
      fail(error);
    }
  };
  const requestTimeoutMs = options.requestTimeoutMs ?? 300_000;
  let handOff: (socket: Socket) => void = () => {};
  // Function calls of the plain shape are read by the lean front; node:http reads the rest.
  const front = new LeanFront({
    serves: isInvocation,
    handle: (exchange) => settle(exchange, () => handleInvocation(platform, metrics, exchange)),
    handOff: (socket) => handOff(socket),
    keepAliveTimeoutMs,
    requestReadTimeoutMs: Math.min(60_000, requestTimeoutMs),
    clock: options.clock ?? platform.clock,
  });
  let server: Server | undefined;
  const answerError = errorReply(onInternalError);
  const app: FastifyInstance = Fastify({
    frameworkErrors: (error, _request, reply) => answerError(error, reply),
    logger: false,
    bodyLimit: options.maxUploadBytes ?? 100 * 2 ** 20,
    // Close idle keep-alive connections on shutdown so close() does not wait on them.
    forceCloseConnections: "idle",
    serverFactory: (fastifyHandler) => {
      const serverOptions = {
        keepAliveTimeout: keepAliveTimeoutMs,
        requestTimeout: requestTimeoutMs,
        headersTimeout: Math.min(60_000, requestTimeoutMs),
        // How often node:http looks for requests past their timeouts.
        connectionsCheckingInterval: Math.min(30_000, Math.max(100, requestTimeoutMs / 2)),
        // Checked below, so the 400 has an error body.
        requireHostHeader: false,
      };
      const tls = options.tls;
      // With TLS, node:https decrypts and the same handler reads the plain requests.
      const make = (handler: (req: IncomingMessage, res: ServerResponse) => void): Server =>
        tls
          ? createTlsServer({ ...serverOptions, cert: tls.cert, key: tls.key }, handler)
          : createServer(serverOptions, handler);
      const httpServer = make((req: IncomingMessage, res: ServerResponse) => {
        if (req.headers.host === undefined && req.httpVersion === "1.1") {
          // RFC 9112 §3.2: a request without Host is refused, and nothing of it is read.
          res.writeHead(400, { "content-type": "application/json", connection: "close" });
          res.end(
            errorJson(
              "RUNLET_INVALID_REQUEST",
              "The request has no Host header, which HTTP/1.1 requires; send one.",
            ),
          );
          return;
        }
        // Calls take a direct path; only the rest goes through Fastify.
        if (isInvocation(req.url ?? "")) {
          countInFlight(res);
          const exchange = new NodeExchange(req, res);
          settle(exchange, () => handleInvocation(platform, metrics, exchange));
          return;
        }
        if (isAsyncInvocation(req.url ?? "")) {
          // Answered once stored; the call itself runs later, outside this request.
          const exchange = new NodeExchange(req, res);
          settle(exchange, () => handleAsyncInvocation(platform, metrics, req, res));
          return;
        }
        const route = findRoute(platform, req);
        if (route) {
          countInFlight(res);
          const exchange = new NodeExchange(req, res);
          settle(exchange, () => handleRoute(platform, metrics, exchange, route));
          return;
        }
        fastifyHandler(req, res);
      });
      // Every accepted connection goes to the lean front first; it hands on what it does not
      // serve. Over TLS that is each connection once its handshake is done.
      const accepted = tls ? "secureConnection" : "connection";
      const httpListeners = httpServer.listeners(accepted) as ((socket: Socket) => void)[];
      httpServer.removeAllListeners(accepted);
      httpServer.on(accepted, (socket: Socket) => front.accept(socket));
      handOff = (socket) => {
        for (const listener of httpListeners) {
          listener.call(httpServer, socket);
        }
      };
      // Requests node:http refuses itself (malformed, head too large, not all in within
      // requestTimeoutMs) get an error body like every other refusal.
      httpServer.on("clientError", (error: NodeJS.ErrnoException, socket: Socket) => {
        const answering = (socket as { _httpMessage?: ServerResponse })._httpMessage;
        if (socket.writable && !answering?.headersSent) {
          socket.write(
            error.code === "ERR_HTTP_REQUEST_TIMEOUT"
              ? refusal(
                  408,
                  "Request Timeout",
                  "RUNLET_REQUEST_TIMEOUT",
                  "The request was not received in time; send all of the body it declares.",
                )
              : error.code === "HPE_HEADER_OVERFLOW"
                ? refusal(
                    431,
                    "Request Header Fields Too Large",
                    "RUNLET_HEADERS_TOO_LARGE",
                    "The request's head is too large.",
                  )
                : refusal(
                    400,
                    "Bad Request",
                    "RUNLET_INVALID_REQUEST",
                    "The request is not valid HTTP/1.1.",
                  ),
          );
        }
        socket.destroy(error);
      });
      server = httpServer;
      return httpServer;
    },
  });

  app.addContentTypeParser(
    ["application/gzip", "application/x-gzip", "application/octet-stream"],
    { parseAs: "buffer" },
    (_request, body, done) => done(null, body),
  );

  app.addHook("onRequest", async (request, reply) => {
    const path = request.url.split("?")[0] ?? "";
    // A path that serves nothing is a 404 for everyone: asking for the admin token there
    // would send someone who mistyped a function's URL looking for a token.
    // The package archive route checks a package grant instead of the admin token.
    if (
      publicPaths.has(path) ||
      isDashboardPath(path) ||
      request.is404 ||
      packageArchivePath.test(path)
    ) {
      return;
    }
    // Who it is (401 when nobody); what it may do is checked once its body is parsed.
    return authenticate(platform, request, reply);
  });
  // The namespace may be in the body (OpenFaaS routes): checked here, after parsing.
  app.addHook("preHandler", async (request, reply) => {
    const refused = authorizeRequest(request, reply);
    if (refused === undefined) {
      platform.assertNamespaceServed(namespaceOf(request));
    }
    return refused;
  });
  app.addHook("onSend", async (request, reply, payload) => {
    await audit(platform, request, reply, payload);
    return payload;
  });

  app.setErrorHandler((error: FastifyError | UserError | Error, _request, reply) =>
    answerError(error, reply),
  );

  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send(
        errorBody(
          "RUNLET_NOT_FOUND",
          `No route ${request.method} ${request.url}; functions answer at /function/NAME, routes of HTTP triggers are listed by runlet trigger list, and the API is described at /api/v1/openapi.json`,
        ),
      ),
  );

  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/", async () => ({
    name: "runlet",
    invoke: "/function/{name}",
    invokeAsync: "/async-function/{name}",
    api: "/api/v1/openapi.json",
  }));
  app.get("/metrics", async (_request, reply) =>
    reply
      .header("content-type", metrics.registry.contentType)
      .send(await metrics.registry.metrics()),
  );
  app.get("/api/v1/openapi.json", async () => openapiDocument());
  registerOpenfaasRoutes(app, platform, metrics);
  registerNativeRoutes(app, platform);
  registerImageRoutes(app, platform);
  registerPackageArchiveRoute(app, platform);
  registerCallRoutes(app, platform);
  registerTriggerRoutes(app, platform);
  registerNamespaceRoutes(app, platform);
  registerMetricsHistoryRoutes(app, platform, history);
  registerRevisionRoutes(app, platform);
  registerLogEventRoutes(app, platform);
  registerTokenRoutes(app, platform);
  registerAuditRoutes(app, platform);
  registerDashboardRoutes(app);

  const port = options.port ?? 8080;
  const host = options.host ?? "127.0.0.1";
  try {
    await app.listen({ port, host });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EADDRINUSE") {
      throw new UserError(
        "RUNLET_PORT_IN_USE",
        `Port ${port} on ${host} is already in use (another runlet, or another server). Stop it, or pick another port: runlet up --port ${port + 1}`,
      );
    }
    throw error;
  }
  if (!server) {
    throw new Error("the gateway's HTTP server was not created");
  }
  const httpServer = server;
  const address = httpServer.address() as AddressInfo;
  const shownHost = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
  return {
    url: `${options.tls ? "https" : "http"}://${shownHost.includes(":") ? `[${shownHost}]` : shownHost}:${address.port}`,
    port: address.port,
    server: httpServer,
    async close(graceMs = 10_000) {
      history.stop();
      const closing = app.close();
      front.close();
      const deadline = Date.now() + graceMs;
      while (inFlight + front.inFlight > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      await platform.close(Math.max(0, deadline - Date.now()));
      httpServer.closeAllConnections();
      front.destroyAll();
      await closing;
    },
  };
}
