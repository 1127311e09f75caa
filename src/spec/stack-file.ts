/**
 * The stack file, runlet.yaml (DESIGN.md "Function model"). Every problem in the file is
 * reported at once, each with its line number.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { LineCounter, parseDocument, isNode } from "yaml";
import { z } from "zod";
import { UserError } from "../errors.js";
import { functionSpecSchema, type FunctionSpec } from "./function-spec.js";
import { nameProblem } from "./names.js";

const triggerSchema = z.union([
  z.strictObject({ http: z.string() }),
  z.strictObject({ cron: z.string(), tz: z.string().optional() }),
  z.strictObject({ nats: z.string() }),
]);

export const stackFunctionSchema = functionSpecSchema.extend({
  /** Folder packed and uploaded, relative to the stack file. @default the function's name */
  source: z.string().optional(),
  triggers: z.array(triggerSchema).optional(),
});

export const stackFileSchema = z.strictObject({
  version: z.literal(1, { error: "version must be 1" }),
  gateway: z.url().optional(),
  functions: z.record(
    z.string().refine((name) => nameProblem(name) === undefined, {
      message: "function names are DNS-1123 labels: lower-case letters, digits and '-'",
    }),
    stackFunctionSchema,
  ),
});

export interface StackFunction {
  readonly name: string;
  /** Absolute path of the source folder. */
  readonly source: string;
  readonly spec: FunctionSpec;
}

export interface StackFile {
  readonly path: string;
  readonly gateway: string | undefined;
  readonly functions: readonly StackFunction[];
}

export interface StackProblem {
  readonly line: number | undefined;
  readonly path: string;
  readonly message: string;
}

export function readStackFile(path: string): StackFile {
  if (!existsSync(path)) {
    throw new UserError(
      "RUNLET_INVALID_STACK_FILE",
      `No stack file at ${path}. Create one with \`runlet new NAME --runtime node\`, or deploy a folder directly: runlet deploy NAME --runtime node --source DIR`,
    );
  }
  return parseStackFile(readFileSync(path, "utf8"), path);
}

export function parseStackFile(text: string, path: string): StackFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const problems: StackProblem[] = doc.errors.map((error) => ({
    line: error.linePos?.[0].line,
    path: "",
    message: error.message.split("\n")[0] ?? error.message,
  }));
  if (problems.length === 0) {
    const parsed = stackFileSchema.safeParse(doc.toJS());
    if (parsed.success) {
      const base = dirname(resolve(path));
      return {
        path,
        gateway: parsed.data.gateway,
        functions: Object.entries(parsed.data.functions).map(([name, fn]) => {
          const { source, triggers: _triggers, ...spec } = fn;
          return { name, source: resolve(base, source ?? name), spec };
        }),
      };
    }
    for (const issue of parsed.error.issues) {
      problems.push({
        line: lineOf(doc, lineCounter, issue.path),
        path: issue.path.map(String).join("."),
        message: issue.message,
      });
    }
  }
  const lines = problems.map(
    (p) => `  ${path}:${p.line ?? "?"}: ${p.path ? `${p.path}: ` : ""}${p.message}`,
  );
  throw new UserError(
    "RUNLET_INVALID_STACK_FILE",
    `${path} has ${problems.length} problem${problems.length === 1 ? "" : "s"}:\n${lines.join("\n")}`,
    { details: { problems } },
  );
}

/** The line of the deepest node that exists along `path` (the key itself when it is missing). */
function lineOf(
  doc: ReturnType<typeof parseDocument>,
  lineCounter: LineCounter,
  path: readonly PropertyKey[],
): number | undefined {
  for (let depth = path.length; depth >= 0; depth -= 1) {
    const node = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth) as unknown[], true);
    if (isNode(node) && node.range) {
      return lineCounter.linePos(node.range[0]).line;
    }
  }
  return undefined;
}
