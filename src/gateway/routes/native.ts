/** Runlet's native API under /api/v1: packages (source uploads), functions, revisions, secrets, config maps, logs. */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { UserError } from "../../errors.js";
import type { FunctionView, Platform } from "../../platform/platform.js";
import { deployRequestSchema, parseFunctionSpec } from "../../spec/function-spec.js";
import { splitQualifiedName } from "../../spec/namespaces.js";
import { deployAnswer, nativeView } from "../views.js";
import { inRequestNamespace, keyIn, triggerView } from "../namespaced.js";
import { sinceMs, sinceParam, streamLogs, tailParam } from "./logs.js";
import { streamDeploy, wantsDeployStream } from "./deploy-stream.js";
import { configValuesOf, encodedData, secretValuesOf } from "../keyed-values-body.js";
import { configNotFound } from "../../store/config-store.js";

export const logsQuerySchema = z.object({
  tail: tailParam.optional(),
  follow: z.enum(["true", "false", "1", "0"]).optional(),
  since: sinceParam.optional(),
  instance: z.string().optional(),
});

export function registerNativeRoutes(app: FastifyInstance, platform: Platform): void {
  // 200 only for a package whose tree still matches its digest: a client that skips the upload
  // on 200 uploads a changed package again, which replaces it (issue 13, item 11).
  app.head<{ Params: { digest: string } }>("/api/v1/packages/:digest", async (request, reply) =>
    reply.code((await platform.packages.intact(request.params.digest)) ? 200 : 404).send(),
  );

  app.post("/api/v1/packages", async (request, reply) => {
    if (!Buffer.isBuffer(request.body)) {
      throw new UserError(
        "RUNLET_INVALID_REQUEST",
        "Send the package as the request body with Content-Type: application/gzip (a .tar.gz of the source folder).",
      );
    }
    const expected = request.headers["x-runlet-digest"];
    const stored = await platform.packages.put(
      request.body,
      typeof expected === "string" ? expected : undefined,
    );
    return reply.code(stored.created ? 201 : 200).send(stored);
  });

  app.get("/api/v1/functions", async (request) => {
    const inNamespace = inRequestNamespace(request);
    return platform
      .list()
      .filter((fn) => inNamespace(fn.name))
      .map((fn) => nativeView(fn));
  });

  app.get<{ Params: { name: string }; Querystring: { scope?: string } }>(
    "/api/v1/functions/:name",
    async (request) => {
      const key = keyIn(request, request.params.name);
      const fn = platform.get(key);
      const view = nativeView(
        fn,
        // Triggers calling this function, or one of its revisions ("hello@3").
        platform.triggers
          .list()
          .filter((t) => t.function.replace(/@\d+$/, "") === key)
          .map(triggerView),
      );
      // `scope=replica`: this replica's instances only (what the others ask each other).
      return request.query.scope === "replica" || !platform.replicas
        ? view
        : withOtherReplicas(platform, fn, view);
    },
  );

  app.put<{ Params: { name: string } }>("/api/v1/functions/:name", async (request, reply) => {
    const key = keyIn(request, request.params.name);
    const body = parseFunctionSpec(deployRequestSchema, request.body, "function spec");
    if (wantsDeployStream(request)) {
      return streamDeploy(platform, key, body, request, reply);
    }
    const result = await platform.deploy(key, body);
    return reply.code(result.outcome === "created" ? 201 : 200).send(deployAnswer(result));
  });

  app.delete<{ Params: { name: string } }>("/api/v1/functions/:name", async (request, reply) => {
    await platform.remove(keyIn(request, request.params.name));
    return reply.code(204).send();
  });

  app.get<{ Params: { name: string } }>("/api/v1/functions/:name/revisions", async (request) =>
    platform.revisions(keyIn(request, request.params.name)).map((revision) => ({
      revision: revision.number,
      package: revision.packageDigest,
      spec: revision.spec,
      createdAt: new Date(revision.createdAt).toISOString(),
    })),
  );

  app.get<{ Params: { name: string } }>("/api/v1/functions/:name/logs", async (request, reply) => {
    const query = parseFunctionSpec(logsQuerySchema, request.query, "logs query");
    const key = keyIn(request, request.params.name);
    platform.get(key);
    streamLogs(platform, reply, {
      name: key,
      tail: query.tail,
      since: sinceMs(query.since),
      follow: query.follow === "true" || query.follow === "1",
      instance: query.instance,
      format: (line) => ({
        time: new Date(line.time).toISOString(),
        instance: line.instance,
        callId: line.callId,
        stream: line.stream,
        text: line.text,
      }),
    });
  });

  app.get("/api/v1/secrets", async (request) => {
    const inNamespace = inRequestNamespace(request);
    return platform.secrets
      .list()
      .filter((secret) => inNamespace(secret.name))
      .map((secret) => ({
        ...splitQualifiedName(secret.name),
        createdAt: new Date(secret.createdAt).toISOString(),
        updatedAt: new Date(secret.updatedAt).toISOString(),
      }));
  });

  app.put<{ Params: { name: string } }>("/api/v1/secrets/:name", async (request, reply) => {
    const key = keyIn(request, request.params.name, "secret");
    const values = secretValuesOf(request.params.name, request.body);
    const { created } = await platform.secrets.put(key, values);
    return reply.code(created ? 201 : 200).send({ name: request.params.name, created });
  });

  app.delete<{ Params: { name: string } }>("/api/v1/secrets/:name", async (request, reply) => {
    await platform.removeSecret(keyIn(request, request.params.name, "secret"));
    return reply.code(204).send();
  });

  app.get("/api/v1/configs", async (request) => {
    const inNamespace = inRequestNamespace(request);
    return platform.configs
      .list()
      .filter((config) => inNamespace(config.name))
      .map((config) => ({
        ...splitQualifiedName(config.name),
        keys: config.keys,
        createdAt: new Date(config.createdAt).toISOString(),
        updatedAt: new Date(config.updatedAt).toISOString(),
      }));
  });

  app.get<{ Params: { name: string } }>("/api/v1/configs/:name", async (request) => {
    const values = platform.configs.get(keyIn(request, request.params.name, "config map"));
    if (!values) {
      throw configNotFound(request.params.name);
    }
    return { name: request.params.name, data: encodedData(values) };
  });

  app.put<{ Params: { name: string } }>("/api/v1/configs/:name", async (request, reply) => {
    const { created } = await platform.configs.put(
      keyIn(request, request.params.name, "config map"),
      configValuesOf(request.body),
    );
    return reply.code(created ? 201 : 200).send({ name: request.params.name, created });
  });

  app.delete<{ Params: { name: string } }>("/api/v1/configs/:name", async (request, reply) => {
    await platform.removeConfig(keyIn(request, request.params.name, "config map"));
    return reply.code(204).send();
  });
}

/** How long a view waits for another replica's instances before it leaves them out. */
const replicaViewTimeoutMs = 2000;

/**
 * A function's view with every gateway replica's instances (Kubernetes mode): each runs its
 * own, so the others are asked for theirs; one that does not answer in time is left out and
 * named in `unreachableReplicas`.
 */
async function withOtherReplicas(
  platform: Platform,
  own: FunctionView,
  view: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const directory = platform.replicas;
  const others = directory ? await directory.others().catch(() => []) : [];
  type Instances = Pick<FunctionView, "replicas" | "availableReplicas"> & {
    instances: object[];
  };
  const { name, namespace } = splitQualifiedName(own.name);
  const answers = await Promise.all(
    others.map(async (other) => {
      try {
        const response = await fetch(
          `${other.url}/api/v1/functions/${encodeURIComponent(name)}?scope=replica&namespace=${namespace}`,
          {
            headers: { authorization: `Bearer ${platform.adminToken}` },
            signal: AbortSignal.timeout(replicaViewTimeoutMs),
          },
        );
        return response.ok ? { other, view: (await response.json()) as Instances } : { other };
      } catch {
        return { other };
      }
    }),
  );
  const tagged = (instances: readonly object[], gateway: string | undefined) =>
    instances.map((instance) => (gateway === undefined ? instance : { ...instance, gateway }));
  return {
    ...view,
    replicas: answers.reduce((sum, a) => sum + (a.view?.replicas ?? 0), own.replicas),
    availableReplicas: answers.reduce(
      (sum, a) => sum + (a.view?.availableReplicas ?? 0),
      own.availableReplicas,
    ),
    instances: [
      ...tagged(own.instances, directory?.self),
      ...answers.flatMap((a) => tagged(a.view?.instances ?? [], a.other.name)),
    ],
    unreachableReplicas: answers.filter((a) => !a.view).map((a) => a.other.name),
  };
}
