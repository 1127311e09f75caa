/**
 * `runlet import kubeless fn.yaml`: reads Kubeless Function resources (kubeless.io/v1beta1)
 * with their inline source and turns each into a Runlet function with the kubeless handler
 * shape (docs/compat.md).
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import { UserError } from "../errors.js";
import { functionSpecSchema, type RuntimeName } from "../spec/function-spec.js";
import {
  envList,
  importOutcome,
  list,
  record,
  text,
  untarFiles,
  unzipFiles,
  type ImportProblem,
  type ImportResult,
  type ImportedFunction,
} from "./imported.js";

const knownRuntimes =
  "nodejs (nodejs10, nodejs12, nodejs14, …), python (python3.7, python3.8, …) and java (java1.8, java11)";

export function readKubelessFunctions(path: string): ImportResult {
  if (!existsSync(path)) {
    throw new UserError(
      "RUNLET_INVALID_IMPORT",
      `${path} does not exist; pass the YAML of a Kubeless Function (kubectl get function NAME -o yaml > fn.yaml)`,
    );
  }
  const problems: ImportProblem[] = [];
  const notices: string[] = [];
  const functions: ImportedFunction[] = [];
  const resources: Record<string, unknown>[] = [];
  for (const doc of parseAllDocuments(readFileSync(path, "utf8"))) {
    if (doc.errors.length > 0) {
      for (const error of doc.errors) {
        problems.push({ file: path, message: error.message.split("\n")[0] ?? error.message });
      }
      continue;
    }
    const body = record(doc.toJS());
    // `kubectl get functions -o yaml` wraps them in a List.
    resources.push(...(body.kind === "List" ? list(body.items).map(record) : [body]));
  }
  for (const resource of resources) {
    const kind = text(resource.kind);
    const name = text(record(resource.metadata).name) ?? "";
    if (kind !== "Function" || !String(resource.apiVersion ?? "").startsWith("kubeless.io/")) {
      if (kind) {
        notices.push(`${kind} ${name} is not a Kubeless Function and is not imported`);
      }
      continue;
    }
    const fn = convertKubelessFunction(name, resource, notices);
    if (typeof fn === "string") {
      problems.push({ file: path, message: `function ${name}: ${fn}`, function: name });
    } else {
      functions.push({ ...fn, origin: path });
    }
  }
  if (functions.length === 0 && problems.length === 0) {
    throw new UserError(
      "RUNLET_INVALID_IMPORT",
      `${path} holds no Kubeless Function (apiVersion kubeless.io/v1beta1, kind Function)`,
    );
  }
  return importOutcome(path, { functions, notices }, problems);
}

/** One Kubeless Function object as a Runlet function with its files, or what stops it. */
export function convertKubelessFunction(
  name: string,
  resource: Record<string, unknown>,
  notices: string[],
): Omit<ImportedFunction, "origin"> | string {
  const spec = record(resource.spec);
  const kubelessRuntime = text(spec.runtime) ?? "";
  const runtime: RuntimeName | undefined = kubelessRuntime.startsWith("nodejs")
    ? "node"
    : kubelessRuntime.startsWith("python")
      ? "python"
      : kubelessRuntime.startsWith("java")
        ? "java"
        : undefined;
  if (!runtime) {
    return `unknown runtime ${JSON.stringify(kubelessRuntime)}; Runlet runs ${knownRuntimes}`;
  }
  const handler = text(spec.handler) ?? "";
  const dot = handler.lastIndexOf(".");
  if (dot <= 0 || dot === handler.length - 1) {
    return `handler ${JSON.stringify(handler)} is not "file.function" (e.g. hello.foo)`;
  }
  const moduleName = handler.slice(0, dot);
  const functionName = handler.slice(dot + 1);
  const file = `${moduleName}.${runtime === "node" ? "js" : runtime === "python" ? "py" : "java"}`;

  const contentType = text(spec["function-content-type"]) ?? "text";
  const source = text(spec.function) ?? "";
  const [encoding, packing] = contentType.split("+");
  if (encoding !== "text" && encoding !== "base64") {
    return `function-content-type ${contentType} is not supported; Runlet imports inline source (text, base64, base64+zip or base64+compressedtar)`;
  }
  const bytes = encoding === "base64" ? Buffer.from(source, "base64") : Buffer.from(source, "utf8");
  const checksum = text(spec.checksum);
  if (checksum?.startsWith("sha256:")) {
    const actual = createHash("sha256").update(bytes).digest("hex");
    if (actual !== checksum.slice("sha256:".length)) {
      return `its checksum ${checksum} does not match the function's content (sha256:${actual}); fix or remove spec.checksum`;
    }
  }
  let files: Map<string, Buffer>;
  if (packing === undefined) {
    files = new Map([[file, bytes]]);
  } else if (packing === "zip") {
    files = unzipFiles(bytes);
  } else if (packing === "compressedtar") {
    const unpacked = untarFiles(bytes);
    if (typeof unpacked === "string") {
      return unpacked;
    }
    files = unpacked;
  } else {
    return `function-content-type ${contentType} is not supported (text, base64, base64+zip or base64+compressedtar); unpack the archive and deploy its folder with runlet deploy --compat kubeless`;
  }
  if (!files.has(file)) {
    return `handler ${handler} needs ${file}, which the function's source does not have (it has ${[...files.keys()].join(", ")})`;
  }
  const deps = text(spec.deps);
  if (deps?.trim() && runtime === "java") {
    // Its pom names Kubeless' parent pom and params artifact, which no repository serves.
    return "its deps (a pom.xml with Kubeless' parent pom) are not imported for Java; write a pom.xml whose dependencies are the function's (scope provided for dev.runlet:runlet-java-api) and deploy the folder with runlet deploy --runtime java --compat kubeless";
  }
  if (deps?.trim()) {
    // Installed by the server's build at deploy, like any package.json / requirements.txt.
    files.set(runtime === "node" ? "package.json" : "requirements.txt", Buffer.from(deps));
  }

  const container = record(
    list(record(record(record(record(spec.deployment).spec).template).spec).containers)[0],
  );
  const env = envList(container.env, (envName) =>
    notices.push(`${name}: env ${envName} comes from a reference (valueFrom) and is not imported`),
  );
  const limits = record(record(container.resources).limits);
  const memory = text(limits.memory);
  const cpu = text(limits.cpu);
  // The runtime's context reports these as Kubeless did.
  env.FUNC_RUNTIME = kubelessRuntime;
  if (memory) {
    env.FUNC_MEMORY_LIMIT = memory;
  }
  const runletSpec: Record<string, unknown> = {
    runtime,
    // Java names a class and a method as Kubeless does; the others a file and a function.
    handler: runtime === "java" ? handler : `${file}:${functionName}`,
    compat: "kubeless",
    // Kubeless' default is 180 seconds.
    timeout: `${Number(text(spec.timeout) ?? 180) || 180}s`,
    env,
  };
  if (memory) {
    runletSpec.memory = memory;
  }
  if (cpu) {
    runletSpec.cpu = /^\d+(\.\d+)?$/.test(cpu) ? Number(cpu) : cpu;
  }
  const labels = Object.fromEntries(
    Object.entries(record(record(resource.metadata).labels))
      .map(([k, v]) => [k, text(v)])
      .filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
  if (Object.keys(labels).length > 0) {
    runletSpec.labels = labels;
  }
  const hpa = record(record(spec.horizontalPodAutoscaler).spec);
  const scale: Record<string, number> = {};
  if (Number(hpa.minReplicas) > 0) {
    scale.min = Number(hpa.minReplicas);
  }
  if (Number(hpa.maxReplicas) > 0) {
    scale.max = Number(hpa.maxReplicas);
  }
  if (Object.keys(scale).length > 0) {
    runletSpec.scale = scale;
  }
  const checked = functionSpecSchema.safeParse(runletSpec);
  if (!checked.success) {
    return checked.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
  }
  return { name, spec: checked.data, files, triggers: [] };
}
