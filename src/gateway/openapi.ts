/**
 * The OpenAPI document the server serves at /api/v1/openapi.json. Request schemas come from
 * the same zod schemas the handlers validate with, so the document cannot drift from them.
 */
import { z } from "zod";
import { errorCodes } from "../errors.js";
import { deployRequestSchema } from "../spec/function-spec.js";
import { triggerRequestSchema } from "../spec/trigger-spec.js";
import { VERSION } from "../version.js";
import { callsQuerySchema } from "./routes/calls.js";
import { logEventsQuerySchema } from "./routes/log-events.js";
import { historyQuerySchema, summaryQuerySchema } from "./routes/metrics-history.js";
import { configBodySchema, secretBodySchema } from "./keyed-values-body.js";
import { rollbackBodySchema, scaleBodySchema } from "./routes/revisions.js";
import { imageShapeSchema } from "../store/image-tag-store.js";

/** The body errorBody() writes (src/errors.ts), its codes the catalogue's. */
const errorSchema = {
  type: "object",
  properties: {
    error: {
      type: "object",
      properties: {
        code: { type: "string", enum: errorCodes },
        message: { type: "string" },
      },
      required: ["code", "message"],
    },
  },
  required: ["error"],
};

function jsonBody(schema: z.ZodType): Record<string, unknown> {
  return {
    required: true,
    content: {
      "application/json": {
        schema: z.toJSONSchema(schema, { target: "openapi-3.0", io: "input" }),
      },
    },
  };
}

const errors = {
  "400": {
    description: "Invalid request",
    content: { "application/json": { schema: errorSchema } },
  },
  "401": {
    description: "Missing or wrong admin token",
    content: { "application/json": { schema: errorSchema } },
  },
  "404": { description: "Not found", content: { "application/json": { schema: errorSchema } } },
};

/** A zod object of query parameters as OpenAPI parameters. */
function queryParameters(schema: z.ZodType): Record<string, unknown>[] {
  const json = z.toJSONSchema(schema, { target: "openapi-3.0", io: "input" }) as {
    properties?: Record<string, unknown>;
  };
  return Object.entries(json.properties ?? {}).map(([name, property]) => ({
    name,
    in: "query",
    schema: property,
  }));
}

const nameParam = { name: "name", in: "path", required: true, schema: { type: "string" } };
const namespaceParam = {
  name: "namespace",
  in: "path",
  required: true,
  schema: { type: "string" },
};

export function openapiDocument(): Record<string, unknown> {
  return {
    openapi: "3.0.3",
    info: {
      title: "Runlet API",
      version: VERSION,
      description:
        "Runlet's native control API. Invocation is `ANY /function/{name}[/path]`; durable async invocation is `POST /async-function/{name}[/path]` (see /api/v1/calls); OpenFaaS-compatible routes live under /system. Every control route acts in the namespace `?namespace=NAME` names (default `openfaas-fn`); functions of another namespace answer at `/function/{name}.{namespace}`.",
    },
    components: {
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer" },
        basic: {
          type: "http",
          scheme: "basic",
          description: "user `admin`, password: the admin token",
        },
      },
    },
    security: [{ bearer: [] }, { basic: [] }],
    paths: {
      "/api/v1/packages": {
        post: {
          summary:
            "Upload a function package (a .tar.gz of the source folder); stored by content hash",
          requestBody: {
            required: true,
            content: { "application/gzip": { schema: { type: "string", format: "binary" } } },
          },
          parameters: [
            { name: "X-Runlet-Digest", in: "header", required: false, schema: { type: "string" } },
          ],
          responses: {
            "200": { description: "Already stored" },
            "201": { description: "Stored" },
            "413": { description: "Too large" },
            ...errors,
          },
        },
      },
      "/api/v1/packages/{digest}": {
        head: {
          summary: "Whether a package is stored",
          parameters: [{ name: "digest", in: "path", required: true, schema: { type: "string" } }],
          responses: { "200": { description: "Stored" }, "404": { description: "Not stored" } },
        },
      },
      "/api/v1/packages/{digest}/archive": {
        get: {
          summary:
            "A package's archive, for an instance that fetches its own package (a pod): needs a package grant as the bearer token, not the admin token",
          security: [{ bearer: [] }],
          parameters: [{ name: "digest", in: "path", required: true, schema: { type: "string" } }],
          responses: {
            "200": {
              description: "The archive (its sha256 is the digest)",
              content: { "application/gzip": { schema: { type: "string", format: "binary" } } },
            },
            "401": { description: "No grant, or one that is forged, malformed or expired" },
            "403": { description: "A grant for another package" },
            "404": { description: "Not stored" },
          },
        },
      },
      "/api/v1/functions": {
        get: {
          summary: "List functions",
          responses: { "200": { description: "Functions" }, ...errors },
        },
      },
      "/api/v1/functions/{name}": {
        parameters: [nameParam],
        get: {
          summary: "Describe a function",
          responses: { "200": { description: "The function" }, ...errors },
        },
        put: {
          summary: "Deploy a function: creates a revision unless spec and package are unchanged",
          description:
            'Sources that need a build (npm dependencies, TypeScript, requirements.txt, Go) are built first. With `Accept: application/x-ndjson` the answer is 200 and streams one JSON object per line: build steps and tool output, then `{type: "result"}` or `{type: "error", status, error}` (422 RUNLET_BUILD_FAILED when the build fails).',
          requestBody: jsonBody(deployRequestSchema),
          responses: {
            "200": { description: "Updated or unchanged (or the NDJSON build stream)" },
            "201": { description: "Created" },
            ...errors,
          },
        },
        delete: {
          summary: "Remove a function",
          responses: { "204": { description: "Removed" }, ...errors },
        },
      },
      "/api/v1/functions/{name}/revisions": {
        parameters: [nameParam],
        get: {
          summary: "Revisions of a function",
          responses: { "200": { description: "Revisions" }, ...errors },
        },
      },
      "/api/v1/functions/{name}/rollback": {
        parameters: [nameParam],
        post: {
          summary:
            "Activate an earlier revision (default: the one before the active revision); its code is loaded first, so one that does not start leaves the active revision serving",
          requestBody: { ...jsonBody(rollbackBodySchema), required: false },
          responses: { "200": { description: "{name, revision, outcome}" }, ...errors },
        },
      },
      "/api/v1/functions/{name}/scale": {
        parameters: [nameParam],
        post: {
          summary:
            "Set scale.min and/or scale.max: a new revision of the active package, nothing rebuilt",
          requestBody: jsonBody(scaleBodySchema),
          responses: { "200": { description: "{name, revision, outcome}" }, ...errors },
        },
      },
      "/api/v1/functions/{name}/logs/events": {
        parameters: [nameParam, ...queryParameters(logEventsQuerySchema)],
        get: {
          summary:
            "Logs as server-sent events: the stored tail (200 lines, or `tail`), an `event: live`, then new lines; each `event: log` carries the line as JSON",
          responses: { "200": { description: "text/event-stream" }, ...errors },
        },
      },
      "/api/v1/metrics/history": {
        parameters: queryParameters(historyQuerySchema),
        get: {
          summary:
            "The last hour (5 s points) or day (5 min points) of a function, or of the platform without `function`: requests/s by status class (ok, clientErrors, serverErrors), p50Ms, p99Ms, coldStarts, replicas, inFlight, column by column with `times` in epoch seconds",
          responses: {
            "200": { description: "{function, range, stepSeconds, times, series}" },
            ...errors,
          },
        },
      },
      "/api/v1/metrics/summary": {
        parameters: queryParameters(summaryQuerySchema),
        get: {
          summary:
            "Every function's requests/s, error rate (5xx share), p50/p99 and cold starts over the last `window` seconds (default 60), with its replicas and calls in flight now; and the platform's",
          responses: { "200": { description: "{windowSeconds, platform, functions}" }, ...errors },
        },
      },
      "/api/v1/functions/{name}/logs": {
        parameters: [
          nameParam,
          { name: "tail", in: "query", schema: { type: "integer" } },
          { name: "follow", in: "query", schema: { type: "boolean" } },
          { name: "since", in: "query", schema: { type: "string", format: "date-time" } },
        ],
        get: {
          summary: "Logs as NDJSON",
          responses: { "200": { description: "application/x-ndjson" }, ...errors },
        },
      },
      "/async-function/{name}": {
        parameters: [
          nameParam,
          {
            name: "X-Callback-Url",
            in: "header",
            required: false,
            description:
              "http(s) URL the result is POSTed to when the call finishes; loopback, private, link-local and other non-public addresses are refused (400 when written literally) unless the platform allows them (--callback-allow)",
            schema: { type: "string", format: "uri" },
          },
          {
            name: "X-Call-Id",
            in: "header",
            required: false,
            description:
              "Caller-chosen call id; enqueueing the same id again returns the stored call",
            schema: { type: "string", pattern: "^[\\w.:-]{1,128}$" },
          },
        ],
        post: {
          summary:
            "Queue a call durably and answer at once; the function runs with retries, and its result is kept and optionally POSTed to X-Callback-Url. Sub-paths (`/async-function/{name}/a/b?q=1`) reach the function as its path. Public unless the function sets auth: required.",
          security: [],
          requestBody: {
            required: false,
            content: { "*/*": { schema: { type: "string", format: "binary" } } },
          },
          responses: {
            "202": {
              description: "Stored; X-Call-Id and Location name the call",
              content: {
                "application/json": {
                  schema: {
                    type: "object",
                    properties: {
                      callId: { type: "string" },
                      state: { type: "string" },
                      status: { type: "string" },
                    },
                  },
                },
              },
            },
            "409": { description: "X-Call-Id already used for another function" },
            "413": { description: "Body over the function's maxBody" },
            ...errors,
          },
        },
      },
      "/api/v1/calls": {
        get: {
          summary: "Recent async calls, newest first, without result bodies",
          parameters: Object.keys(callsQuerySchema.shape).map((name) => ({
            name,
            in: "query",
            required: false,
            schema: z.toJSONSchema(
              callsQuerySchema.shape[name as keyof typeof callsQuerySchema.shape],
              {
                target: "openapi-3.0",
                io: "input",
              },
            ),
          })),
          responses: { "200": { description: "Calls" }, ...errors },
        },
      },
      "/api/v1/calls/{id}": {
        parameters: [{ name: "id", in: "path", required: true, schema: { type: "string" } }],
        get: {
          summary:
            "An async call: state (queued, running, succeeded, failed, dead), attempts, timings, status code, last error, callback delivery and the stored result",
          responses: { "200": { description: "The call" }, ...errors },
        },
      },
      "/api/v1/secrets": {
        get: {
          summary: "List secrets (names only)",
          responses: { "200": { description: "Secrets" }, ...errors },
        },
      },
      "/api/v1/secrets/{name}": {
        parameters: [nameParam],
        put: {
          summary:
            "Create or replace a secret: one value (value, or valueBase64 for any bytes) or keys (data, each base64)",
          requestBody: jsonBody(secretBodySchema),
          responses: {
            "200": { description: "Replaced" },
            "201": { description: "Created" },
            ...errors,
          },
        },
        delete: {
          summary: "Remove a secret",
          responses: { "204": { description: "Removed" }, ...errors },
        },
      },
      "/api/v1/configs": {
        get: {
          summary: "List config maps (names and keys)",
          responses: { "200": { description: "Config maps" }, ...errors },
        },
      },
      "/api/v1/configs/{name}": {
        parameters: [nameParam],
        get: {
          summary: "A config map's keys and values (each base64)",
          responses: { "200": { description: "The config map" }, ...errors },
        },
        put: {
          summary: "Create or replace a config map: values that are not secret, read as files",
          requestBody: jsonBody(configBodySchema),
          responses: {
            "200": { description: "Replaced" },
            "201": { description: "Created" },
            ...errors,
          },
        },
        delete: {
          summary: "Remove a config map no function uses",
          responses: { "204": { description: "Removed" }, ...errors },
        },
      },
      "/api/v1/images": {
        get: {
          summary:
            "List image tags: image names (as stack files write them) standing for a package and its runtime, and the functions an OpenFaaS deploy of each made",
          responses: { "200": { description: "Image tags" }, ...errors },
        },
      },
      "/api/v1/images/{image}": {
        parameters: [
          {
            name: "image",
            in: "path",
            required: true,
            description:
              "The image name, slashes included (`/api/v1/images/docker.io/me/hello:0.1`); a missing tag is latest, and `docker.io/`, `library/` are dropped",
            schema: { type: "string" },
          },
        ],
        get: {
          summary: "An image tag",
          responses: { "200": { description: "The tag" }, ...errors },
        },
        put: {
          summary:
            "Tag an uploaded package as this image (what runlet push does), so an OpenFaaS deploy of the image deploys the package; a retag changes no function already deployed",
          requestBody: jsonBody(
            imageShapeSchema.extend({
              package: z.string().describe("digest of an uploaded package (sha256:…)"),
            }),
          ),
          responses: {
            "200": { description: "Retagged" },
            "201": { description: "Tagged" },
            ...errors,
          },
        },
        delete: {
          summary: "Remove an image tag; functions deployed from it keep their package",
          responses: { "204": { description: "Removed" }, ...errors },
        },
      },
      "/api/v1/triggers": {
        get: {
          summary:
            "List triggers: HTTP routes, cron schedules and NATS subjects (docs/triggers.md)",
          responses: { "200": { description: "Triggers" }, ...errors },
        },
        post: {
          summary: "Create a standalone trigger for a function",
          requestBody: jsonBody(triggerRequestSchema),
          responses: {
            "201": { description: "Created" },
            "409": {
              description: "The name exists, or the route is served by another trigger",
              content: { "application/json": { schema: errorSchema } },
            },
            ...errors,
          },
        },
      },
      "/api/v1/namespaces": {
        get: {
          summary: "The namespaces in use, each with its use and quota (admin token)",
          responses: { "200": { description: "Namespaces" }, ...errors },
        },
      },
      "/api/v1/namespaces/{namespace}": {
        parameters: [namespaceParam],
        get: {
          summary: "A namespace's use (functions, instances, their memory) and its quota",
          responses: { "200": { description: "The namespace" }, ...errors },
        },
      },
      "/api/v1/namespaces/{namespace}/quota": {
        parameters: [namespaceParam],
        put: {
          summary:
            "Set the namespace's quota (admin token): most functions, instances and instance memory",
          requestBody: {
            required: true,
            content: {
              "application/json": {
                schema: {
                  type: "object",
                  properties: {
                    functions: { type: "integer", minimum: 0 },
                    instances: { type: "integer", minimum: 0 },
                    memory: { type: "string", example: "2Gi" },
                  },
                },
              },
            },
          },
          responses: { "200": { description: "The namespace with its quota" }, ...errors },
        },
        delete: {
          summary: "Remove the namespace's quota (admin token)",
          responses: { "204": { description: "Removed" }, ...errors },
        },
      },
      "/api/v1/triggers/{name}": {
        parameters: [nameParam],
        get: {
          summary: "Describe a trigger",
          responses: { "200": { description: "The trigger" }, ...errors },
        },
        delete: {
          summary: "Remove a standalone trigger (spec triggers go with their function's spec)",
          responses: { "204": { description: "Removed" }, ...errors },
        },
      },
    },
  };
}
