/**
 * `runlet new NAME --runtime node`: a working function from a template, added to runlet.yaml.
 * A template is a directory `templates/<runtime>/` with a `template.json` describing it; the
 * rest of the directory is copied as the function's source.
 */
import { existsSync } from "node:fs";
import { copyFile, cp, mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { isMap, parseDocument } from "yaml";
import { z } from "zod";
import { UserError } from "../../errors.js";
import { javaApi, javaRuntime } from "../../host/java-runtime.js";
import { runtimes } from "../../spec/function-spec.js";
import { assertValidName } from "../../spec/names.js";
import { didYouMean, suggestRuntime } from "../../spec/suggest.js";
import { defineCommand } from "../command.js";
import { line } from "../io.js";

const templatesDir = fileURLToPath(new URL("../../../templates/", import.meta.url));

const templateSchema = z.strictObject({
  /** One line for `runlet new --list`. */
  description: z.string(),
  /** The runlet.yaml entry besides `source`, e.g. {runtime: "python", handler: "handler.py"}. */
  entry: z.record(z.string(), z.unknown()),
  /** Files worth naming after creation: the handler and its test. */
  handlerFile: z.string(),
  testFile: z.string(),
  /** How to run the template's test, shown after creation. */
  testCommand: z.string(),
  /** What to pass to `runlet invoke` so the function greets someone: how it reads its input. */
  invokeArgs: z.string().default("--query name=Ada"),
});
export type Template = z.infer<typeof templateSchema> & { readonly runtime: string };

/** Every template, in runtime order. */
export async function listTemplates(): Promise<Template[]> {
  const templates: Template[] = [];
  for (const entry of await readdir(templatesDir, { withFileTypes: true })) {
    const file = join(templatesDir, entry.name, "template.json");
    if (entry.isDirectory() && existsSync(file)) {
      const parsed = templateSchema.parse(JSON.parse(await readFile(file, "utf8")));
      templates.push({ ...parsed, runtime: entry.name });
    }
  }
  const order = (runtime: string): number => {
    const index = (runtimes as readonly string[]).indexOf(runtime);
    return index === -1 ? runtimes.length : index;
  };
  return templates.sort((a, b) => order(a.runtime) - order(b.runtime));
}

export interface NewFunctionResult {
  readonly dir: string;
  readonly stackFile: string;
  readonly template: Template;
}

/**
 * The Runlet Java API is not on Maven Central: a Java function gets it in a file repository
 * of its own (.mvn/runlet-repo, named by the template's pom.xml), so `mvn test` works before
 * the first deploy. Without a JDK here the function is still created; its build runs on the server.
 */
async function addJavaApi(dir: string): Promise<void> {
  let runtime: ReturnType<typeof javaRuntime>;
  try {
    runtime = javaRuntime();
  } catch {
    return;
  }
  const repo = join(
    dir,
    ".mvn",
    "runlet-repo",
    ...javaApi.groupId.split("."),
    javaApi.artifactId,
    javaApi.version,
  );
  await mkdir(repo, { recursive: true });
  await copyFile(runtime.apiJar, join(repo, basename(runtime.apiJar)));
  await copyFile(runtime.apiPom, join(repo, basename(runtime.apiPom)));
}

/** Copies the runtime's template into `<cwd>/<name>` and adds the function to the stack file. */
export async function createFunction(
  cwd: string,
  name: string,
  runtime: string,
  stackFileName: string,
): Promise<NewFunctionResult> {
  assertValidName(name);
  const templates = await listTemplates();
  const template = templates.find((t) => t.runtime === runtime);
  if (!template) {
    const names = templates.map((t) => t.runtime);
    throw new UserError(
      "RUNLET_UNSUPPORTED_RUNTIME",
      `No template for runtime ${runtime}${didYouMean(suggestRuntime(runtime, names))}; templates: ${names.join(", ")} (see runlet new --list)`,
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
  await cp(join(templatesDir, runtime), dir, {
    recursive: true,
    filter: (source) => !source.endsWith("template.json"),
  });
  if (runtime === "java") {
    await addJavaApi(dir);
  }
  const functions = doc.get("functions");
  if (!isMap(functions) || functions.items.length === 0) {
    doc.set("functions", doc.createNode({}));
  }
  doc.setIn(
    ["functions", name],
    doc.createNode({ runtime: template.runtime, source: `./${name}`, ...template.entry }),
  );
  const functionsNode = doc.get("functions");
  if (isMap(functionsNode)) {
    functionsNode.flow = false;
  }
  await writeFile(stackFile, doc.toString());
  return { dir, stackFile, template };
}

export const newCommand = defineCommand({
  name: "new",
  arguments: "[name]",
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
    { flags: "--list", description: "list the templates" },
  ],
  examples: ["runlet new hello --runtime node", "runlet new --list"],
  optionsSchema: z.object({ runtime: z.string(), file: z.string(), list: z.boolean().optional() }),
  async run(args, options, io) {
    if (options.list) {
      const templates = await listTemplates();
      const width = Math.max(...templates.map((t) => t.runtime.length));
      for (const template of templates) {
        line(io.stdout, `${template.runtime.padEnd(width)}  ${template.description}`);
      }
      return;
    }
    if (args[0] === undefined) {
      throw new UserError(
        "RUNLET_INVALID_REQUEST",
        "Name the function: runlet new NAME --runtime RUNTIME (templates: runlet new --list)",
      );
    }
    const name = String(args[0]);
    const result = await createFunction(io.cwd, name, options.runtime, options.file);
    const { template } = result;
    line(
      io.stdout,
      `✔ created ${result.dir} (handler ${template.handlerFile}, test ${template.testFile})`,
    );
    line(io.stdout, `✔ added ${name} to ${result.stackFile}`);
    line(io.stdout, `Test it: cd ${name} && ${template.testCommand}`);
    line(io.stdout, `Next: runlet deploy && runlet invoke ${name} ${template.invokeArgs}`);
  },
});
