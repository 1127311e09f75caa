/**
 * GET /api/v1/packages/:digest/archive: a package's archive for an instance that fetches its
 * own package (a pod in Kubernetes mode). It takes no admin token: only a package grant
 * (`Authorization: Bearer <grant>`), valid, unexpired and issued for this digest; anything
 * else is refused before the package's existence is told.
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import type { FastifyInstance } from "fastify";
import { errorBody } from "../../errors.js";
import { refusalMessage } from "../../packaging/package-grant.js";
import type { Platform } from "../../platform/platform.js";

/** The route's path pattern, which the admin check lets through (the grant is its check). */
export const packageArchivePath = /^\/api\/v1\/packages\/[^/]+\/archive$/;

export function registerPackageArchiveRoute(app: FastifyInstance, platform: Platform): void {
  app.get<{ Params: { digest: string } }>(
    "/api/v1/packages/:digest/archive",
    async (request, reply) => {
      const { digest } = request.params;
      const header = request.headers.authorization;
      const token = header?.startsWith("Bearer ")
        ? header.slice("Bearer ".length).trim()
        : undefined;
      const checked = platform.packageGrants.check(token, digest);
      if (!checked.ok) {
        const { refusal } = checked;
        return reply
          .code(refusal.status)
          .send(
            errorBody(
              refusal.status === 401 ? "RUNLET_UNAUTHORIZED" : "RUNLET_FORBIDDEN",
              refusalMessage(refusal),
            ),
          );
      }
      if (!platform.packages.has(digest)) {
        return reply
          .code(404)
          .send(errorBody("RUNLET_PACKAGE_NOT_FOUND", `Package ${digest} is not stored here.`));
      }
      const path = platform.packages.archivePath(digest);
      const { size } = await stat(path);
      return reply
        .header("content-type", "application/gzip")
        .header("content-length", size)
        .header("cache-control", "no-store")
        .send(createReadStream(path));
    },
  );
}
