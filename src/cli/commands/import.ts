/** `runlet import fission DIR` and `runlet import kubeless FILE`: deploy another platform's functions. */
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { z } from "zod";
import { UserError } from "../../errors.js";
import { readFissionSpecs } from "../../importers/fission.js";
import {
  importError,
  toStackYaml,
  withFunctionSources,
  writeFunctionSources,
  type ImportResult,
  type ImportedFunction,
} from "../../importers/imported.js";
import { readKubelessFunctions } from "../../importers/kubeless.js";
import { functionSpecSchema } from "../../spec/function-spec.js";
import { resolveTarget } from "../client-config.js";
import { GatewayClient } from "../client.js";
import { clientFlagsSchema, defineCommand, type OptionDefinition } from "../command.js";
import { line, type CliIO } from "../io.js";
import { deployFunctions, outcomeError } from "./deploy.js";

const importOptions: readonly OptionDefinition[] = [
  { flags: "--dry-run", description: "print the equivalent runlet.yaml and deploy nothing" },
  {
    flags: "--out <dir>",
    description: "write runlet.yaml and each function's source to DIR instead of deploying",
  },
];

const importOptionsSchema = clientFlagsSchema.extend({
  dryRun: z.boolean().optional(),
  out: z.string().optional(),
});
type ImportOptions = z.infer<typeof importOptionsSchema>;

export const importFissionCommand = defineCommand({
  name: "import fission",
  arguments: "<specs-dir>",
  description: "deploy the functions of Fission spec files (fission spec init/apply)",
  client: true,
  options: importOptions,
  examples: [
    "runlet import fission specs/",
    "runlet import fission specs/ --dry-run      # print the runlet.yaml it amounts to",
  ],
  optionsSchema: importOptionsSchema,
  async run(args, options, io) {
    const dir = resolve(io.cwd, String(args[0]));
    await deployImported(readFissionSpecs(dir), options, io);
  },
});

export const importKubelessCommand = defineCommand({
  name: "import kubeless",
  arguments: "<function-yaml>",
  description: "deploy Kubeless Function resources (kubeless.io/v1beta1) with their inline source",
  client: true,
  options: importOptions,
  examples: [
    "kubectl get function hello -o yaml > hello.yaml && runlet import kubeless hello.yaml",
    "runlet import kubeless fn.yaml --out ./migrated   # write runlet.yaml and sources",
  ],
  optionsSchema: importOptionsSchema,
  async run(args, options, io) {
    const file = resolve(io.cwd, String(args[0]));
    await deployImported(readKubelessFunctions(file), options, io);
  },
});

/** Prints what was left out, then prints, writes or deploys the functions. */
export async function deployImported(
  imported: ImportResult,
  options: ImportOptions,
  io: CliIO,
): Promise<void> {
  for (const notice of imported.notices) {
    line(io.stderr, `note: ${notice}`);
  }
  const problems = imported.problems ?? [];
  for (const problem of problems) {
    line(
      io.stderr,
      `✘ ${problem.function ?? basename(problem.file)} is not imported: ${problem.file}: ${problem.message}`,
    );
  }
  const functions = withRoutes(imported.functions, io);
  if (options.dryRun) {
    for (const fn of functions) {
      line(io.stdout, `# ${fn.name} (from ${fn.origin}): ${[...fn.files.keys()].join(", ")}`);
    }
    io.stdout.write(toStackYaml(functions));
    if (problems.length > 0) {
      throw importError("all of it", problems);
    }
    return;
  }
  if (options.out !== undefined) {
    const out = resolve(io.cwd, options.out);
    const stackPath = join(out, "runlet.yaml");
    const taken = [stackPath, ...functions.map((fn) => join(out, fn.name))].filter((p) =>
      existsSync(p),
    );
    if (taken.length > 0) {
      throw new UserError(
        "RUNLET_ALREADY_EXISTS",
        `${taken.join(", ")} already exist${taken.length === 1 ? "s" : ""}; pick an empty folder for --out`,
      );
    }
    await mkdir(out, { recursive: true });
    await writeFunctionSources(out, functions);
    await writeFile(stackPath, toStackYaml(functions));
    line(io.stdout, `wrote ${stackPath} and ${functions.map((fn) => `${fn.name}/`).join(", ")}`);
    line(io.stdout, `deploy them with: runlet deploy -f ${stackPath}`);
    if (problems.length > 0) {
      throw importError("all of it", problems);
    }
    return;
  }
  const client = new GatewayClient(resolveTarget(options, io.env));
  const outcome = await withFunctionSources(functions, (stack) =>
    deployFunctions(client, stack, (text) => line(io.stderr, text)),
  );
  for (const result of outcome.deployed) {
    const what =
      result.outcome === "unchanged"
        ? "unchanged"
        : result.outcome === "created"
          ? "deployed"
          : "updated";
    const fn = functions.find((candidate) => candidate.name === result.name);
    line(
      io.stdout,
      `✔ ${result.name} ${what} (revision ${result.revision}, ${fn?.spec.runtime ?? ""}, compat ${fn?.spec.compat ?? ""}) → ${result.url}`,
    );
  }
  // Problems of one function name it; the others (a file that does not parse, a route to a
  // function no spec declares) name their file.
  const leftOut = new Map<string, string[]>();
  for (const problem of problems) {
    const name = problem.function ?? basename(problem.file);
    leftOut.set(name, [...(leftOut.get(name) ?? []), `${problem.file}: ${problem.message}`]);
  }
  const error = outcomeError(
    outcome,
    [...leftOut].map(([name, reasons]) => ({ name, reasons })),
    "RUNLET_INVALID_IMPORT",
  );
  if (error) {
    throw error;
  }
}

/**
 * Routes go into the spec when this Runlet's function spec has triggers; otherwise each one
 * is reported as not imported.
 */
function withRoutes(functions: readonly ImportedFunction[], io: CliIO): ImportedFunction[] {
  const routesSupported = "triggers" in functionSpecSchema.shape;
  return functions.map((fn) => {
    if (fn.triggers.length === 0) {
      return fn;
    }
    if (routesSupported) {
      return { ...fn, spec: { ...fn.spec, triggers: [...fn.triggers] } };
    }
    for (const trigger of fn.triggers) {
      line(
        io.stderr,
        `warning: route ${trigger.http} of ${fn.name} not imported (this Runlet has no HTTP triggers); call it at /function/${fn.name}`,
      );
    }
    return fn;
  });
}
