/**
 * OpenFaaS stack files (stack.yml, version 1.0) read as Runlet functions, so
 * `runlet deploy -f stack.yml` deploys them unchanged (docs/compat.md). Every problem is
 * reported at once with its line number, as for runlet.yaml.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import {
  functionSpecSchema,
  type CompatShape,
  type FunctionSpec,
  type RuntimeName,
} from "./function-spec.js";
import { normalizeImageName } from "./image-name.js";
import { nameProblem } from "./names.js";

/** OpenFaaS template names Runlet runs, and what each becomes. */
export const openfaasLangs: Readonly<
  Record<string, { runtime: RuntimeName; handler: string; compat?: CompatShape }>
> = {
  // The classic-watchdog template: (context, callback), the body as a string.
  node: { runtime: "node", handler: "handler.js", compat: "openfaas-classic" },
  node12: { runtime: "node", handler: "handler.js" },
  node14: { runtime: "node", handler: "handler.js" },
  node16: { runtime: "node", handler: "handler.js" },
  node17: { runtime: "node", handler: "handler.js" },
  node18: { runtime: "node", handler: "handler.js" },
  node20: { runtime: "node", handler: "handler.js" },
  node22: { runtime: "node", handler: "handler.js" },
  python3: { runtime: "python", handler: "handler.py" },
  "python3-http": { runtime: "python", handler: "handler.py" },
  "python3-http-debian": { runtime: "python", handler: "handler.py" },
  "golang-http": { runtime: "go", handler: "handler.go" },
  "golang-middleware": { runtime: "go", handler: "handler.go" },
  go: { runtime: "go", handler: "handler.go" },
  // com.openfaas.model.IHandler; java17's functions name their class in a ServiceLoader file.
  java11: { runtime: "java", handler: "com.openfaas.function.Handler" },
  java17: { runtime: "java", handler: "com.openfaas.function.Handler" },
  // tmobile/faas-java-templates: the function folder holds function.Handler (a RequestHandler);
  // the template's runner around it is Runlet's (docs/java.md).
  springboot: { runtime: "java", handler: "function.Handler", compat: "openfaas-springboot" },
  vertx: { runtime: "java", handler: "function.Handler", compat: "openfaas-vertx" },
};

/**
 * Keys of a stack.yml function that have no meaning without container images. (`image` has
 * one: runlet push and runlet deploy -f record it as a tag of the function's package.)
 */
const ignoredFunctionKeys = [
  "fprocess",
  "skip_build",
  "constraints",
  "build_options",
  "build_args",
  "build_secrets",
  "platforms",
  "readonly_root_filesystem",
  "requests",
];

const scalar = z.union([z.string(), z.number(), z.boolean()]).transform(String);
const stringMap = z.record(z.string(), scalar);
const resources = z.looseObject({ memory: scalar.optional(), cpu: scalar.optional() });

const openfaasFunctionSchema = z.looseObject({
  lang: z.string({ error: "lang is required (the template, e.g. node20 or python3-http)" }),
  handler: z.string({ error: "handler is required (the folder with the function's code)" }),
  image: z.string().optional(),
  /** The namespace it deploys to (faas-cli's per-function namespace). */
  namespace: z.string().optional(),
  environment: stringMap.optional(),
  environment_file: z.array(z.string()).optional(),
  secrets: z.array(z.string()).optional(),
  labels: stringMap.optional(),
  annotations: stringMap.optional(),
  limits: resources.optional(),
});

const openfaasStackSchema = z.looseObject({
  version: scalar.optional(),
  provider: z.looseObject({
    name: z.enum(["openfaas", "faas"], {
      error: (issue) =>
        `provider.name is ${JSON.stringify(issue.input)}; an OpenFaaS stack file names provider openfaas`,
    }),
    gateway: z.string().optional(),
  }),
  functions: z.record(z.string(), z.unknown()),
});

export interface OpenFaasProblem {
  /** Path in the file, e.g. ["functions", "hello", "lang"]. */
  readonly path: readonly PropertyKey[];
  readonly message: string;
}

export interface OpenFaasFunction {
  readonly name: string;
  readonly source: string;
  readonly spec: FunctionSpec;
  /** Its `image:`, in its one form (`hello` is `hello:latest`): the tag its package gets. */
  readonly image?: string;
}

export interface OpenFaasStack {
  readonly gateway: string | undefined;
  readonly functions: readonly OpenFaasFunction[];
  /** What was read but has no effect under Runlet, for the user to know. */
  readonly notices: readonly string[];
  readonly problems: readonly OpenFaasProblem[];
}

/** A stack file is OpenFaaS's when it names a provider or its functions name a lang. */
export function isOpenFaasStack(value: unknown): boolean {
  if (value === null || typeof value !== "object") {
    return false;
  }
  const record = value as Record<string, unknown>;
  if ("provider" in record) {
    return true;
  }
  const functions = record.functions;
  return (
    functions !== null &&
    typeof functions === "object" &&
    Object.values(functions as Record<string, unknown>).some(
      (fn) => fn !== null && typeof fn === "object" && "lang" in fn,
    )
  );
}

/** Maps the OpenFaaS stack (already parsed YAML) to Runlet functions, collecting problems. */
export function convertOpenFaasStack(value: unknown, path: string): OpenFaasStack {
  const problems: OpenFaasProblem[] = [];
  const notices: string[] = [];
  const functions: OpenFaasFunction[] = [];
  const stack = openfaasStackSchema.safeParse(value);
  if (!stack.success) {
    for (const issue of stack.error.issues) {
      problems.push({ path: issue.path, message: issue.message });
    }
    return { gateway: undefined, functions, notices, problems };
  }
  const base = dirname(resolve(path));
  for (const [name, raw] of Object.entries(stack.data.functions)) {
    const at = ["functions", name];
    const badName = nameProblem(name);
    if (badName) {
      problems.push({ path: at, message: badName });
    }
    const parsed = openfaasFunctionSchema.safeParse(raw);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        problems.push({ path: [...at, ...issue.path], message: issue.message });
      }
      continue;
    }
    const fn = parsed.data;
    const lang = openfaasLangs[fn.lang];
    if (!lang) {
      problems.push({
        path: [...at, "lang"],
        message:
          fn.lang === "dockerfile"
            ? `lang dockerfile builds a container image, and Runlet runs source code; use one of the known langs: ${Object.keys(openfaasLangs).join(", ")}`
            : `unknown lang ${JSON.stringify(fn.lang)}; known langs: ${Object.keys(openfaasLangs).join(", ")}${otherRuntimeHint(fn.lang)}`,
      });
      continue;
    }
    const env: Record<string, string> = { ...fn.environment };
    // faas-cli merges environment_file after environment: the files win, later ones last.
    for (const [index, file] of (fn.environment_file ?? []).entries()) {
      const filePath = resolve(base, file);
      const fileEnv = readEnvironmentFile(filePath);
      if (typeof fileEnv === "string") {
        problems.push({ path: [...at, "environment_file", index], message: fileEnv });
      } else {
        Object.assign(env, fileEnv);
      }
    }
    const spec: Record<string, unknown> = {
      runtime: lang.runtime,
      handler: lang.handler,
      compat: lang.compat ?? "openfaas",
    };
    const set = (key: string, v: unknown): void => {
      if (v !== undefined) {
        spec[key] = v;
      }
    };
    set("env", Object.keys(env).length > 0 ? env : undefined);
    set("secrets", fn.secrets);
    set("labels", fn.labels);
    set("annotations", fn.annotations);
    set("memory", fn.limits?.memory === undefined ? undefined : memoryValue(fn.limits.memory));
    set("timeout", watchdogTimeout(env));
    set("cpu", fn.limits?.cpu === undefined ? undefined : cpuValue(fn.limits.cpu));
    const scale = scaleFromLabels(fn.labels ?? {}, [...at, "labels"], problems);
    set("scale", Object.keys(scale).length > 0 ? scale : undefined);
    const image = fn.image === undefined ? undefined : normalizeImageName(fn.image);
    if (image?.ok === false) {
      problems.push({ path: [...at, "image"], message: image.problem });
    }
    const namespaceProblem = fn.namespace === undefined ? undefined : nameProblem(fn.namespace);
    if (namespaceProblem !== undefined) {
      problems.push({ path: [...at, "namespace"], message: namespaceProblem });
    }
    const ignored = Object.keys(fn).filter((key) => ignoredFunctionKeys.includes(key));
    if (ignored.length > 0) {
      notices.push(`${name}: ${ignored.join(", ")} ignored (Runlet deploys the handler's source)`);
    }
    const checked = functionSpecSchema.safeParse(spec);
    if (!checked.success) {
      for (const issue of checked.error.issues) {
        problems.push({ path: [...at, ...stackPathOf(issue.path)], message: issue.message });
      }
      continue;
    }
    functions.push({
      name,
      source: resolve(base, fn.handler),
      spec: checked.data,
      ...(image?.ok === true ? { image: image.image } : {}),
      ...(fn.namespace === undefined ? {} : { namespace: fn.namespace }),
    });
  }
  return { gateway: stack.data.provider.gateway, functions, notices, problems };
}

/** Where a Runlet spec field came from in stack.yml, to point problems at the right line. */
function stackPathOf(specPath: readonly PropertyKey[]): PropertyKey[] {
  const [field, ...rest] = specPath;
  switch (field) {
    case "memory":
    case "cpu":
      return ["limits", field];
    case "timeout":
      return ["environment", "exec_timeout"];
    case "env":
      return ["environment", ...rest];
    case "scale":
      return ["labels", `com.openfaas.scale.${String(rest[0] ?? "")}`];
    default:
      return [...specPath];
  }
}

/**
 * Docker and Swarm write memory as `30m` or `1g` (binary units); Runlet's sizes are
 * Kubernetes quantities, where `30m` would be 0.03 bytes.
 */
function memoryValue(memory: string): string {
  const swarm = /^(\d+(?:\.\d+)?)\s*([kmg])b?$/i.exec(memory.trim());
  const unit = swarm?.[2];
  if (swarm === null || unit === undefined || /^[KMG]$/.test(memory.trim().slice(-1))) {
    return memory;
  }
  return `${swarm[1]}${unit.toUpperCase()}i`;
}

/**
 * The watchdogs' `exec_timeout` (of-watchdog and classic: the longest a call may run; a Go
 * duration or whole seconds; 0 means none) is the function's timeout. Without one, Runlet's
 * default applies.
 */
function watchdogTimeout(env: Readonly<Record<string, string>>): string | undefined {
  const raw = env["exec_timeout"]?.trim();
  if (raw === undefined || raw === "" || /^0+(?:\.0+)?[a-z]*$/.test(raw)) {
    return undefined;
  }
  return /^\d+(?:\.\d+)?$/.test(raw) ? `${raw}s` : raw;
}

function cpuValue(cpu: string): string | number {
  return /^\d+(\.\d+)?$/.test(cpu) ? Number(cpu) : cpu;
}

/** com.openfaas.scale.min/max/target → scale; values must be whole numbers. */
function scaleFromLabels(
  labels: Record<string, string>,
  at: readonly PropertyKey[],
  problems: OpenFaasProblem[],
): Record<string, number> {
  const scale: Record<string, number> = {};
  for (const key of ["min", "max", "target"] as const) {
    const label = `com.openfaas.scale.${key}`;
    const value = labels[label];
    if (value === undefined) {
      continue;
    }
    const n = Number(value);
    if (!Number.isInteger(n) || n < (key === "min" ? 0 : 1)) {
      problems.push({
        path: [...at, label],
        message: `${label} must be a whole number${key === "min" ? "" : " of at least 1"}, not ${JSON.stringify(value)}`,
      });
      continue;
    }
    scale[key] = n;
  }
  return scale;
}

/** An environment_file holds a top-level `environment:` map; returns it or a problem. */
function readEnvironmentFile(path: string): Record<string, string> | string {
  if (!existsSync(path)) {
    return `environment file ${path} does not exist`;
  }
  let value: unknown;
  try {
    value = parseYaml(readFileSync(path, "utf8"));
  } catch (error) {
    return `environment file ${path} is not valid YAML: ${(error as Error).message.split("\n")[0]}`;
  }
  const parsed = z.object({ environment: stringMap }).safeParse(value);
  if (!parsed.success) {
    return `environment file ${path} must have a top-level "environment:" map of names to values`;
  }
  return parsed.data.environment;
}

/** For langs with no OpenFaaS handler shape here, the Runlet runtime their code can move to. */
function otherRuntimeHint(lang: string): string {
  if (/^go/.test(lang)) {
    return ". Go code runs as runtime go in runlet.yaml: a net/http server on $PORT (start from runlet new NAME --runtime go)";
  }
  if (/^(typescript|node.*-ts)/.test(lang)) {
    return ". TypeScript runs as runtime typescript in runlet.yaml (start from runlet new NAME --runtime typescript)";
  }
  return "";
}
