/** The `--key KEY=VALUE` and `--key-file KEY=PATH` options of `runlet secret create` and `runlet config create`. */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { UserError } from "../../errors.js";
import type { OptionDefinition } from "../command.js";

export const keyedValueOptions: readonly OptionDefinition[] = [
  { flags: "--key <key=value>", description: "a key and its value (repeatable)", repeatable: true },
  {
    flags: "--key-file <key=path>",
    description: "a key and the file holding its value, any bytes (repeatable)",
    repeatable: true,
  },
];

/** The keys given, each value base64 as the API takes it; undefined when none was. */
export async function keyedValuesOf(
  options: { key?: readonly string[] | undefined; keyFile?: readonly string[] | undefined },
  cwd: string,
): Promise<Record<string, string> | undefined> {
  if (!options.key?.length && !options.keyFile?.length) {
    return undefined;
  }
  const data: Record<string, string> = {};
  const split = (given: string, flag: string): [string, string] => {
    const at = given.indexOf("=");
    if (at <= 0) {
      throw new UserError(
        "RUNLET_INVALID_REQUEST",
        `${flag} ${JSON.stringify(given)} needs the form KEY=${flag === "--key" ? "VALUE" : "PATH"}.`,
      );
    }
    const key = given.slice(0, at);
    if (key in data) {
      throw new UserError("RUNLET_INVALID_REQUEST", `The key ${key} is given twice.`);
    }
    return [key, given.slice(at + 1)];
  };
  for (const given of options.key ?? []) {
    const [key, value] = split(given, "--key");
    data[key] = Buffer.from(value, "utf8").toString("base64");
  }
  for (const given of options.keyFile ?? []) {
    const [key, path] = split(given, "--key-file");
    data[key] = (await readFile(resolve(cwd, path))).toString("base64");
  }
  return data;
}
