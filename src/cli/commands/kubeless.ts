/**
 * `runlet kubeless function deploy|update|delete|call|ls`: the kubeless CLI's function verbs
 * with its flags, for the scripts and READMEs of users moving over. The flags make the
 * Kubeless Function object the kubeless CLI would have made, and the importer that reads
 * those objects (importers/kubeless.ts) turns it into a Runlet function, so a command and
 * the manifest it stands for deploy the same thing.
 */
import { readFile } from "node:fs/promises";
import { basename, resolve } from "node:path";
import { z } from "zod";
import { UserError } from "../../errors.js";
import { isZip } from "../../importers/imported.js";
import { convertKubelessFunction } from "../../importers/kubeless.js";
import { assertValidName } from "../../spec/names.js";
import { clientFlagsSchema, defineCommand, type OptionDefinition } from "../command.js";
import {
  refuseUnsupportedFlags,
  unsupportedFlagOptions,
  type UnsupportedFlags,
} from "../unsupported-flags.js";
import { deployImported } from "./import.js";
import { invokeCommand } from "./invoke.js";
import { listCommand } from "./list.js";
import { removeCommand } from "./remove.js";

/** kubeless flags Runlet has no use for, and what to use instead. */
const unsupported: UnsupportedFlags = {
  runtimeImage: {
    flags: "--runtime-image <image>",
    instead: "Runlet runs source, not images: drop it (the runtime comes from --runtime)",
  },
  imagePullSecret: {
    flags: "--image-pull-secret <name>",
    instead: "Runlet pulls no images: drop it",
  },
  port: { flags: "--port <port>", instead: "functions answer at /function/NAME: drop it" },
  servicePort: { flags: "--servicePort <port>", instead: "drop it" },
  headless: { flags: "--headless", instead: "drop it" },
  nodeSelectors: {
    flags: "--node-selectors <selectors>",
    instead: "Runlet places its instances itself: drop it",
  },
  secrets: {
    flags: "--secrets <names>",
    instead:
      "make the secret with runlet secret create NAME and deploy with runlet deploy --secret NAME (the function reads it with context.secret)",
  },
};

const deployOptions: readonly OptionDefinition[] = [
  {
    flags: "--runtime <runtime>",
    description: "nodejs14, nodejs16, python3.9, java11 … (as kubeless)",
  },
  { flags: "--handler <module.function>", description: "e.g. hello.foo: function foo of hello.js" },
  { flags: "-f, --from-file <file>", description: "the function's source (a file, or a .zip)" },
  { flags: "-d, --dependencies <file>", description: "package.json or requirements.txt" },
  {
    flags: "-e, --env <KEY=VALUE>",
    description: "environment variable (repeatable)",
    repeatable: true,
  },
  { flags: "-l, --label <key=value>", description: "label (repeatable)", repeatable: true },
  { flags: "--memory <size>", description: "memory limit, e.g. 128Mi" },
  { flags: "--cpu <cpu>", description: "CPU limit, e.g. 500m" },
  { flags: "-t, --timeout <seconds>", description: "call timeout in seconds (kubeless: 180)" },
  { flags: "-s, --schedule <cron>", description: "also call it on this cron schedule" },
  { flags: "--trigger-http", description: "accepted: every function answers at /function/NAME" },
  ...unsupportedFlagOptions(unsupported),
];

const deployOptionsSchema = clientFlagsSchema.extend({
  runtime: z.string().optional(),
  handler: z.string().optional(),
  fromFile: z.string().optional(),
  dependencies: z.string().optional(),
  env: z.array(z.string()).optional(),
  label: z.array(z.string()).optional(),
  memory: z.string().optional(),
  cpu: z.string().optional(),
  timeout: z.string().optional(),
  schedule: z.string().optional(),
  triggerHttp: z.boolean().optional(),
  runtimeImage: z.string().optional(),
  imagePullSecret: z.string().optional(),
  port: z.string().optional(),
  servicePort: z.string().optional(),
  headless: z.boolean().optional(),
  nodeSelectors: z.string().optional(),
  secrets: z.string().optional(),
});
type DeployOptions = z.infer<typeof deployOptionsSchema>;

function keyValues(pairs: readonly string[] | undefined, flag: string): [string, string][] {
  return (pairs ?? []).map((pair) => {
    const eq = pair.indexOf("=");
    if (eq <= 0) {
      throw new UserError(
        "RUNLET_INVALID_REQUEST",
        `${flag} ${pair} is not KEY=VALUE; write it as ${flag} KEY=VALUE`,
      );
    }
    return [pair.slice(0, eq), pair.slice(eq + 1)];
  });
}

/** The Kubeless Function object `kubeless function deploy` would make of these flags. */
async function kubelessObject(
  name: string,
  options: DeployOptions,
  cwd: string,
): Promise<Record<string, unknown>> {
  refuseUnsupportedFlags(options, unsupported);
  const missing = (["runtime", "handler", "fromFile"] as const).filter(
    (flag) => options[flag] === undefined,
  );
  if (missing.length > 0) {
    throw new UserError(
      "RUNLET_INVALID_REQUEST",
      `kubeless function deploy needs ${missing.map((m) => (m === "fromFile" ? "--from-file" : `--${m}`)).join(", ")}, e.g. runlet kubeless function deploy ${name} --runtime nodejs14 --handler hello.foo --from-file hello.js`,
    );
  }
  const source = await readFile(resolve(cwd, options.fromFile ?? ""));
  const zip = isZip(source);
  const limits: Record<string, string> = {};
  if (options.memory !== undefined) {
    limits.memory = options.memory;
  }
  if (options.cpu !== undefined) {
    limits.cpu = options.cpu;
  }
  return {
    apiVersion: "kubeless.io/v1beta1",
    kind: "Function",
    metadata: { name, labels: Object.fromEntries(keyValues(options.label, "--label")) },
    spec: {
      runtime: options.runtime,
      handler: options.handler,
      function: zip ? source.toString("base64") : source.toString("utf8"),
      "function-content-type": zip ? "base64+zip" : "text",
      ...(options.dependencies === undefined
        ? {}
        : { deps: await readFile(resolve(cwd, options.dependencies), "utf8") }),
      ...(options.timeout === undefined ? {} : { timeout: options.timeout }),
      deployment: {
        spec: {
          template: {
            spec: {
              containers: [
                {
                  env: keyValues(options.env, "--env").map(([k, v]) => ({ name: k, value: v })),
                  resources: { limits },
                },
              ],
            },
          },
        },
      },
    },
  };
}

function deployCommandFor(verb: "deploy" | "update") {
  return defineCommand({
    name: `kubeless function ${verb}`,
    arguments: "<name>",
    description: `kubeless function ${verb}, with its flags: ${verb} a function from a file`,
    client: true,
    options: deployOptions,
    examples: [
      `runlet kubeless function ${verb} hello --runtime nodejs14 --handler hello.foo --from-file hello.js`,
      `runlet kubeless function ${verb} todo --runtime python3.9 --handler todo.handler -f todo.py -d requirements.txt`,
    ],
    optionsSchema: deployOptionsSchema,
    async run(args, options, io) {
      const name = String(args[0]);
      assertValidName(name, "function");
      const notices: string[] = [];
      const converted = convertKubelessFunction(
        name,
        await kubelessObject(name, options, io.cwd),
        notices,
      );
      if (typeof converted === "string") {
        throw new UserError("RUNLET_INVALID_IMPORT", `${name} cannot be deployed: ${converted}`);
      }
      const spec =
        options.schedule === undefined
          ? converted.spec
          : { ...converted.spec, triggers: [{ cron: options.schedule }] };
      await deployImported(
        {
          functions: [{ ...converted, spec, origin: basename(options.fromFile ?? name) }],
          notices,
        },
        options,
        io,
      );
    },
  });
}

export const kubelessDeployCommand = deployCommandFor("deploy");
export const kubelessUpdateCommand = deployCommandFor("update");

export const kubelessDeleteCommand = defineCommand({
  name: "kubeless function delete",
  arguments: "<names...>",
  description: "kubeless function delete: remove functions (runlet remove)",
  client: true,
  optionsSchema: clientFlagsSchema.extend({}),
  run: (args, options, io) => removeCommand.run(args, options, io),
});

export const kubelessCallCommand = defineCommand({
  name: "kubeless function call",
  arguments: "<name>",
  description: "kubeless function call: call a function, with --data as its body (runlet invoke)",
  client: true,
  options: [{ flags: "-d, --data <body>", description: "the request body" }],
  optionsSchema: clientFlagsSchema.extend({ data: z.string().optional() }),
  run: (args, options, io) =>
    invokeCommand.run(
      args,
      { ...options, path: "/", ...(options.data === undefined ? {} : { method: "POST" }) },
      io,
    ),
});

export const kubelessListCommand = defineCommand({
  name: "kubeless function ls",
  description: "kubeless function ls: list functions (runlet list)",
  client: true,
  optionsSchema: clientFlagsSchema.extend({}),
  run: (_args, options, io) => listCommand.run([], options, io),
});
