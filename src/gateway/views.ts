/** How functions look on the wire: OpenFaaS' FunctionStatus and Runlet's native view. */
import type { DeployResult, FunctionView } from "../platform/platform.js";
import type { CallRecord } from "../store/call-store.js";
import type { TriggerView } from "../triggers/triggers.js";
import { describeConfig } from "../spec/function-spec.js";
import { formatSize } from "../spec/units.js";
import { defaultNamespace, splitQualifiedName } from "../spec/namespaces.js";

/**
 * The default namespace, named as OpenFaaS names its functions' namespace, so clients that
 * address NAME.openfaas-fn or list namespaces see what they expect.
 */
export const openfaasNamespace = defaultNamespace;

/**
 * The image an OpenFaaS deploy named, and what it turned out to be: a tag `runlet push`
 * recorded, or an envProcess run from the host (openfaas-image.ts). Undefined for a function
 * deployed from source or by package digest.
 */
export function imageOrigin(
  fn: FunctionView,
): { readonly image: string; readonly source: string } | undefined {
  const image = fn.config.annotations["com.runlet.image"];
  const source = fn.config.annotations["com.runlet.package-source"];
  return image === undefined || source === undefined ? undefined : { image, source };
}

export function openfaasStatus(
  fn: FunctionView,
  invocationCount?: number,
): Record<string, unknown> {
  const { name, namespace } = splitQualifiedName(fn.name);
  return {
    name,
    // A function deployed by image name (a tag, or an envProcess) shows that name; others their package.
    image: fn.config.annotations["com.runlet.image"] ?? fn.packageDigest,
    namespace,
    envProcess: fn.config.runtime === "exec" ? (fn.config.command ?? "") : "",
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

/** A deploy's (or rollback's, or scale's) answer: the function's name and namespace apart. */
export function deployAnswer(result: DeployResult): Record<string, unknown> {
  return { ...result, ...splitQualifiedName(result.name) };
}

export function nativeView(
  fn: FunctionView,
  triggers?: readonly TriggerView[],
): Record<string, unknown> {
  const { name, namespace } = splitQualifiedName(fn.name);
  return {
    name,
    namespace,
    revision: fn.revision,
    package: fn.packageDigest,
    ...(imageOrigin(fn) === undefined ? {} : { image: imageOrigin(fn) }),
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
    ...(triggers ? { triggers } : {}),
  };
}

/** An async call as the API shows it: times as ISO strings, the result body as text or base64. */
export function callView(call: CallRecord): Record<string, unknown> {
  const iso = (ms: number | undefined): string | undefined =>
    ms === undefined ? undefined : new Date(ms).toISOString();
  return {
    id: call.id,
    function: splitQualifiedName(call.functionName).name,
    namespace: splitQualifiedName(call.functionName).namespace,
    source: call.source,
    method: call.method,
    path: call.path,
    requestSize: call.requestSize,
    state: call.state,
    attempts: call.attempts,
    failures: call.failures,
    createdAt: iso(call.createdAt),
    startedAt: iso(call.startedAt),
    finishedAt: iso(call.finishedAt),
    nextAttemptAt: iso(call.nextAttemptAt),
    durationSeconds: call.durationMs === undefined ? undefined : call.durationMs / 1000,
    statusCode: call.statusCode,
    lastError: call.lastError,
    callback: call.callback,
    result: call.result && {
      headers: call.result.headers,
      size: call.result.size,
      truncated: call.result.truncated,
      ...bodyView(call.result.body),
    },
  };
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

function bodyView(body: Buffer): { body: string; bodyEncoding: "utf8" | "base64" } {
  try {
    return { body: strictUtf8.decode(body), bodyEncoding: "utf8" };
  } catch {
    return { body: body.toString("base64"), bodyEncoding: "base64" };
  }
}
