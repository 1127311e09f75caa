/**
 * Flags of another platform's CLI that Runlet accepts only to refuse them, saying what to do
 * instead: a script that passes one learns why, not just that the flag is unknown.
 */
import { UserError } from "../errors.js";
import type { OptionDefinition } from "./command.js";

/** By option key (commander's camelCase): the flags, and what to use instead. */
export type UnsupportedFlags = Readonly<Record<string, { flags: string; instead: string }>>;

export function unsupportedFlagOptions(table: UnsupportedFlags): OptionDefinition[] {
  return Object.values(table).map(({ flags }) => ({
    flags,
    description: "not used by Runlet (says what to use instead)",
  }));
}

/** Refuses the first flag of `table` that `options` has. */
export function refuseUnsupportedFlags(
  options: Readonly<Record<string, unknown>>,
  table: UnsupportedFlags,
): void {
  for (const [key, { flags, instead }] of Object.entries(table)) {
    if (options[key] !== undefined) {
      throw new UserError(
        "RUNLET_INVALID_REQUEST",
        `${flags.split(" ")[0] ?? key} is not supported by Runlet: ${instead}.`,
      );
    }
  }
}
