/**
 * Prometheus metrics, with the OpenFaaS gateway names so existing dashboards and alert rules
 * work. One registry per platform (tests run several in one process).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { CallMetrics } from "./call-metrics.js";
import type { CallAttemptEvent } from "../calls/call-queue.js";
import type { ColdStartEvent } from "../executor/executor.js";
import type { Platform } from "../platform/platform.js";

export interface GatewayMetrics {
  readonly registry: Registry;
  /** Calls started, by status code, and their duration (the OpenFaaS gateway's metrics). */
  readonly calls: CallMetrics;
  readonly asyncAccepted: Counter<"function_name">;
}

export function createMetrics(platform: Platform): GatewayMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "runlet_process_" });
  const calls = new CallMetrics();
  calls.register(registry);
  const gauge = (
    name: string,
    help: string,
    pick: (s: ReturnType<Platform["executor"]["status"]>[number]) => number,
  ): void => {
    new Gauge({
      name,
      help,
      labelNames: ["function_name"] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const fn of platform.functions.list()) {
          const total = platform.executor.status(fn.name).reduce((sum, s) => sum + pick(s), 0);
          this.set({ function_name: fn.name }, total);
        }
      },
    });
  };
  gauge("gateway_service_count", "Instances (replicas) per function", (s) => s.replicas);
  gauge("runlet_function_ready_instances", "Ready instances per function", (s) => s.ready);
  gauge("runlet_function_inflight", "Calls in flight per function", (s) => s.inFlight);
  gauge("runlet_function_queue_depth", "Calls waiting for capacity per function", (s) => s.queued);
  gauge(
    "runlet_function_cold_starts",
    "Instances started per function since boot",
    (s) => s.coldStarts,
  );
  const coldStarts = new Histogram({
    name: "runlet_cold_start_seconds",
    help: "Time from needing an instance to its function being loaded, by source (pool: a warm generic instance was specialized; spawn: a process was started)",
    labelNames: ["function_name", "source"] as const,
    buckets: [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5],
    registers: [registry],
  });
  platform.events.on("coldStart", (event: ColdStartEvent) => {
    coldStarts.observe(
      { function_name: event.functionName, source: event.fromPool ? "pool" : "spawn" },
      event.ms / 1000,
    );
  });
  new Gauge({
    name: "runlet_warm_pool_idle",
    help: "Generic instances ready in the warm pool, per runtime",
    labelNames: ["runtime"] as const,
    registers: [registry],
    collect() {
      for (const pool of platform.executor.poolStatus()) {
        this.set({ runtime: pool.runtime }, pool.idle);
      }
    },
  });
  const asyncAccepted = new Counter({
    name: "runlet_async_calls_accepted_total",
    help: "Async calls stored (202) per function",
    labelNames: ["function_name"] as const,
    registers: [registry],
  });
  const asyncAttempts = new Counter({
    name: "runlet_async_call_attempts_total",
    help: "Async call attempts per function and outcome (succeeded, retry, failed, dead, interrupted)",
    labelNames: ["function_name", "outcome"] as const,
    registers: [registry],
  });
  platform.events.on("callAttempt", (event: CallAttemptEvent) => {
    asyncAttempts.inc({ function_name: event.functionName, outcome: event.outcome });
  });
  new Gauge({
    name: "runlet_async_calls",
    help: "Stored async calls per function and state (queued is the queue depth)",
    labelNames: ["function_name", "state"] as const,
    registers: [registry],
    async collect() {
      const counts = await platform.calls.counts();
      this.reset();
      for (const row of counts) {
        this.set({ function_name: row.functionName, state: row.state }, row.count);
      }
    },
  });
  return { registry, calls, asyncAccepted };
}
