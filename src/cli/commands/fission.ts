/**
 * `runlet fission function create|update`, `route create` (`httptrigger create`), `env create`
 * and `spec apply`: the fission CLI's verbs with its flags, for the scripts and READMEs of
 * users moving over. `function create` writes the specs `fission function create --spec`
 * would have written (an Environment, an ArchiveUploadSpec of --code or --src, a Package, the
 * Function, an HTTPTrigger for --url) and deploys them with the importer that reads Fission
 * specs (importers/fission.ts), so a command and its spec deploy the same thing.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { stringify } from "yaml";
import { z } from "zod";
import { UserError } from "../../errors.js";
import { readFissionSpecs } from "../../importers/fission.js";
import { assertValidName } from "../../spec/names.js";
import { resolveTarget } from "../client-config.js";
import { GatewayClient } from "../client.js";
import { clientFlagsSchema, defineCommand, type OptionDefinition } from "../command.js";
import { line } from "../io.js";
import {
  refuseUnsupportedFlags,
  unsupportedFlagOptions,
  type UnsupportedFlags,
} from "../unsupported-flags.js";
import { deployImported } from "./import.js";

/** The runtime an environment's name or image says, as Fission's own images are named. */
function environmentImage(env: string, image: string | undefined): string {
  const given = image ?? env;
  if (/node/i.test(given)) {
    return image ?? "fission/node-env";
  }
  if (/python/i.test(given)) {
    return image ?? "fission/python-env";
  }
  if (/jvm|java/i.test(given)) {
    return image ?? "fission/jvm-env";
  }
  throw new UserError(
    "RUNLET_INVALID_REQUEST",
    image === undefined
      ? `Runlet keeps no Fission environments: it tells the runtime by the environment's name, and ${env} names none; name it after its runtime (--env nodejs, --env python, --env jvm)`
      : `environment image ${image} is none of Fission's node, python or jvm environments; Runlet runs those three`,
  );
}

const unsupported: UnsupportedFlags = {
  pkg: {
    flags: "--pkg <name>",
    instead: "Runlet keeps no separate packages: pass the source with --code FILE or --src ZIP",
  },
  buildcmd: {
    flags: "--buildcmd <cmd>",
    instead:
      "Runlet builds at deploy from the source's package.json, requirements.txt or pom.xml: drop it",
  },
};

const functionOptions: readonly OptionDefinition[] = [
  { flags: "--name <name>", description: "the function's name" },
  {
    flags: "--env <env>",
    description: "environment: nodejs, python or jvm (its name says the runtime)",
  },
  { flags: "--code <file>", description: "a source file (repeatable)", repeatable: true },
  {
    flags: "--src <archive>",
    description: "a source archive (a .zip) or folder (repeatable)",
    repeatable: true,
  },
  {
    flags: "--deploy <archive>",
    description: "a deployment archive (repeatable)",
    repeatable: true,
  },
  { flags: "--entrypoint <entrypoint>", description: "e.g. hello.main, or a module name" },
  {
    flags: "--secret <name>",
    description: "a secret mounted at /secrets/default/NAME (repeatable)",
    repeatable: true,
  },
  {
    flags: "--configmap <name>",
    description: "a config map at /configs/default/NAME (repeatable)",
    repeatable: true,
  },
  { flags: "--maxmemory <MiB>", description: "memory limit in MiB" },
  { flags: "--maxcpu <millicores>", description: "CPU limit in millicores" },
  { flags: "--minscale <n>", description: "instances kept running" },
  { flags: "--maxscale <n>", description: "most instances" },
  { flags: "--fntimeout <seconds>", description: "call timeout (fission: 60)" },
  { flags: "--idletimeout <seconds>", description: "idle time before an instance stops" },
  { flags: "--requestsperpod <n>", description: "concurrent calls per instance" },
  { flags: "--executortype <type>", description: "accepted (poolmgr, newdeploy): Runlet has one" },
  { flags: "--url <path>", description: "also route this path to it (an HTTP trigger)" },
  { flags: "--route <path>", description: "same as --url" },
  {
    flags: "--method <method>",
    description: "the route's method (repeatable; default GET)",
    repeatable: true,
  },
  ...unsupportedFlagOptions(unsupported),
];

const count = z.coerce.number().int().min(0).optional();
const functionOptionsSchema = clientFlagsSchema.extend({
  name: z.string().optional(),
  env: z.string().optional(),
  code: z.array(z.string()).optional(),
  src: z.array(z.string()).optional(),
  deploy: z.array(z.string()).optional(),
  entrypoint: z.string().optional(),
  secret: z.array(z.string()).optional(),
  configmap: z.array(z.string()).optional(),
  maxmemory: count,
  maxcpu: count,
  minscale: count,
  maxscale: count,
  fntimeout: count,
  idletimeout: count,
  requestsperpod: count,
  executortype: z.enum(["poolmgr", "newdeploy", "container"]).optional(),
  url: z.string().optional(),
  route: z.string().optional(),
  method: z.array(z.string()).optional(),
  pkg: z.string().optional(),
  buildcmd: z.string().optional(),
});
type FunctionOptions = z.infer<typeof functionOptionsSchema>;

/** The spec documents `fission function create --spec` writes for these flags. */
function functionSpecs(options: FunctionOptions, cwd: string): Record<string, unknown>[] {
  refuseUnsupportedFlags(options, unsupported);
  if (options.executortype === "container") {
    throw new UserError(
      "RUNLET_INVALID_REQUEST",
      "--executortype container runs an image, and Runlet runs source: pass --code or --src with --env nodejs, python or jvm",
    );
  }
  const name = options.name;
  const sources = [...(options.deploy ?? []), ...(options.src ?? []), ...(options.code ?? [])];
  if (name === undefined || options.env === undefined || sources.length === 0) {
    throw new UserError(
      "RUNLET_INVALID_REQUEST",
      "fission function create needs --name, --env and --code (or --src), e.g. runlet fission function create --name hello --env nodejs --code hello.js",
    );
  }
  assertValidName(name, "function");
  const image = environmentImage(options.env, undefined);
  const limits: Record<string, string> = {};
  if (options.maxmemory !== undefined) {
    limits.memory = `${String(options.maxmemory)}Mi`;
  }
  if (options.maxcpu !== undefined) {
    limits.cpu = `${String(options.maxcpu)}m`;
  }
  const upload = `${name}-source`;
  const archive = { type: "url", url: `archive://${upload}` };
  const docs: Record<string, unknown>[] = [
    {
      apiVersion: "fission.io/v1",
      kind: "Environment",
      metadata: { name: options.env },
      spec: { runtime: { image } },
    },
    { kind: "ArchiveUploadSpec", name: upload, include: sources.map((s) => resolve(cwd, s)) },
    {
      apiVersion: "fission.io/v1",
      kind: "Package",
      metadata: { name: `${name}-pkg` },
      spec: {
        environment: { name: options.env },
        ...(options.deploy === undefined ? { source: archive } : { deployment: archive }),
      },
    },
    {
      apiVersion: "fission.io/v1",
      kind: "Function",
      metadata: { name },
      spec: {
        environment: { name: options.env },
        package: {
          packageref: { name: `${name}-pkg` },
          ...(options.entrypoint === undefined ? {} : { functionName: options.entrypoint }),
        },
        ...(options.fntimeout === undefined ? {} : { functionTimeout: options.fntimeout }),
        ...(options.idletimeout === undefined ? {} : { idletimeout: options.idletimeout }),
        ...(options.requestsperpod === undefined ? {} : { requestsPerPod: options.requestsperpod }),
        secrets: (options.secret ?? []).map((s) => ({ name: s })),
        configmaps: (options.configmap ?? []).map((c) => ({ name: c })),
        resources: { limits },
        InvokeStrategy: {
          ExecutionStrategy: {
            ...(options.minscale === undefined ? {} : { MinScale: options.minscale }),
            ...(options.maxscale === undefined ? {} : { MaxScale: options.maxscale }),
          },
        },
      },
    },
  ];
  const url = options.url ?? options.route;
  if (url !== undefined) {
    docs.push({
      apiVersion: "fission.io/v1",
      kind: "HTTPTrigger",
      metadata: { name: `${name}-route` },
      spec: {
        relativeurl: url,
        methods: options.method ?? ["GET"],
        functionref: { type: "name", name },
      },
    });
  }
  return docs;
}

function functionCommandFor(verb: "create" | "update") {
  return defineCommand({
    name: `fission function ${verb}`,
    description: `fission function ${verb}, with its flags: ${verb} a function from its source`,
    client: true,
    options: functionOptions,
    examples: [
      `runlet fission function ${verb} --name hello --env nodejs --code hello.js --url /hello`,
      `runlet fission function ${verb} --name api --env python --src api.zip --entrypoint main.handler`,
    ],
    optionsSchema: functionOptionsSchema,
    async run(_args, options, io) {
      const specs = functionSpecs(options, io.cwd);
      const root = await mkdtemp(join(tmpdir(), "runlet-fission-"));
      try {
        const dir = join(root, "specs");
        await mkdir(dir);
        await writeFile(
          join(dir, `function-${options.name ?? ""}.yaml`),
          specs.map((doc) => stringify(doc)).join("---\n"),
        );
        await deployImported(readFissionSpecs(dir), options, io);
      } finally {
        await rm(root, { recursive: true, force: true });
      }
    },
  });
}

export const fissionFunctionCreateCommand = functionCommandFor("create");
export const fissionFunctionUpdateCommand = functionCommandFor("update");

const routeOptionsSchema = clientFlagsSchema.extend({
  name: z.string().optional(),
  function: z.string().optional(),
  url: z.string().optional(),
  prefix: z.string().optional(),
  method: z.array(z.string()).optional(),
});

function routeCommandFor(noun: "route" | "httptrigger") {
  return defineCommand({
    name: `fission ${noun} create`,
    description: `fission ${noun} create: route a path on the gateway's root to a function (an HTTP trigger)`,
    client: true,
    options: [
      { flags: "--name <name>", description: "the trigger's name (default: FUNCTION-route)" },
      { flags: "--function <name>", description: "the function it calls" },
      { flags: "--url <path>", description: "the path, e.g. /hello/{name}" },
      { flags: "--prefix <path>", description: "every path under this prefix" },
      {
        flags: "--method <method>",
        description: "method (repeatable; default GET)",
        repeatable: true,
      },
    ],
    examples: [`runlet fission ${noun} create --method GET --url /hello --function hello`],
    optionsSchema: routeOptionsSchema,
    async run(_args, options, io) {
      const fn = options.function;
      const path =
        options.prefix !== undefined ? `${options.prefix.replace(/\/$/, "")}/*` : options.url;
      if (fn === undefined || path === undefined) {
        throw new UserError(
          "RUNLET_INVALID_REQUEST",
          `fission ${noun} create needs --function and --url (or --prefix), e.g. runlet fission ${noun} create --method GET --url /hello --function hello`,
        );
      }
      const client = new GatewayClient(resolveTarget(options, io.env));
      const methods = options.method ?? ["GET"];
      for (const [index, method] of methods.entries()) {
        // One trigger a method; a name in use is the server's 409, which says to pick another.
        const base = options.name ?? `${fn}-route`;
        const name = methods.length > 1 ? `${base}-${String(index + 1)}` : base;
        const route = `${method.toUpperCase()} ${path}`;
        await client.json("POST", "/api/v1/triggers", { name, function: fn, http: route });
        line(io.stdout, `trigger '${name}' created: ${route} → ${fn}`);
      }
    },
  });
}

export const fissionRouteCreateCommand = routeCommandFor("route");
export const fissionHttpTriggerCreateCommand = routeCommandFor("httptrigger");

export const fissionEnvCreateCommand = defineCommand({
  name: "fission env create",
  description: "fission env create: checks the environment is one Runlet runs (it keeps none)",
  options: [
    { flags: "--name <name>", description: "the environment's name" },
    { flags: "--image <image>", description: "its image, e.g. fission/node-env" },
    { flags: "--builder <image>", description: "accepted: Runlet builds at deploy" },
  ],
  optionsSchema: z.object({
    name: z.string().optional(),
    image: z.string().optional(),
    builder: z.string().optional(),
  }),
  async run(_args, options, io) {
    if (options.name === undefined) {
      throw new UserError(
        "RUNLET_INVALID_REQUEST",
        "fission env create needs --name, e.g. runlet fission env create --name nodejs --image fission/node-env",
      );
    }
    const image = environmentImage(options.name, options.image);
    // Functions name their environment, and Runlet reads the runtime from that name.
    environmentImage(options.name, undefined);
    line(
      io.stdout,
      `environment '${options.name}' is Runlet's ${/node/i.test(image) ? "node" : /python/i.test(image) ? "python" : "java"} runtime: nothing to create (Runlet has its runtimes built in)`,
    );
  },
});

export const fissionSpecApplyCommand = defineCommand({
  name: "fission spec apply",
  description: "fission spec apply: deploy the specs/ folder (runlet import fission)",
  client: true,
  options: [{ flags: "--specdir <dir>", description: "the specs folder", defaultValue: "specs" }],
  optionsSchema: clientFlagsSchema.extend({ specdir: z.string() }),
  async run(_args, options, io) {
    await deployImported(readFissionSpecs(resolve(io.cwd, options.specdir)), options, io);
  },
});
