/** How functions look on the wire: OpenFaaS' FunctionStatus and Runlet's native view. */
import type { FunctionView } from "../platform/platform.js";
import { describeConfig } from "../spec/function-spec.js";
import { formatSize } from "../spec/units.js";

export function openfaasStatus(
  fn: FunctionView,
  invocationCount?: number,
): Record<string, unknown> {
  return {
    name: fn.name,
    image: fn.packageDigest,
    namespace: "default",
    envProcess: "",
    envVars: fn.config.env,
    secrets: fn.config.secrets,
    labels: fn.config.labels,
    annotations: {
      ...fn.config.annotations,
      "com.runlet.runtime": fn.config.runtime,
      "com.runlet.handler": fn.config.handler,
      "com.runlet.revision": String(fn.revision),
    },
    limits: { memory: formatSize(fn.config.memoryBytes) },
    replicas: fn.replicas,
    availableReplicas: fn.availableReplicas,
    ...(invocationCount === undefined ? {} : { invocationCount }),
    createdAt: new Date(fn.createdAt).toISOString(),
  };
}

export function nativeView(fn: FunctionView): Record<string, unknown> {
  return {
    name: fn.name,
    revision: fn.revision,
    package: fn.packageDigest,
    spec: fn.spec,
    config: describeConfig(fn.config),
    env: fn.config.env,
    secrets: fn.config.secrets,
    labels: fn.config.labels,
    createdAt: new Date(fn.createdAt).toISOString(),
    updatedAt: new Date(fn.updatedAt).toISOString(),
    replicas: fn.replicas,
    availableReplicas: fn.availableReplicas,
    instances: fn.instances,
  };
}
