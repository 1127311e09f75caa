/**
 * The gateway's second listener in Kubernetes mode: only the grant-checked package archive
 * route (and a health check). Function pods fetch their packages here; a NetworkPolicy opens
 * this port to them and keeps the API port closed, so a hostile function that learns the
 * gateway's address still reaches nothing but packages it holds a grant for.
 */
import Fastify, { type FastifyInstance } from "fastify";
import { errorBody } from "../errors.js";
import type { Platform } from "../platform/platform.js";
import { errorReply } from "./error-reply.js";
import { registerPackageArchiveRoute } from "./routes/package-archive.js";

export interface PackageServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function startPackageServer(options: {
  readonly platform: Platform;
  readonly port: number;
  readonly host: string;
  readonly onInternalError: (error: unknown) => void;
}): Promise<PackageServer> {
  const answerError = errorReply(options.onInternalError);
  const app: FastifyInstance = Fastify({
    // A hostile pod's malformed request is its mistake (4xx), not an internal error.
    frameworkErrors: (error, _request, reply) => answerError(error, reply),
    logger: false,
    maxParamLength: 200,
  });
  app.setErrorHandler((error: Error, _request, reply) => answerError(error, reply));
  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send(
        errorBody(
          "RUNLET_NOT_FOUND",
          `No route ${request.method} ${request.url} on the package port: it serves only GET /api/v1/packages/DIGEST/archive (with a package grant); the API is on the gateway's main port`,
        ),
      ),
  );
  app.get("/healthz", async () => ({ status: "ok" }));
  registerPackageArchiveRoute(app, options.platform);
  await app.listen({ port: options.port, host: options.host });
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  const host = options.host === "0.0.0.0" ? "127.0.0.1" : options.host;
  return {
    url: `http://${host}:${port}`,
    port,
    close: () => app.close(),
  };
}
