/**
 * The OpenFaaS gateway routes with OpenFaaS field names, so faas-cli and other OpenFaaS
 * clients work against Runlet. `image` names a package uploaded through /api/v1/packages
 * (sha256:<hex>) or an image name tagged by `runlet push` (openfaas-image.ts): there is no
 * image registry here.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import { UserError, errorBody } from "../../errors.js";
import type { Platform } from "../../platform/platform.js";
import {
  parseFunctionSpec,
  type DeployRequest,
  deployRequestSchema,
} from "../../spec/function-spec.js";
import { splitQualifiedName } from "../../spec/namespaces.js";
import { inRequestNamespace, keyIn } from "../namespaced.js";
import { openfaasLangs } from "../../spec/openfaas-stack.js";
import {
  resolveImage,
  imageAnnotation,
  packageSourceAnnotation,
  type ImageResolution,
} from "../openfaas-image.js";
import { singleValue } from "../../store/secret-store.js";
import { VERSION } from "../../version.js";
import type { GatewayMetrics } from "../metrics.js";
import { openfaasStatus } from "../views.js";
import { sinceMs, sinceParam, streamLogs, tailParam } from "./logs.js";

const functionDeploymentSchema = z.object({
  service: z.string(),
  image: z.string(),
  namespace: z.string().optional(),
  envProcess: z.string().optional(),
  envVars: z.record(z.string(), z.string()).optional(),
  secrets: z.array(z.string()).optional(),
  // Older Go clients send null for "none".
  labels: z.record(z.string(), z.string()).nullish(),
  annotations: z.record(z.string(), z.string()).nullish(),
  limits: z.object({ memory: z.string().optional(), cpu: z.string().optional() }).optional(),
  requests: z.object({ memory: z.string().optional(), cpu: z.string().optional() }).optional(),
});
export type FunctionDeployment = z.infer<typeof functionDeploymentSchema>;

const secretSchema = z.object({
  name: z.string(),
  namespace: z.string().optional(),
  value: z.string().optional(),
  rawValue: z.string().optional(),
});

const scaleRequestSchema = z.object({
  serviceName: z.string().optional(),
  namespace: z.string().optional(),
  replicas: z.number().int().min(0).max(1000),
});

const logsQuerySchema = z.object({
  name: z.string().min(1),
  namespace: z.string().optional(),
  instance: z.string().optional(),
  tail: tailParam.optional(),
  follow: z.enum(["true", "false", "1", "0"]).optional(),
  since: sinceParam.optional(),
});

/**
 * Maps an OpenFaaS FunctionDeployment onto Runlet's deploy request. `resolved` is what its
 * image turned out to be (a package, or an envProcess run on the host); without it the image
 * must be a package digest.
 */
export function fromFunctionDeployment(
  body: FunctionDeployment,
  resolved?: ImageResolution,
): DeployRequest {
  const labels = body.labels ?? {};
  const annotations = body.annotations ?? {};
  // The template's lang (a label or annotation) picks the handler shape, as stack.yml's does.
  const langName =
    annotations["com.runlet.lang"] ??
    labels["com.runlet.lang"] ??
    annotations["com.openfaas.lang"] ??
    labels["com.openfaas.lang"];
  const lang = langName === undefined ? undefined : openfaasLangs[langName];
  if (langName !== undefined && lang === undefined) {
    throw new UserError(
      "RUNLET_INVALID_REQUEST",
      `Unknown lang ${JSON.stringify(langName)}; known langs: ${Object.keys(openfaasLangs).join(", ")}.`,
    );
  }
  const scale: Record<string, number> = {};
  const min = labels["com.openfaas.scale.min"];
  const max = labels["com.openfaas.scale.max"];
  if (min !== undefined) {
    scale["min"] = Number(min);
  }
  if (max !== undefined) {
    scale["max"] = Number(max);
  }
  if (labels["com.openfaas.scale.zero"] === "true") {
    scale["min"] = 0;
  } else if (labels["com.openfaas.scale.zero"] === "false") {
    scale["min"] = Math.max(1, scale["min"] ?? 1);
  }
  const fromHost = resolved?.kind === "envProcess" ? resolved : undefined;
  // A tagged image brings the shape its push recorded, as an image brings its entrypoint.
  const fromTag = resolved?.kind === "tag" ? resolved : undefined;
  const shape = fromHost
    ? { runtime: "exec", command: fromHost.command, mode: "stdio" }
    : fromTag
      ? {
          ...fromTag.shape,
          ...(annotations["com.runlet.runtime"] === undefined
            ? {}
            : { runtime: annotations["com.runlet.runtime"] }),
          ...(annotations["com.runlet.handler"] === undefined
            ? {}
            : { handler: annotations["com.runlet.handler"] }),
        }
      : {
          runtime: annotations["com.runlet.runtime"] ?? lang?.runtime ?? "node",
          handler: annotations["com.runlet.handler"] ?? lang?.handler,
          ...(lang === undefined ? {} : { compat: lang.compat ?? "openfaas" }),
        };
  return parseFunctionSpec(
    deployRequestSchema,
    {
      ...shape,
      package: resolved?.digest ?? body.image,
      env: body.envVars,
      secrets: body.secrets,
      memory: body.limits?.memory,
      labels,
      annotations:
        resolved?.kind === "envProcess"
          ? {
              ...annotations,
              [imageAnnotation]: body.image,
              [packageSourceAnnotation]: "envProcess",
            }
          : resolved?.kind === "tag"
            ? {
                ...annotations,
                [imageAnnotation]: resolved.image,
                [packageSourceAnnotation]: "tag",
              }
            : annotations,
      ...(Object.keys(scale).length > 0 ? { scale } : {}),
    },
    "function deployment",
  );
}

export function registerOpenfaasRoutes(
  app: FastifyInstance,
  platform: Platform,
  metrics: GatewayMetrics,
): void {
  app.get("/system/info", async () => ({
    provider: {
      provider: "runlet",
      orchestration: platform.provider.name,
      version: { release: VERSION, sha: VERSION },
    },
    // Clients check that sha is set; there is no build commit to give, so the release stands in.
    version: { release: VERSION, sha: VERSION, commit_message: `runlet ${VERSION}` },
    arch: process.arch === "x64" ? "x86_64" : process.arch,
  }));

  app.get("/system/namespaces", async () => platform.namespaces());

  app.get("/system/functions", async (request) => {
    const counts = metrics.calls.counts();
    const inNamespace = inRequestNamespace(request);
    return platform
      .list()
      .filter((fn) => inNamespace(fn.name))
      .map((fn) => openfaasStatus(fn, counts.get(fn.name) ?? 0));
  });

  app.get<{ Params: { name: string } }>("/system/function/:name", async (request) =>
    openfaasStatus(platform.get(keyIn(request, request.params.name))),
  );

  const deploy = async (request: FastifyRequest, mustExist: boolean): Promise<void> => {
    const deployment = parseFunctionSpec(
      functionDeploymentSchema,
      request.body,
      "function deployment",
    );
    const key = keyIn(request, deployment.service);
    if (mustExist) {
      platform.get(key);
    }
    const resolved = await resolveImage(platform, deployment.image, deployment.envProcess);
    await platform.deploy(key, fromFunctionDeployment(deployment, resolved));
  };
  app.post("/system/functions", async (request, reply) => {
    await deploy(request, false);
    return reply.code(202).send();
  });
  app.put("/system/functions", async (request, reply) => {
    await deploy(request, true);
    return reply.code(202).send();
  });
  app.delete("/system/functions", async (request, reply) => {
    const body = parseFunctionSpec(
      z.object({ functionName: z.string(), namespace: z.string().optional() }),
      request.body,
      "delete request",
    );
    await platform.remove(keyIn(request, body.functionName));
    return reply.code(202).send();
  });

  app.get("/system/secrets", async (request) => {
    const inNamespace = inRequestNamespace(request);
    return platform.secrets
      .list()
      .filter((secret) => inNamespace(secret.name))
      .map((secret) => splitQualifiedName(secret.name));
  });
  const putSecret = async (request: FastifyRequest, mustExist: boolean): Promise<void> => {
    const secret = parseFunctionSpec(secretSchema, request.body, "secret");
    const key = keyIn(request, secret.name, "secret");
    const exists = platform.secrets.has(key);
    if (mustExist && !exists) {
      throw new UserError("RUNLET_SECRET_NOT_FOUND", `Secret ${secret.name} does not exist.`);
    }
    if (!mustExist && exists) {
      throw new UserError(
        "RUNLET_ALREADY_EXISTS",
        `Secret ${secret.name} already exists; update it with PUT /system/secrets (faas-cli secret update).`,
      );
    }
    // rawValue is bytes: kept as they are, not read as text (faas-cli --from-file of a key file).
    const value =
      secret.rawValue !== undefined ? Buffer.from(secret.rawValue, "base64") : secret.value;
    if (value === undefined) {
      throw new UserError(
        "RUNLET_INVALID_REQUEST",
        "A secret needs a value (or rawValue, base64).",
      );
    }
    await platform.secrets.put(key, singleValue(secret.name, value));
  };
  app.post("/system/secrets", async (request, reply) => {
    await putSecret(request, false);
    return reply.code(201).send();
  });
  app.put("/system/secrets", async (request, reply) => {
    await putSecret(request, true);
    return reply.code(200).send();
  });
  app.delete("/system/secrets", async (request, reply) => {
    const secret = parseFunctionSpec(secretSchema, request.body, "secret");
    await platform.removeSecret(keyIn(request, secret.name, "secret"));
    // 202 as faas-netes answers; faas-cli takes no other success status here.
    return reply.code(202).send();
  });

  /**
   * OpenFaaS sets a function's replica count; here that is the number of instances kept
   * running (`scale.min`), 0 letting it scale to zero, with `scale.max` raised to fit.
   */
  app.post<{ Params: { name: string } }>("/system/scale-function/:name", async (request, reply) => {
    const { replicas } = parseFunctionSpec(scaleRequestSchema, request.body, "scale request");
    const key = keyIn(request, request.params.name);
    const current = platform.get(key);
    await platform.scale(key, {
      min: replicas,
      max: Math.max(replicas, current.config.scale.max),
    });
    return reply.code(202).send();
  });

  app.get("/system/logs", async (request, reply) => {
    const parsed = logsQuerySchema.safeParse(request.query);
    if (!parsed.success) {
      const problems = parsed.error.issues.map(
        (issue) => `${issue.path.join(".")}: ${issue.message}`,
      );
      // 422 as OpenFaaS's own gateway answers a logs query it cannot use.
      return reply
        .code(422)
        .send(
          errorBody(
            "RUNLET_INVALID_REQUEST",
            `logs need ?name=FUNCTION; tail is a number, follow true|false, since RFC 3339 (${problems.join("; ")})`,
          ),
        );
    }
    const query = parsed.data;
    const key = keyIn(request, query.name);
    platform.get(key);
    streamLogs(platform, reply, {
      name: key,
      tail: query.tail,
      since: sinceMs(query.since),
      follow: query.follow === "true" || query.follow === "1",
      instance: query.instance,
      format: (line) => ({
        ...splitQualifiedName(line.functionName ?? key),
        instance: line.instance,
        timestamp: new Date(line.time).toISOString(),
        text: line.text,
      }),
    });
  });
}
