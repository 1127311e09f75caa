/** `runlet new NAME --runtime node`: a working function from a template, added to runlet.yaml. */
import { existsSync } from "node:fs";
import { cp, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { isMap, parseDocument } from "yaml";
import { z } from "zod";
import { UserError } from "../../errors.js";
import { runtimes } from "../../spec/function-spec.js";
import { assertValidName } from "../../spec/names.js";
import { defineCommand } from "../command.js";
import { line } from "../io.js";

const templatesDir = fileURLToPath(new URL("../../../templates/", import.meta.url));

export interface NewFunctionResult {
  readonly dir: string;
  readonly stackFile: string;
}

/** Copies the runtime's template into `<cwd>/<name>` and adds the function to the stack file. */
export async function createFunction(
  cwd: string,
  name: string,
  runtime: string,
  stackFileName: string,
): Promise<NewFunctionResult> {
  assertValidName(name);
  if (!(runtimes as readonly string[]).includes(runtime)) {
    throw new UserError(
      "RUNLET_UNSUPPORTED_RUNTIME",
      `Unknown runtime ${runtime}; known runtimes: ${runtimes.join(", ")}`,
    );
  }
  const dir = resolve(cwd, name);
  if (existsSync(dir)) {
    throw new UserError(
      "RUNLET_ALREADY_EXISTS",
      `${dir} already exists; pick another name or remove it.`,
    );
  }
  const stackFile = resolve(cwd, stackFileName);
  const doc = existsSync(stackFile)
    ? parseDocument(await readFile(stackFile, "utf8"))
    : parseDocument("version: 1\nfunctions: {}\n");
  if (doc.errors.length > 0) {
    throw new UserError(
      "RUNLET_INVALID_STACK_FILE",
      `${stackFile} is not valid YAML; fix it first (runlet deploy shows each problem).`,
    );
  }
  if (doc.hasIn(["functions", name])) {
    throw new UserError(
      "RUNLET_ALREADY_EXISTS",
      `${stackFileName} already declares a function named ${name}.`,
    );
  }
  await cp(join(templatesDir, runtime), dir, { recursive: true });
  const functions = doc.get("functions");
  if (!isMap(functions) || functions.items.length === 0) {
    doc.set("functions", doc.createNode({}));
  }
  doc.setIn(
    ["functions", name],
    doc.createNode({ runtime, source: `./${name}`, handler: "index.js" }),
  );
  const functionsNode = doc.get("functions");
  if (isMap(functionsNode)) {
    functionsNode.flow = false;
  }
  await writeFile(stackFile, doc.toString());
  return { dir, stackFile };
}

export const newCommand = defineCommand({
  name: "new",
  arguments: "<name>",
  description: "create a function from a template and add it to runlet.yaml",
  options: [
    {
      flags: "--runtime <runtime>",
      description: `runtime: ${runtimes.join(", ")}`,
      defaultValue: "node",
    },
    {
      flags: "-f, --file <path>",
      description: "stack file to add it to",
      defaultValue: "runlet.yaml",
    },
  ],
  examples: ["runlet new hello --runtime node"],
  optionsSchema: z.object({ runtime: z.string(), file: z.string() }),
  async run(args, options, io) {
    const name = String(args[0]);
    const result = await createFunction(io.cwd, name, options.runtime, options.file);
    line(io.stdout, `✔ created ${result.dir} (handler index.js, test index.test.mjs)`);
    line(io.stdout, `✔ added ${name} to ${result.stackFile}`);
    line(io.stdout, `Next: runlet deploy && runlet invoke ${name} --query name=Ada`);
  },
});
