/** `runlet completion bash|zsh|fish`: a completion script for the shell, from the commands themselves. */
import { z } from "zod";
import type { CommandDefinition } from "../command.js";
import { defineCommand } from "../command.js";
import { completionScript, shells } from "../completion.js";

/** The command, given the list it completes (main.ts passes every command, this one included). */
export function completionCommand(commands: () => readonly CommandDefinition[]): CommandDefinition {
  return defineCommand({
    name: "completion",
    arguments: "<shell>",
    description: "print a shell completion script (bash, zsh or fish)",
    examples: [
      "source <(runlet completion bash)     # in ~/.bashrc",
      "source <(runlet completion zsh)      # in ~/.zshrc",
      "runlet completion fish > ~/.config/fish/completions/runlet.fish",
    ],
    optionsSchema: z.object({}),
    async run(args, _options, io) {
      const shell = z
        .enum(shells, { message: `expected one of: ${shells.join(", ")}` })
        .safeParse(args[0]);
      if (!shell.success) {
        io.stderr.write(
          `Error: runlet completion ${String(args[0])}: pick a shell: ${shells.join(", ")}\n`,
        );
        return 1;
      }
      io.stdout.write(completionScript(shell.data, commands()));
      return 0;
    },
  }) as CommandDefinition;
}
