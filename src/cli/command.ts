/** Commands are data (CONVENTIONS.md rule 4): each file exports one definition; main() wires them to commander. */
import { z } from "zod";
import type { CliIO } from "./io.js";

export interface OptionDefinition {
  /** Commander flags, e.g. "-f, --file <path>". */
  readonly flags: string;
  readonly description: string;
  readonly defaultValue?: string | boolean;
  /** Repeatable options collect into an array. */
  readonly repeatable?: boolean;
}

export interface CommandDefinition<O extends z.ZodType = z.ZodType> {
  /** "deploy" or "secret create". */
  readonly name: string;
  /** Commander argument syntax, e.g. "<name>" or "[names...]". */
  readonly arguments?: string;
  readonly description: string;
  readonly options?: readonly OptionDefinition[];
  /** Adds --gateway, --token, --ca and -n/--namespace. */
  readonly client?: boolean;
  /** Adds --json. */
  readonly json?: boolean;
  readonly examples?: readonly string[];
  /**
   * Takes every word after the command's name as its arguments, options included, unparsed:
   * for a command that reads another CLI's command line itself.
   */
  readonly passThrough?: boolean;
  /** Validates the parsed options; types `run`'s options. */
  readonly optionsSchema: O;
  /** Resolves to the exit code, or to nothing for 0. */
  run(
    args: readonly (string | string[] | undefined)[],
    options: z.infer<O>,
    io: CliIO,
  ): Promise<unknown>;
}

/**
 * What a command's run may resolve to instead of an exit code: run this `runlet` command line
 * in its place (a translation of another CLI's command line into Runlet's).
 */
export interface ForwardedCommand {
  readonly forward: readonly string[];
}

export function isForwardedCommand(value: unknown): value is ForwardedCommand {
  return (
    typeof value === "object" &&
    value !== null &&
    Array.isArray((value as { forward?: unknown }).forward)
  );
}

export function defineCommand<O extends z.ZodType>(
  definition: CommandDefinition<O>,
): CommandDefinition<O> {
  return definition;
}

/** The options every client command has (added by `client: true`). */
export const clientFlagsSchema = z.object({
  namespace: z.string().optional(),
  gateway: z.string().optional(),
  token: z.string().optional(),
  ca: z.string().optional(),
});
