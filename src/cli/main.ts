/** The `runlet` command line: wires the command definitions to commander and handles errors once. */
import { Command, CommanderError, Option } from "commander";
import { isUserError } from "../errors.js";
import { VERSION } from "../version.js";
import { isForwardedCommand, type CommandDefinition } from "./command.js";
import { completionCommand } from "./commands/completion.js";
import { commands } from "./commands/index.js";
import { line, processIO, type CliIO } from "./io.js";

/** Groups whose name alone does not say what they are for. */
const groupDescriptions: Readonly<Record<string, string>> = {
  import: "deploy Fission specs or Kubeless Functions (OpenFaaS: runlet deploy -f stack.yml)",
  function: "manage a function's invoke keys",
  "function key": "manage a function's invoke keys (tokens that call only that function)",
  token: "manage scoped API tokens (a namespace and a role each)",
};

export async function main(argv: readonly string[], io: CliIO = processIO()): Promise<number> {
  const program = new Command("runlet")
    .description("Runlet: deploy functions from source, get HTTP endpoints that scale from zero.")
    .version(VERSION, "-V, --version", "print the CLI version")
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    .showSuggestionAfterError(true)
    // Lets a command with subcommands keep its own options (`calls --json`, `calls get ID --json`).
    .enablePositionalOptions();
  let exitCode = 0;
  const groups = new Map<string, Command>();
  const all: readonly CommandDefinition[] = [...commands, completionCommand(() => all)];
  for (const definition of all) {
    const words = definition.name.split(" ");
    let parent = program;
    // "secret create" sits in group "secret"; "function key create" in "function" → "key".
    for (let depth = 1; depth < words.length; depth += 1) {
      const path = words.slice(0, depth).join(" ");
      const word = words[depth - 1] ?? path;
      let group = groups.get(path);
      if (!group) {
        group = parent.command(word).description(groupDescriptions[path] ?? `manage ${word}s`);
        group.exitOverride();
        // `runlet secret` alone is a mistake: show what it takes, and fail.
        const shown = group;
        group.action(() => {
          shown.outputHelp({ error: true });
          exitCode = 1;
        });
        groups.set(path, group);
      }
      parent = group;
    }
    const command = parent
      .command(words[words.length - 1] ?? definition.name)
      .description(definition.description);
    command.exitOverride();
    if (words.length === 1 && !groups.has(definition.name)) {
      // `runlet calls` lists; `runlet calls get ID` is its subcommand, and its options
      // (`calls get ID --json`) belong to it, not to the parent.
      groups.set(definition.name, command);
      command.enablePositionalOptions();
    }
    if (definition.arguments) {
      command.arguments(definition.arguments);
    }
    if (definition.passThrough) {
      command.allowUnknownOption().allowExcessArguments().passThroughOptions().helpOption(false);
    }
    for (const option of definition.options ?? []) {
      const opt = new Option(option.flags, option.description);
      if (option.repeatable) {
        opt.argParser((value: string, previous: string[] | undefined) => [
          ...(previous ?? []),
          value,
        ]);
      }
      if (option.defaultValue !== undefined) {
        opt.default(option.defaultValue);
      }
      command.addOption(opt);
    }
    if (definition.client) {
      // A command with a --namespace of its own (token create) keeps it; it names the same thing.
      if (!(definition.options ?? []).some((option) => option.flags.includes("--namespace"))) {
        command.option(
          "-n, --namespace <namespace>",
          "the namespace to act in (default: RUNLET_NAMESPACE, else openfaas-fn)",
        );
      }
      command.option(
        "--gateway <url>",
        "gateway URL (default: RUNLET_GATEWAY, the saved login, or http://127.0.0.1:8080)",
      );
      command.option(
        "--token <token>",
        "admin token or a scoped token (default: RUNLET_TOKEN or the saved login)",
      );
      command.option(
        "--ca <file>",
        "PEM certificate to trust for an https gateway (default: RUNLET_CA)",
      );
    }
    if (definition.json) {
      command.option("--json", "print JSON instead of text");
    }
    if (definition.examples?.length) {
      command.addHelpText(
        "after",
        `\nExamples:\n${definition.examples.map((e) => `  $ ${e}`).join("\n")}\n`,
      );
    }
    command.action(async (...received: unknown[]) => {
      const result = await runCommand(definition, received, io);
      exitCode = isForwardedCommand(result)
        ? await main(result.forward, io)
        : typeof result === "number"
          ? result
          : 0;
    });
  }
  try {
    await program.parseAsync([...argv], { from: "user" });
    return exitCode;
  } catch (error) {
    return reportError(error, io);
  }
}

async function runCommand(
  definition: CommandDefinition,
  received: unknown[],
  io: CliIO,
): Promise<unknown> {
  // commander passes the arguments, then the options object, then the Command itself.
  const command = received[received.length - 1] as Command;
  const args = received.slice(0, received.length - 2) as (string | string[] | undefined)[];
  const parsed = definition.optionsSchema.safeParse(command.opts());
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) => `  --${issue.path.join(".")}: ${issue.message}`,
    );
    throw new CommanderError(
      1,
      "runlet.invalidOption",
      `error: invalid options:\n${problems.join("\n")}`,
    );
  }
  return definition.run(args, parsed.data, io);
}

function reportError(error: unknown, io: CliIO): number {
  if (error instanceof CommanderError) {
    if (
      error.code === "commander.helpDisplayed" ||
      error.code === "commander.version" ||
      error.code === "commander.help"
    ) {
      return 0;
    }
    if (error.code === "runlet.invalidOption") {
      line(io.stderr, error.message);
    }
    return error.exitCode === 0 ? 0 : 1;
  }
  if (isUserError(error)) {
    line(io.stderr, `Error: ${error.message}`);
    return 1;
  }
  line(io.stderr, "Runlet hit an internal error (a bug; please report it with the text below):");
  line(io.stderr, error instanceof Error && error.stack ? error.stack : String(error));
  return 2;
}
