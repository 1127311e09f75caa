/**
 * An OpenFaaS `openfaas.com/v1` Function object as a Runlet function, for the operator (issue
 * 16). Its image must name a package the gateway has (`sha256:<hex>`), as the OpenFaaS deploy
 * route asks embedded: Runlet runs packages, there is no image to pull. The template's lang (the
 * `com.openfaas.lang` label or annotation faas-cli sets, e.g. node20, python3-http) picks the
 * runtime, handler and handler shape as in a stack file; the `com.runlet.runtime` and
 * `com.runlet.handler` annotations override them (default node, handler.js). The
 * com.openfaas.scale labels become the scale bounds.
 */
import { functionSpecSchema, type FunctionSpec } from "../spec/function-spec.js";
import { openfaasLangs } from "../spec/openfaas-stack.js";
import { list, record, text } from "./imported.js";

export interface ConvertedOpenfaasFunction {
  readonly spec: FunctionSpec;
  readonly packageDigest: string;
}

export interface OpenfaasProblem {
  /** CamelCase, for a condition's reason. */
  readonly reason: "ImageNotAPackage" | "InvalidSpec";
  readonly message: string;
}

const packageDigest = /^sha256:[a-f0-9]{64}$/;

export function convertOpenfaasFunction(
  resource: Record<string, unknown>,
): ConvertedOpenfaasFunction | OpenfaasProblem {
  const spec = record(resource.spec);
  const image = text(spec.image) ?? "";
  if (!packageDigest.test(image)) {
    return {
      reason: "ImageNotAPackage",
      message: `spec.image ${JSON.stringify(image)} is a container image, and Runlet runs packages, not images: upload the function's source to the gateway (runlet deploy NAME --source DIR uploads it, or POST its .tar.gz to /api/v1/packages) and set spec.image to the package's digest, sha256:<64 hex>`,
    };
  }
  const stringMap = (value: unknown): Record<string, string> =>
    Object.fromEntries(
      Object.entries(record(value))
        .map(([k, v]) => [k, text(v)] as const)
        .filter((entry): entry is readonly [string, string] => entry[1] !== undefined),
    );
  const labels = stringMap(spec.labels);
  const annotations = stringMap(spec.annotations);
  const scale: Record<string, number> = {};
  const min = Number(labels["com.openfaas.scale.min"]);
  const max = Number(labels["com.openfaas.scale.max"]);
  if (Number.isInteger(min) && labels["com.openfaas.scale.min"] !== undefined) {
    scale["min"] = min;
  }
  if (Number.isInteger(max) && labels["com.openfaas.scale.max"] !== undefined) {
    scale["max"] = max;
  }
  if (labels["com.openfaas.scale.zero"] === "true") {
    scale["min"] = 0;
  }
  const limits = record(spec.limits);
  const langName = annotations["com.openfaas.lang"] ?? labels["com.openfaas.lang"];
  const lang = langName === undefined ? undefined : openfaasLangs[langName];
  if (langName !== undefined && lang === undefined) {
    return {
      reason: "InvalidSpec",
      message: `com.openfaas.lang ${JSON.stringify(langName)} is not a template Runlet knows; known: ${Object.keys(openfaasLangs).join(", ")}`,
    };
  }
  const runletSpec: Record<string, unknown> = {
    runtime: annotations["com.runlet.runtime"] ?? lang?.runtime ?? "node",
    handler: annotations["com.runlet.handler"] ?? lang?.handler ?? "handler.js",
    ...(lang === undefined ? {} : { compat: lang.compat ?? "openfaas" }),
  };
  const env = stringMap(spec.environment);
  if (Object.keys(env).length > 0) {
    runletSpec["env"] = env;
  }
  const secrets = list(spec.secrets)
    .map(text)
    .filter((s): s is string => s !== undefined);
  if (secrets.length > 0) {
    runletSpec["secrets"] = secrets;
  }
  if (text(limits.memory) !== undefined) {
    runletSpec["memory"] = text(limits.memory);
  }
  if (text(limits.cpu) !== undefined) {
    runletSpec["cpu"] = text(limits.cpu);
  }
  if (Object.keys(labels).length > 0) {
    runletSpec["labels"] = labels;
  }
  if (Object.keys(scale).length > 0) {
    runletSpec["scale"] = scale;
  }
  const checked = functionSpecSchema.safeParse(runletSpec);
  if (!checked.success) {
    return {
      reason: "InvalidSpec",
      message: checked.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "),
    };
  }
  return { spec: checked.data, packageDigest: image };
}
