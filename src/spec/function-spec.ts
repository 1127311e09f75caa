/**
 * The function model (DESIGN.md "Function model"): one zod schema for what users send
 * (API body and stack-file entry), and one resolve step into the fully-defaulted config the
 * platform runs.
 */
import { parseRate, rateSchema, type Rate } from "./rate.js";
import { createHash } from "node:crypto";
import { z } from "zod";
import { UserError } from "../errors.js";
import { nameProblem } from "./names.js";
import { didYouMean, suggestRuntime } from "./suggest.js";
import { triggerSpecSchema } from "./trigger-spec.js";
import { formatDuration, formatSize, parseDuration, parseSize } from "./units.js";

/** What users pick. Some are built into another runtime's form at deploy (typescript → node, go → exec). */
export const runtimes = ["node", "typescript", "python", "exec", "go", "java"] as const;
export type RuntimeName = (typeof runtimes)[number];

/** The runtime servers instances run (`runtimes/<name>/`); each has its own warm pool. */
export const instanceRuntimes = ["node", "python", "exec", "java"] as const;
export type InstanceRuntime = (typeof instanceRuntimes)[number];

const instanceRuntimeOfRuntime: Record<RuntimeName, InstanceRuntime> = {
  node: "node",
  typescript: "node",
  python: "python",
  exec: "exec",
  go: "exec",
  java: "java",
};

/** The runtime server a function's instances run. */
export function instanceRuntimeOf(runtime: RuntimeName): InstanceRuntime {
  return instanceRuntimeOfRuntime[runtime];
}

/**
 * Handler shapes of other platforms. `openfaas-classic` is the OpenFaaS classic-watchdog
 * templates' (`lang: node`: `(context, callback)` with the body as a string);
 * `openfaas-springboot` and `openfaas-vertx` are the tmobile faas-java-templates' (`lang:
 * springboot|vertx`: `function.Handler implements RequestHandler`, `String handle(byte[])`
 * served at `POST /`, inside a Spring Boot application for springboot).
 */
export const compatShapes = [
  "openfaas",
  "openfaas-classic",
  "openfaas-springboot",
  "openfaas-vertx",
  "fission",
  "kubeless",
] as const;
export type CompatShape = (typeof compatShapes)[number];

/** exec runtime: a process per call (stdin → stdout), or a long-running server on $PORT. */
export const execModes = ["stdio", "http"] as const;
export type ExecMode = (typeof execModes)[number];

/**
 * The messages of the field schemas below, exported with them: the Function CRD repeats each
 * check as a validation rule of its own (src/kubernetes/resources.ts) with the same words.
 */
export const fieldMessages = {
  duration: 'expected a duration such as "500ms", "10s" or "5m"',
  size: 'expected a size such as "128Mi", "1Gi" or a number of bytes',
  cpu: 'expected cores such as 0.5, 2 or "500m"',
  envName: "environment variable names are letters, digits and '_'",
  secretName: "secret names are DNS-1123 labels (lower-case letters, digits, '-')",
} as const;

export const packageDigestPattern = /^sha256:[a-f0-9]{64}$/;
export const envNamePattern = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const cpuTextPattern = /^\d+m$|^\d+(\.\d+)?$/;

export const durationSchema = z
  .union([z.string(), z.number()])
  .refine((v) => parseDuration(v) !== undefined, { message: fieldMessages.duration });
export const sizeSchema = z
  .union([z.string(), z.number()])
  .refine((v) => parseSize(v) !== undefined, { message: fieldMessages.size });
export const cpuSchema = z.union([
  z.number().positive().max(256),
  z.string().regex(cpuTextPattern, fieldMessages.cpu),
]);
export const envNameSchema = z.string().regex(envNamePattern, fieldMessages.envName);
export const secretNameSchema = z.string().refine((n) => nameProblem(n) === undefined, {
  message: fieldMessages.secretName,
});

export const scaleSchema = z.strictObject({
  /** @default 0 — scale to zero when idle */
  min: z.number().int().min(0).max(1000).optional(),
  /** @default 10 */
  max: z.number().int().min(1).max(1000).optional(),
  /** Concurrent calls one instance serves. @default 50 for node */
  concurrency: z.number().int().min(1).max(10_000).optional(),
  /** @default "5m" */
  idleTimeout: durationSchema.optional(),
  /** Concurrent calls per instance the autoscaler aims for. @default 70% of concurrency */
  target: z.number().positive().optional(),
  /** Autoscaler stable window. @default "60s" */
  window: durationSchema.optional(),
});

/** What a user declares about a function (API body, stack-file entry); all optional but runtime. */
export const functionSpecSchema = z.strictObject({
  runtime: z.enum(runtimes, {
    error: (issue) =>
      `unknown runtime ${JSON.stringify(issue.input)}${didYouMean(suggestRuntime(issue.input, runtimes))}; known runtimes: ${runtimes.join(", ")}`,
  }),
  /** File inside the package, optionally with an export: "index.js" or "handler.mjs:main". */
  handler: z.string().min(1).optional(),
  /** exec runtime: the program and its arguments, run in the package directory. */
  command: z.string().min(1).optional(),
  /** exec runtime: "stdio" (a process per call) or "http" (a server on $PORT). @default "stdio" */
  mode: z.enum(execModes).optional(),
  /** Handler shape of another platform, so its functions run unchanged. */
  compat: z
    .enum(compatShapes, {
      error: (issue) =>
        `unknown compat ${JSON.stringify(issue.input)}; known: ${compatShapes.join(", ")} (functions written for those platforms run unchanged)`,
    })
    .optional(),
  /** Async calls: attempts after the first before a call is dead-lettered. @default 3 */
  maxRetries: z.number().int().min(0).max(100).optional(),
  env: z.record(envNameSchema, z.string()).optional(),
  secrets: z.array(secretNameSchema).optional(),
  /** Config maps the function reads as files (Fission's /configs/<namespace>/<name>/<key>). */
  configs: z.array(secretNameSchema).optional(),
  /** @default "30s" */
  timeout: durationSchema.optional(),
  /** @default "256Mi" */
  memory: sizeSchema.optional(),
  /** CPU limit in cores, e.g. 0.5 or "500m". @default no limit */
  cpu: cpuSchema.optional(),
  /** Largest request body accepted. @default "10Mi" */
  maxBody: sizeSchema.optional(),
  scale: scaleSchema.optional(),
  /**
   * Who may call: anyone ("public"); callers with an invoker token of the namespace, one of the
   * function's invoke keys or the admin token ("required"); or callers whose body carries an
   * HMAC-SHA256 signature under a shared secret ("signed", see `signature`). @default "public"
   */
  auth: z.enum(["public", "required", "signed"]).optional(),
  /**
   * Most calls the function takes, over every way in (sync, async, routes), e.g. "100/s":
   * a burst up to that many passes, more get 429 with Retry-After. @default no limit
   */
  rateLimit: rateSchema.optional(),
  /**
   * For `auth: signed`: the secret (created with `runlet secret create`) the body is signed
   * with, and the header the signature comes in as `sha256=<hex>`.
   */
  signature: z
    .strictObject({
      secret: secretNameSchema,
      /** @default "X-Hub-Signature-256" */
      header: z
        .string()
        .regex(/^[A-Za-z0-9-]{1,64}$/, "a header name, e.g. X-Hub-Signature-256")
        .optional(),
    })
    .optional(),
  /**
   * true: outbound access only (the host's loopback and private addresses refused); false: an
   * empty network namespace; "host": the host's network, its loopback services included.
   * @default true
   */
  network: z.union([z.boolean(), z.literal("host")]).optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  /** HTTP routes, cron schedules and NATS subjects that call the function (docs/triggers.md). */
  triggers: z.array(triggerSpecSchema).optional(),
});
export type FunctionSpec = z.infer<typeof functionSpecSchema>;

/** The deploy request body of the native API: the spec plus the uploaded package. */
export const deployRequestSchema = functionSpecSchema.extend({
  package: z.string().regex(packageDigestPattern, "expected a package digest sha256:<64 hex>"),
});
export type DeployRequest = z.infer<typeof deployRequestSchema>;

/** The fully-defaulted form the executor and router run with. */
export interface FunctionConfig {
  readonly runtime: RuntimeName;
  readonly handler: string;
  /** exec runtime's program; undefined for other runtimes. */
  readonly command: string | undefined;
  readonly mode: ExecMode;
  readonly compat: CompatShape | undefined;
  readonly maxRetries: number;
  readonly env: Readonly<Record<string, string>>;
  readonly secrets: readonly string[];
  readonly configs: readonly string[];
  readonly timeoutMs: number;
  readonly memoryBytes: number;
  /** Cores; undefined means no CPU limit. */
  readonly cpu: number | undefined;
  readonly maxBodyBytes: number;
  readonly scale: {
    readonly min: number;
    readonly max: number;
    readonly concurrency: number;
    readonly idleTimeoutMs: number;
    readonly target: number | undefined;
    readonly windowMs: number | undefined;
  };
  readonly auth: "public" | "required" | "signed";
  /** Set for `auth: signed` only (and then left out of revision hashes of other functions). */
  readonly signature?: { readonly secret: string; readonly header: string };
  /** Set only when the spec has a rate limit (so other revisions' hashes stay as they were). */
  readonly rateLimit?: Rate;
  readonly network: NetworkMode;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

/** How an instance reaches the network (see FunctionSpec.network). */
export type NetworkMode = "outbound" | "none" | "host";

export function networkMode(value: boolean | "host" | undefined): NetworkMode {
  return value === "host" ? "host" : value === false ? "none" : "outbound";
}

export const defaultHandler: Record<RuntimeName, string> = {
  node: "index.js",
  typescript: "index.ts",
  python: "handler.py",
  exec: "",
  go: "main.go",
  java: "Handler",
};

/** Applies every default once; callers never see an optional field afterwards. */
export function resolveFunctionConfig(spec: FunctionSpec): FunctionConfig {
  const must = <T>(value: T | undefined, fallback: T): T => value ?? fallback;
  const min = spec.scale?.min ?? 0;
  return {
    runtime: spec.runtime,
    handler: must(spec.handler, defaultHandler[spec.runtime]),
    command: spec.command,
    mode: spec.mode ?? (spec.runtime === "go" ? "http" : "stdio"),
    compat: spec.compat,
    maxRetries: spec.maxRetries ?? 3,
    env: spec.env ?? {},
    secrets: [...new Set(spec.secrets ?? [])].sort(),
    configs: [...new Set(spec.configs ?? [])].sort(),
    timeoutMs: must(spec.timeout === undefined ? undefined : parseDuration(spec.timeout), 30_000),
    memoryBytes: must(
      spec.memory === undefined ? undefined : parseSize(spec.memory),
      256 * 2 ** 20,
    ),
    cpu: parseCpu(spec.cpu),
    maxBodyBytes: must(
      spec.maxBody === undefined ? undefined : parseSize(spec.maxBody),
      10 * 2 ** 20,
    ),
    scale: {
      min,
      max: Math.max(min, spec.scale?.max ?? 10),
      concurrency: spec.scale?.concurrency ?? 50,
      idleTimeoutMs: must(
        spec.scale?.idleTimeout === undefined ? undefined : parseDuration(spec.scale.idleTimeout),
        300_000,
      ),
      target: spec.scale?.target,
      windowMs: spec.scale?.window === undefined ? undefined : parseDuration(spec.scale.window),
    },
    auth: spec.auth ?? "public",
    ...(spec.auth === "signed" && spec.signature
      ? {
          signature: {
            secret: spec.signature.secret,
            header: (spec.signature.header ?? "X-Hub-Signature-256").toLowerCase(),
          },
        }
      : {}),
    ...(spec.rateLimit === undefined ? {} : { rateLimit: parseRate(spec.rateLimit) }),
    network: networkMode(spec.network),
    labels: spec.labels ?? {},
    annotations: spec.annotations ?? {},
  };
}

function parseCpu(cpu: string | number | undefined): number | undefined {
  if (cpu === undefined) {
    return undefined;
  }
  if (typeof cpu === "number") {
    return cpu;
  }
  return cpu.endsWith("m") ? Number(cpu.slice(0, -1)) / 1000 : Number(cpu);
}

/** Human form of a resolved config, for `describe` and the API. */
export function describeConfig(config: FunctionConfig): Record<string, unknown> {
  return {
    runtime: config.runtime,
    handler: config.handler,
    ...(config.command === undefined ? {} : { command: config.command, mode: config.mode }),
    timeout: formatDuration(config.timeoutMs),
    memory: formatSize(config.memoryBytes),
    cpu: config.cpu ?? "unlimited",
    maxBody: formatSize(config.maxBodyBytes),
    scale: {
      min: config.scale.min,
      max: config.scale.max,
      concurrency: config.scale.concurrency,
      idleTimeout: formatDuration(config.scale.idleTimeoutMs),
    },
    auth: config.auth,
    ...(config.signature ? { signature: config.signature } : {}),
    ...(config.rateLimit
      ? { rateLimit: `${config.rateLimit.count}/${periodName(config.rateLimit.periodMs)}` }
      : {}),
  };
}

function periodName(ms: number): string {
  return ms === 1000 ? "s" : ms === 60_000 ? "m" : "h";
}

/** Identity of a revision: same package and same resolved config → same revision. */
export function revisionHash(config: FunctionConfig, packageDigest: string): string {
  // Without config maps the hash is the one revisions had before they existed, so an unchanged
  // redeploy stays a no-op across the upgrade.
  const { configs, ...rest } = config;
  const hashed = configs.length > 0 ? config : rest;
  const canonical = JSON.stringify(sortKeys({ config: hashed, packageDigest }));
  return createHash("sha256").update(canonical).digest("hex");
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map(sortKeys);
  }
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => [k, sortKeys(v)]),
    );
  }
  return value;
}

/** A field of a spec that is wrong for the spec as a whole, e.g. `command` without runtime exec. */
export interface SpecProblem {
  readonly path: string;
  readonly message: string;
}

/** What is wrong with `command` and `mode` for the spec's runtime; empty when nothing is. */
export function execFieldProblems(
  spec: Pick<FunctionSpec, "runtime" | "command" | "mode" | "compat">,
): SpecProblem[] {
  const problems: SpecProblem[] = [];
  if (
    (spec.compat === "openfaas-springboot" || spec.compat === "openfaas-vertx") &&
    spec.runtime !== "java"
  ) {
    problems.push({
      path: "compat",
      message: `compat ${spec.compat} is the shape of a Java template (lang ${spec.compat.slice("openfaas-".length)}); deploy it with --runtime java`,
    });
  }
  if (spec.runtime === "exec" && spec.command === undefined) {
    problems.push({
      path: "command",
      message:
        "runtime exec needs a command: runlet deploy NAME --runtime exec --command 'CMD' (command: in runlet.yaml)",
    });
  }
  if (spec.runtime === "go") {
    // The build compiles the program and runs it as an HTTP server (docs/builds.md).
    if (spec.command !== undefined) {
      problems.push({
        path: "command",
        message:
          "runtime go runs the program its build compiles; remove command (to run another program, deploy with --runtime exec)",
      });
    }
    if (spec.mode === "stdio") {
      problems.push({
        path: "mode",
        message: "runtime go runs an HTTP server on $PORT; remove mode or set it to http",
      });
    }
  }
  if (instanceRuntimeOf(spec.runtime) !== "exec") {
    if (spec.command !== undefined) {
      problems.push({
        path: "command",
        message: `command is for runtime exec; runtime ${spec.runtime} runs its handler instead. Remove command, or deploy with --runtime exec`,
      });
    }
    if (spec.mode !== undefined) {
      problems.push({
        path: "mode",
        message: `mode is for runtime exec; remove it for runtime ${spec.runtime}`,
      });
    }
  } else if (spec.compat !== undefined && spec.runtime !== "go") {
    problems.push({
      path: "compat",
      message: `compat ${spec.compat} is a handler shape for node and python functions; runtime ${spec.runtime} runs a program. Remove compat, or deploy with --runtime node or python`,
    });
  }
  return problems;
}

/** Throws the same error as a schema failure when `auth: signed` names no secret to check with. */
export function assertAuthFields(
  spec: Pick<FunctionSpec, "auth" | "signature">,
  what: string,
): void {
  if (spec.auth === "signed" && spec.signature === undefined) {
    throw invalidSpec(what, [
      {
        path: "signature",
        message:
          "auth: signed needs the secret calls are signed with: signature: { secret: NAME } (create it with runlet secret create NAME)",
      },
    ]);
  }
  if (spec.auth !== "signed" && spec.signature !== undefined) {
    throw invalidSpec(what, [
      {
        path: "signature",
        message: "signature is used only with auth: signed; set auth: signed or remove it",
      },
    ]);
  }
}

/** Throws the same error as a schema failure when `command` or `mode` do not fit the runtime. */
export function assertExecFields(
  spec: Pick<FunctionSpec, "runtime" | "command" | "mode" | "compat">,
  what: string,
): void {
  const problems = execFieldProblems(spec);
  if (problems.length > 0) {
    throw invalidSpec(what, problems);
  }
}

function invalidSpec(what: string, problems: readonly SpecProblem[]): UserError {
  const lines = problems.map((p) => `  - ${p.path ? `${p.path}: ` : ""}${p.message}`);
  return new UserError("RUNLET_INVALID_SPEC", `Invalid ${what}:\n${lines.join("\n")}`, {
    details: { problems },
  });
}

/** Turns zod issues into one UserError listing every problem, each with its field path. */
export function specError(what: string, error: z.ZodError): UserError {
  const problems = error.issues.map((issue) => ({
    path: issue.path.map(String).join("."),
    message: issue.message,
  }));
  return invalidSpec(what, problems);
}

export function parseFunctionSpec<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    throw specError(what, parsed.error);
  }
  return parsed.data;
}
