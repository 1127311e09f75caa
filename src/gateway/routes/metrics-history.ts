/**
 * The metrics history over HTTP (issue 20): `GET /api/v1/metrics/history` for charts over the
 * last hour or day, `GET /api/v1/metrics/summary` for the live numbers of every function (the
 * dashboard's list, `runlet top`). Admin only, like the rest of /api/v1.
 */
import { inRequestNamespace, keyIn, namespaceQueryParam } from "../namespaced.js";
import { splitQualifiedName } from "../../spec/namespaces.js";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { Platform } from "../../platform/platform.js";
import { parseFunctionSpec } from "../../spec/function-spec.js";
import type { CallMetrics } from "../call-metrics.js";
import { MetricsHistory, type LoadSummary } from "../metrics-history.js";

export interface MetricsHistoryRouteOptions {
  /** Milliseconds between two points of the last hour. @default 5000 */
  readonly stepMs?: number;
}

export const historyQuerySchema = z.strictObject({
  namespace: namespaceQueryParam,
  function: z.string().min(1).optional(),
  range: z.enum(["hour", "day"]).optional(),
});

export const summaryQuerySchema = z.strictObject({
  namespace: namespaceQueryParam,
  window: z.coerce
    .number({ message: "window must be a number of seconds, e.g. window=60" })
    .int({ message: "window must be a whole number of seconds" })
    .min(1, { message: "window must be at least 1 second" })
    .max(120, { message: "window must be at most 120 seconds" })
    .optional(),
});

/** A history fed by the gateway's call numbers and the executor; stepping until stop(). */
export function startMetricsHistory(
  platform: Platform,
  calls: CallMetrics,
  options: MetricsHistoryRouteOptions = {},
): MetricsHistory {
  const history = new MetricsHistory({
    clock: platform.clock,
    stepMs: options.stepMs,
    source: {
      calls: () => calls.totals(),
      functionNames: () => platform.functions.list().map((fn) => fn.name),
      load: (name) => loadOf(platform, name),
    },
  });
  platform.events.on("coldStart", (event: { functionName: string }) =>
    history.coldStart(event.functionName),
  );
  history.start();
  return history;
}

function loadOf(platform: Platform, name: string): { replicas: number; inFlight: number } {
  let replicas = 0;
  let inFlight = 0;
  for (const status of platform.executor.status(name)) {
    replicas += status.replicas;
    inFlight += status.inFlight;
  }
  return { replicas, inFlight };
}

const noLoad: LoadSummary = {
  requestsPerSecond: 0,
  errorRate: 0,
  p50Ms: null,
  p99Ms: null,
  coldStarts: 0,
};

export function registerMetricsHistoryRoutes(
  app: FastifyInstance,
  platform: Platform,
  history: MetricsHistory,
): void {
  app.get("/api/v1/metrics/history", async (request) => {
    const query = parseFunctionSpec(historyQuerySchema, request.query, "metrics history query");
    const range = query.range ?? "hour";
    const key = query.function === undefined ? undefined : keyIn(request, query.function);
    if (key !== undefined) {
      // A function that is not deployed is a 404, one deployed since the last step has no points.
      platform.get(key);
    }
    return (
      history.view(key, range) ?? {
        function: query.function,
        range,
        stepSeconds: history.stepMs / 1000,
        times: [],
        series: {},
      }
    );
  });

  app.get("/api/v1/metrics/summary", async (request) => {
    const query = parseFunctionSpec(summaryQuerySchema, request.query, "metrics summary query");
    const windowMs = (query.window ?? 60) * 1000;
    let replicas = 0;
    let inFlight = 0;
    const inNamespace = inRequestNamespace(request);
    const functions = platform
      .list()
      .filter((fn) => inNamespace(fn.name))
      .map((fn) => {
        const load = loadOf(platform, fn.name);
        replicas += load.replicas;
        inFlight += load.inFlight;
        return {
          ...splitQualifiedName(fn.name),
          revision: fn.revision,
          runtime: fn.config.runtime,
          replicas: load.replicas,
          availableReplicas: fn.availableReplicas,
          inFlight: load.inFlight,
          ...(history.summary(fn.name, windowMs) ?? noLoad),
        };
      });
    return {
      windowSeconds: windowMs / 1000,
      stepSeconds: history.stepMs / 1000,
      platform: { replicas, inFlight, ...(history.summary(undefined, windowMs) ?? noLoad) },
      functions,
    };
  });
}
