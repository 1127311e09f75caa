/**
 * `runlet push -f stack.yml [names...]`: faas-cli's build and push without Docker. Each
 * function's source is packed and uploaded, and its `image:` recorded as a tag of that package,
 * without deploying it; `faas-cli deploy -f stack.yml` (or any OpenFaaS client) deploying that
 * image then deploys the package.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { z } from "zod";
import { UserError, isUserError } from "../../errors.js";
import { readStackFile, type StackFunction } from "../../spec/stack-file.js";
import { resolveTarget } from "../client-config.js";
import { GatewayClient } from "../client.js";
import { clientFlagsSchema, defineCommand } from "../command.js";
import { line, type CliIO } from "../io.js";
import { tagFunctionImage, uploadFunction } from "./deploy.js";

export interface PushedFunction {
  readonly name: string;
  readonly image: string;
  readonly package: string;
  /** The image was tagged before, to this package or another. */
  readonly retagged: boolean;
}

/**
 * Uploads and tags each function in turn; one that fails for its own reason (no image, a
 * handler file missing) does not stop the others. Returns those pushed and those that failed.
 */
export async function pushFunctions(
  client: GatewayClient,
  functions: readonly StackFunction[],
  progress: (text: string) => void,
): Promise<{ pushed: PushedFunction[]; failed: { name: string; reasons: string[] }[] }> {
  const pushed: PushedFunction[] = [];
  const failed: { name: string; reasons: string[] }[] = [];
  for (const fn of functions) {
    try {
      if (fn.image === undefined) {
        throw new UserError(
          "RUNLET_INVALID_STACK_FILE",
          `${fn.name} has no image: to push it as; give it one in the stack file (e.g. image: ${fn.name}:latest), the name faas-cli deploy will send.`,
        );
      }
      const uploaded = await uploadFunction(client, fn, progress);
      const tagged = await tagFunctionImage(client, uploaded, fn.image);
      pushed.push({
        name: fn.name,
        image: tagged.image,
        package: tagged.package,
        retagged: !tagged.created,
      });
    } catch (error) {
      if (!isUserError(error)) {
        throw error;
      }
      progress(`✘ ${fn.name} was not pushed: ${error.message}`);
      failed.push({ name: fn.name, reasons: [error.message] });
    }
  }
  return { pushed, failed };
}

export const pushCommand = defineCommand({
  name: "push",
  arguments: "[names...]",
  description:
    "upload the functions of an OpenFaaS stack file and tag each with its image: name, without deploying (faas-cli build + push, no Docker)",
  client: true,
  json: true,
  options: [
    {
      flags: "-f, --file <path>",
      description: "stack file (stack.yml, else stack.yaml)",
      defaultValue: "stack.yml",
    },
  ],
  examples: [
    "runlet push -f stack.yml            # every function, tagged as its image:",
    "runlet push -f stack.yml hello      # only hello",
    "faas-cli deploy -f stack.yml        # then deploys the pushed packages",
  ],
  optionsSchema: clientFlagsSchema.extend({ file: z.string(), json: z.boolean().optional() }),
  async run(args, options, io) {
    const names = (args[0] as string[] | undefined) ?? [];
    const stack = readStackFile(pushFilePath(options.file, io), names);
    for (const notice of stack.notices ?? []) {
      line(io.stderr, `note: ${notice}`);
    }
    const unknown = names.filter((name) => !stack.functions.some((fn) => fn.name === name));
    if (unknown.length > 0) {
      throw new UserError(
        "RUNLET_FUNCTION_NOT_FOUND",
        `${unknown.join(", ")} ${unknown.length === 1 ? "is" : "are"} not in ${options.file}; its functions: ${stack.functions.map((fn) => fn.name).join(", ") || "none"}.`,
      );
    }
    const chosen =
      names.length === 0
        ? stack.functions
        : stack.functions.filter((fn) => names.includes(fn.name));
    if (chosen.length === 0) {
      throw new UserError("RUNLET_INVALID_STACK_FILE", `${options.file} declares no functions.`);
    }
    const client = new GatewayClient(resolveTarget(options, io.env));
    const broken = names.length === 0 ? (stack.broken ?? []) : [];
    for (const fn of broken) {
      line(io.stderr, `✘ ${fn.name} is not pushed: ${fn.problems.join("; ")}`);
    }
    const outcome = await pushFunctions(client, chosen, (text) => {
      if (!options.json) {
        line(io.stderr, text);
      }
    });
    if (options.json) {
      line(io.stdout, JSON.stringify(outcome.pushed, null, 2));
    } else {
      for (const fn of outcome.pushed) {
        line(
          io.stdout,
          `✔ ${fn.name} pushed as ${fn.image}${fn.retagged ? " (retagged)" : ""} → package ${fn.package.slice(0, 19)}…`,
        );
      }
    }
    const notPushed = [
      ...broken.map((fn) => ({ name: fn.name, reasons: fn.problems })),
      ...outcome.failed,
    ];
    if (notPushed.length > 0) {
      const count = notPushed.length;
      const lines = notPushed.flatMap((fn) =>
        fn.reasons.map((reason) => `  ${fn.name}: ${reason.split("\n").join("\n    ")}`),
      );
      const rest =
        outcome.pushed.length > 0
          ? `Pushed: ${outcome.pushed.map((fn) => fn.name).join(", ")}.`
          : "None was pushed.";
      throw new UserError(
        "RUNLET_INVALID_STACK_FILE",
        `${count} function${count === 1 ? " was" : "s were"} not pushed:\n${lines.join("\n")}\n${rest} Fix ${count === 1 ? "it" : "them"} and push again.`,
        { details: { notPushed: notPushed.map((fn) => fn.name) } },
      );
    }
  },
});

/** The stack file named, else stack.yaml when only that exists (faas-cli reads either). */
function pushFilePath(file: string, io: CliIO): string {
  const named = resolve(io.cwd, file);
  if (file !== "stack.yml" || existsSync(named)) {
    return named;
  }
  const yaml = resolve(io.cwd, "stack.yaml");
  return existsSync(yaml) ? yaml : named;
}
