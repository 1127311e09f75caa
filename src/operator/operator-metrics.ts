/** The operator's Prometheus metrics: reconciles and their errors, queue depth, relists, leadership. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export interface OperatorMetrics {
  readonly registry: Registry;
  readonly reconciles: Counter<"controller" | "result">;
  readonly reconcileErrors: Counter<"controller">;
  readonly reconcileSeconds: Histogram<"controller">;
  readonly queueDepth: Gauge<"controller">;
  readonly leader: Gauge;
  readonly relists: Gauge<"resource">;
  readonly cachedObjects: Gauge<"resource">;
}

export function createOperatorMetrics(): OperatorMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "runlet_operator_" });
  return {
    registry,
    reconciles: new Counter({
      name: "runlet_operator_reconciles_total",
      help: "Reconciles finished, by controller and result (ok, requeue, error)",
      labelNames: ["controller", "result"] as const,
      registers: [registry],
    }),
    reconcileErrors: new Counter({
      name: "runlet_operator_reconcile_errors_total",
      help: "Reconciles that failed and were queued again after a back-off",
      labelNames: ["controller"] as const,
      registers: [registry],
    }),
    reconcileSeconds: new Histogram({
      name: "runlet_operator_reconcile_seconds",
      help: "How long one reconcile took",
      labelNames: ["controller"] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: "runlet_operator_queue_depth",
      help: "Keys waiting in a controller's work queue (ready or backing off)",
      labelNames: ["controller"] as const,
      registers: [registry],
    }),
    leader: new Gauge({
      name: "runlet_operator_leader",
      help: "1 while this replica holds the leader Lease and acts, else 0",
      registers: [registry],
    }),
    relists: new Gauge({
      name: "runlet_operator_informer_relists_after_gone",
      help: "Lists an informer made again because the server answered 410 Gone",
      labelNames: ["resource"] as const,
      registers: [registry],
    }),
    cachedObjects: new Gauge({
      name: "runlet_operator_cached_objects",
      help: "Objects in an informer's cache",
      labelNames: ["resource"] as const,
      registers: [registry],
    }),
  };
}
