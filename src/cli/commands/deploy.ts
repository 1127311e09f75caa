/** `runlet deploy`: pack a source folder, upload it, and deploy it as a new revision. */
import { existsSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { z } from "zod";
import { UserError, isUserError } from "../../errors.js";
import { packDirectory, packEmptySource } from "../../packaging/pack.js";
import { sourceFiles } from "../../packaging/source-files.js";
import {
  assertExecFields,
  compatShapes,
  defaultHandler,
  functionSpecSchema,
  parseFunctionSpec,
  type FunctionSpec,
} from "../../spec/function-spec.js";
import { withRunletHandler } from "../../spec/compat-handler.js";
import { assertValidName } from "../../spec/names.js";
import { readStackFile, type BrokenFunction, type StackFunction } from "../../spec/stack-file.js";
import { humanSize } from "../../spec/units.js";
import { resolveTarget } from "../client-config.js";
import { GatewayClient, apiError } from "../client.js";
import { clientFlagsSchema, defineCommand } from "../command.js";
import { readDeployStream, type StreamedDeployResult } from "../deploy-progress.js";
import { line, readAll, type CliIO } from "../io.js";

export interface DeployedFunction {
  readonly name: string;
  readonly revision: number;
  readonly outcome: "created" | "updated" | "unchanged";
  readonly url: string;
}

/** What a deploy of several functions did: the ones deployed, and each one that failed. */
export interface DeployOutcome {
  readonly deployed: readonly DeployedFunction[];
  readonly failed: readonly { readonly name: string; readonly error: UserError }[];
}

/**
 * Packs, uploads (unless the gateway has the package) and deploys each function in turn. One
 * that fails for its own reason (a UserError: its code does not load, a secret is missing)
 * does not stop the others, as faas-cli and `fission spec apply` go on; any other error does.
 */
export async function deployFunctions(
  client: GatewayClient,
  functions: readonly StackFunction[],
  progress: (text: string) => void,
): Promise<DeployOutcome> {
  const deployed: DeployedFunction[] = [];
  const failed: { name: string; error: UserError }[] = [];
  for (const given of functions) {
    try {
      // A function's own namespace (stack.yml) unless the command line named one.
      const target =
        given.namespace === undefined || client.target.namespaceGiven === true
          ? client
          : client.withNamespace(given.namespace);
      deployed.push(await deployOne(target, given, progress));
    } catch (error) {
      if (!isUserError(error) || functions.length === 1) {
        throw error;
      }
      progress(`✘ ${given.name} was not deployed: ${error.message}`);
      failed.push({ name: given.name, error });
    }
  }
  return { deployed, failed };
}

/** Why each function was not deployed, line by line: its own problems or its deploy's error. */
export interface NotDeployed {
  readonly name: string;
  readonly reasons: readonly string[];
}

/**
 * The error a deploy of several functions ends with when some were not deployed: each one and
 * why, and which ones are live now, so the user knows what to fix and that the rest is done.
 */
export function notDeployedError(
  notDeployed: readonly NotDeployed[],
  deployed: readonly DeployedFunction[],
  code: UserError["code"],
): UserError {
  const count = notDeployed.length;
  const lines = notDeployed.flatMap((fn) =>
    fn.reasons.map((reason) => `  ${fn.name}: ${reason.split("\n").join("\n    ")}`),
  );
  const rest =
    deployed.length > 0
      ? `Deployed: ${deployed.map((fn) => fn.name).join(", ")}.`
      : "None was deployed.";
  return new UserError(
    code,
    `${count} function${count === 1 ? " was" : "s were"} not deployed:\n${lines.join("\n")}\n${rest} Fix ${count === 1 ? "it" : "them"} and run the deploy again.`,
    { details: { notDeployed: notDeployed.map((fn) => fn.name) } },
  );
}

/** The error of an outcome with failures and of functions left out before; undefined for none. */
export function outcomeError(
  outcome: DeployOutcome,
  leftOut: readonly NotDeployed[],
  leftOutCode: UserError["code"],
): UserError | undefined {
  const notDeployed = [
    ...leftOut,
    ...outcome.failed.map((f) => ({ name: f.name, reasons: [f.error.message] })),
  ];
  if (notDeployed.length === 0) {
    return undefined;
  }
  const code = leftOut.length > 0 ? leftOutCode : (outcome.failed[0]?.error.code ?? leftOutCode);
  return notDeployedError(notDeployed, outcome.deployed, code);
}

/** A function's source, packed and on the gateway, and the spec it deploys with. */
export interface UploadedFunction {
  readonly fn: StackFunction;
  readonly digest: string;
}

/**
 * Packs one function's source and uploads it unless the gateway has it: what a deploy and a
 * push both start with.
 */
export async function uploadFunction(
  client: GatewayClient,
  given: StackFunction,
  progress: (text: string) => void,
): Promise<UploadedFunction> {
  const isFolder = statSync(given.source, { throwIfNoEntry: false })?.isDirectory() === true;
  const files = isFolder ? sourceFiles(given.source) : undefined;
  const fn = { ...given, spec: withRunletHandler(given.spec, files) };
  assertValidName(fn.name);
  const handlerFile = (fn.spec.handler ?? defaultHandler[fn.spec.runtime]).replace(/:[^:/]*$/, "");
  // A Java handler names a class, not a file, and so does a Go entrypoint of another
  // platform ("Handler"): the server says when it is not in the build.
  if (
    fn.spec.runtime !== "java" &&
    !(fn.spec.runtime === "go" && fn.spec.compat !== undefined) &&
    existsSync(fn.source) &&
    !existsSync(join(fn.source, handlerFile))
  ) {
    throw new UserError(
      "RUNLET_HANDLER_NOT_FOUND",
      `Handler file ${handlerFile} is not in ${fn.source}; set --handler (or handler: in runlet.yaml) to the file that exports your function.`,
    );
  }
  // A program on the PATH (`--command "tr a-z A-Z"`) needs no code of its own.
  const packed =
    !isFolder && fn.sourceImplied === true && fn.spec.runtime === "exec" && fn.spec.command
      ? await packEmptySource()
      : await packDirectory(fn.source);
  progress(
    `${fn.name}: packed ${fn.source} (${packed.files} ${packed.files === 1 ? "file" : "files"}, ${humanSize(packed.archive.length)}) as ${packed.digest.slice(0, 19)}…`,
  );
  const head = await client.raw("HEAD", `/api/v1/packages/${packed.digest}`);
  head.body.resume();
  if (head.status !== 200) {
    const upload = await client.raw("POST", "/api/v1/packages", {
      body: packed.archive,
      headers: { "content-type": "application/gzip", "x-runlet-digest": packed.digest },
    });
    const text = (await readAll(upload.body)).toString("utf8");
    if (upload.status >= 300) {
      throw apiError(upload.status, text);
    }
    progress(`${fn.name}: uploaded`);
  }
  return { fn, digest: packed.digest };
}

/**
 * Records a function's image (its stack file's `image:`) as a tag of its uploaded package and
 * the shape it runs in, so an OpenFaaS deploy of that image (faas-cli) deploys this package.
 */
export async function tagFunctionImage(
  client: GatewayClient,
  uploaded: UploadedFunction,
  image: string,
): Promise<{ image: string; package: string; created: boolean; previous?: string }> {
  const { runtime, handler, compat, command, mode } = uploaded.fn.spec;
  const shape = Object.fromEntries(
    Object.entries({ runtime, handler, compat, command, mode }).filter(([, v]) => v !== undefined),
  );
  return client.json("PUT", imageTagPath(image), { package: uploaded.digest, ...shape });
}

/** The API path of an image's tag: the name is the rest of the path, each part escaped. */
export function imageTagPath(image: string): string {
  return `/api/v1/images/${image.split("/").map(encodeURIComponent).join("/")}`;
}

/**
 * Packs, uploads (unless the gateway has the package) and deploys one function; a function
 * with an image (stack.yml's `image:`) gets it recorded as a tag of its package first, as
 * `runlet push` would.
 */
export async function deployOne(
  client: GatewayClient,
  given: StackFunction,
  progress: (text: string) => void,
): Promise<DeployedFunction> {
  const uploaded = await uploadFunction(client, given, progress);
  const { fn } = uploaded;
  if (fn.image !== undefined) {
    await tagFunctionImage(client, uploaded, fn.image);
    progress(`${fn.name}: tagged as ${fn.image}`);
  }
  // The gateway streams the build (dependencies, compilation) and ends with the result.
  const response = await client.raw("PUT", `/api/v1/functions/${fn.name}`, {
    body: JSON.stringify({ ...fn.spec, package: uploaded.digest }),
    headers: { "content-type": "application/json", accept: "application/x-ndjson" },
  });
  if (response.status >= 300) {
    throw apiError(response.status, (await readAll(response.body)).toString("utf8"));
  }
  const result = String(response.headers["content-type"]).includes("application/x-ndjson")
    ? await readDeployStream(response.body, (text) => progress(`${fn.name}: ${text}`))
    : (JSON.parse((await readAll(response.body)).toString("utf8")) as StreamedDeployResult);
  return {
    name: fn.name,
    revision: result.revision,
    outcome: result.outcome,
    url: `${client.target.gateway}/function/${client.address(fn.name)}`,
  };
}

export const deployCommand = defineCommand({
  name: "deploy",
  arguments: "[names...]",
  description:
    "deploy functions from source: one from flags, or those of a stack file (runlet.yaml)",
  client: true,
  json: true,
  options: [
    { flags: "-f, --file <path>", description: "stack file", defaultValue: "runlet.yaml" },
    {
      flags: "--runtime <runtime>",
      description: "runtime of the function: node, typescript, python, exec or go",
    },
    { flags: "--source <dir>", description: "folder with the function's code" },
    {
      flags: "--handler <file>",
      description: "file (and :export) with the handler, e.g. index.js",
    },
    {
      flags: "--command <command>",
      description: "runtime exec: the program to run, in the source folder, e.g. './handler.sh'",
    },
    {
      flags: "--mode <mode>",
      description: "runtime exec: stdio (a process per call) or http (a server on $PORT)",
    },
    {
      flags: "-e, --env <KEY=VALUE>",
      description: "environment variable (repeatable)",
      repeatable: true,
    },
    {
      flags: "--secret <name>",
      description: "secret the function may read (repeatable)",
      repeatable: true,
    },
    {
      flags: "--config <name>",
      description: "config map the function may read (repeatable; runlet config create)",
      repeatable: true,
    },
    { flags: "--timeout <duration>", description: "longest a call may run, e.g. 10s" },
    { flags: "--memory <size>", description: "memory limit, e.g. 128Mi" },
    { flags: "--max-body <size>", description: "largest request body, e.g. 10Mi" },
    {
      flags: "--auth <mode>",
      description:
        "public, required (calls need an invoker token, an invoke key or the admin token) or signed (an HMAC signature; set signature.secret in runlet.yaml)",
    },
    { flags: "--cpu <cores>", description: "CPU limit in cores, e.g. 0.5 or 500m" },
    { flags: "--min <n>", description: "instances kept running even when idle (0 scales to zero)" },
    { flags: "--max <n>", description: "most instances at once" },
    { flags: "--concurrency <n>", description: "concurrent calls one instance serves" },
    {
      flags: "--idle-timeout <duration>",
      description: "scale to zero after this long without calls, e.g. 5m",
    },
    { flags: "--no-network", description: "give the function no network at all" },
    {
      flags: "--host-network",
      description:
        "share the host's network, its loopback services included (default: outbound only)",
    },
    {
      flags: "--compat <shape>",
      description: `handler shape of another platform: ${compatShapes.join(", ")}`,
    },
  ],
  examples: [
    "runlet deploy                      # every function in ./runlet.yaml",
    "runlet deploy hello --runtime node --source ./hello --env GREETING=hi --timeout 10s",
    "runlet deploy -f stack.yml         # an OpenFaaS stack file",
    "runlet deploy hello --runtime node --source ./hello --compat fission",
    "runlet deploy api --runtime node --source ./api --min 1 --max 20 --concurrency 10 --memory 128Mi --cpu 0.5",
    "runlet deploy shout --runtime exec --source ./shout --command 'tr a-z A-Z'",
    "runlet deploy web --runtime exec --source ./web --command 'python3 server.py' --mode http",
  ],
  optionsSchema: clientFlagsSchema.extend({
    file: z.string(),
    runtime: z.string().optional(),
    source: z.string().optional(),
    handler: z.string().optional(),
    command: z.string().optional(),
    mode: z.string().optional(),
    env: z.array(z.string()).optional(),
    secret: z.array(z.string()).optional(),
    config: z.array(z.string()).optional(),
    timeout: z.string().optional(),
    memory: z.string().optional(),
    maxBody: z.string().optional(),
    auth: z.string().optional(),
    cpu: z.string().optional(),
    min: z.coerce.number().int().optional(),
    max: z.coerce.number().int().optional(),
    concurrency: z.coerce.number().int().optional(),
    idleTimeout: z.string().optional(),
    network: z.boolean().optional(),
    hostNetwork: z.boolean().optional(),
    compat: z.string().optional(),
    json: z.boolean().optional(),
  }),
  async run(args, options, io) {
    const names = (args[0] as string[] | undefined) ?? [];
    const { functions, broken, namespace } = selectFunctions(names, options, io);
    // -n (or RUNLET_NAMESPACE) over the stack file's namespace:.
    const client = new GatewayClient(
      resolveTarget(
        {
          ...options,
          namespace: options.namespace ?? namespace,
          namespaceGiven: options.namespace !== undefined,
        },
        io.env,
      ),
    );
    for (const fn of broken) {
      line(io.stderr, `✘ ${fn.name} is not deployed: ${fn.problems.join("; ")}`);
    }
    const outcome = await deployFunctions(client, functions, (text) => {
      if (!options.json) {
        line(io.stderr, text);
      }
    });
    if (options.json) {
      line(io.stdout, JSON.stringify(outcome.deployed, null, 2));
    } else {
      for (const result of outcome.deployed) {
        const what =
          result.outcome === "unchanged"
            ? "unchanged"
            : result.outcome === "created"
              ? "deployed"
              : "updated";
        line(io.stdout, `✔ ${result.name} ${what} (revision ${result.revision}) → ${result.url}`);
      }
    }
    const error = outcomeError(
      outcome,
      broken.map((fn) => ({ name: fn.name, reasons: fn.problems })),
      "RUNLET_INVALID_STACK_FILE",
    );
    if (error) {
      throw error;
    }
  },
});

type DeployOptions = z.infer<typeof deployCommand.optionsSchema>;

function selectFunctions(
  names: readonly string[],
  options: DeployOptions,
  io: CliIO,
): {
  functions: readonly StackFunction[];
  broken: readonly BrokenFunction[];
  namespace?: string | undefined;
} {
  if (
    options.source !== undefined ||
    options.runtime !== undefined ||
    options.compat !== undefined
  ) {
    const [name, ...rest] = names;
    if (!name || rest.length > 0) {
      throw new UserError(
        "RUNLET_INVALID_REQUEST",
        "Deploying from flags takes exactly one NAME: runlet deploy NAME --runtime node --source DIR",
      );
    }
    return {
      functions: [
        {
          name,
          source: resolve(io.cwd, options.source ?? name),
          sourceImplied: options.source === undefined,
          spec: specFromFlags(options),
        },
      ],
      broken: [],
    };
  }
  const stack = readStackFile(stackFilePath(options.file, io), names);
  for (const notice of stack.notices ?? []) {
    line(io.stderr, `note: ${notice}`);
  }
  const chosen =
    names.length === 0 ? stack.functions : stack.functions.filter((fn) => names.includes(fn.name));
  const unknown = names.filter((name) => !stack.functions.some((fn) => fn.name === name));
  if (unknown.length > 0) {
    throw new UserError(
      "RUNLET_FUNCTION_NOT_FOUND",
      `${unknown.join(", ")} ${unknown.length === 1 ? "is" : "are"} not in ${options.file}; its functions: ${stack.functions.map((fn) => fn.name).join(", ") || "none"}. To deploy a folder directly: runlet deploy NAME --runtime node --source DIR`,
    );
  }
  if (chosen.length === 0) {
    throw new UserError("RUNLET_INVALID_STACK_FILE", `${options.file} declares no functions.`);
  }
  return {
    functions: chosen,
    broken: names.length === 0 ? (stack.broken ?? []) : [],
    namespace: stack.namespace,
  };
}

/** The stack file: the one named, or else OpenFaaS's stack.yml when there is no runlet.yaml. */
function stackFilePath(file: string, io: CliIO): string {
  const named = resolve(io.cwd, file);
  if (file !== "runlet.yaml" || existsSync(named)) {
    return named;
  }
  const openfaas = ["stack.yml", "stack.yaml"]
    .map((name) => resolve(io.cwd, name))
    .find((path) => existsSync(path));
  if (openfaas) {
    line(io.stderr, `note: no runlet.yaml here; deploying the OpenFaaS stack file ${openfaas}`);
  }
  return openfaas ?? named;
}

function specFromFlags(options: DeployOptions): FunctionSpec {
  const env: Record<string, string> = {};
  for (const pair of options.env ?? []) {
    const eq = pair.indexOf("=");
    if (eq <= 0) {
      throw new UserError("RUNLET_INVALID_REQUEST", `--env ${pair}: expected KEY=VALUE`);
    }
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const spec: Record<string, unknown> = { runtime: options.runtime ?? "node" };
  const set = (key: string, value: unknown): void => {
    if (value !== undefined) {
      spec[key] = value;
    }
  };
  set("handler", options.handler);
  set("command", options.command);
  set("mode", options.mode);
  set("compat", options.compat);
  set("env", Object.keys(env).length > 0 ? env : undefined);
  set("secrets", options.secret);
  set("configs", options.config);
  set("timeout", options.timeout);
  set("memory", options.memory);
  set("maxBody", options.maxBody);
  set("auth", options.auth);
  set(
    "network",
    options.network === false ? false : options.hostNetwork === true ? "host" : undefined,
  );
  set(
    "cpu",
    options.cpu === undefined
      ? undefined
      : /^\d+(\.\d+)?$/.test(options.cpu)
        ? Number(options.cpu)
        : options.cpu,
  );
  const scale: Record<string, unknown> = {};
  for (const [key, value] of Object.entries({
    min: options.min,
    max: options.max,
    concurrency: options.concurrency,
    idleTimeout: options.idleTimeout,
  })) {
    if (value !== undefined) {
      scale[key] = value;
    }
  }
  set("scale", Object.keys(scale).length > 0 ? scale : undefined);
  const parsed = parseFunctionSpec(functionSpecSchema, spec, "function options");
  assertExecFields(parsed, "function options");
  return parsed;
}
