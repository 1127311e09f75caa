/**
 * The stack file, runlet.yaml (DESIGN.md "Function model"). Every problem in the file is
 * reported at once, each with its line number.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { LineCounter, isMap, isNode, isScalar, isSeq, parseDocument } from "yaml";
import { z } from "zod";
import { UserError } from "../errors.js";
import { execFieldProblems, functionSpecSchema, type FunctionSpec } from "./function-spec.js";
import { nameProblem } from "./names.js";
import { closest, didYouMean } from "./suggest.js";
import { convertOpenFaasStack, isOpenFaasStack } from "./openfaas-stack.js";

export const stackFunctionSchema = functionSpecSchema
  .extend({
    /** Folder packed and uploaded, relative to the stack file. @default the function's name */
    source: z.string().optional(),
  })
  .check((ctx) => {
    for (const problem of execFieldProblems(ctx.value)) {
      ctx.issues.push({
        code: "custom",
        input: ctx.value,
        path: [problem.path],
        message: problem.message,
      });
    }
  });

export const stackFileSchema = z.strictObject({
  version: z.literal(1, { error: "version must be 1" }),
  gateway: z.url().optional(),
  /** The namespace its functions deploy to (-n overrides it). @default openfaas-fn */
  namespace: z
    .string()
    .check((ctx) => {
      const problem = nameProblem(ctx.value);
      if (problem) {
        ctx.issues.push({ code: "custom", input: ctx.value, message: problem });
      }
    })
    .optional(),
  functions: z.record(
    z.string().check((ctx) => {
      const problem = nameProblem(ctx.value);
      if (problem) {
        ctx.issues.push({ code: "custom", input: ctx.value, message: problem });
      }
    }),
    stackFunctionSchema,
    {
      error: (issue) =>
        issue.input === undefined
          ? "required: list your functions under it, e.g. functions: { hello: { runtime: node } }"
          : undefined,
    },
  ),
});

/** The keys a mapping at `path` may have, for "did you mean" on an unknown one. */
function keysAt(path: readonly PropertyKey[]): readonly string[] {
  if (path.length === 0) {
    return Object.keys(stackFileSchema.shape);
  }
  if (path.length === 2 && path[0] === "functions") {
    return Object.keys(stackFunctionSchema.shape);
  }
  return [];
}

export interface StackFunction {
  readonly name: string;
  /** Absolute path of the source folder. */
  readonly source: string;
  /** The folder was not named, only implied by the function's name (it may not exist). */
  readonly sourceImplied?: boolean;
  readonly spec: FunctionSpec;
  /** The image name it is tagged as (an OpenFaaS stack file's `image:`, in its one form). */
  readonly image?: string;
  /** The namespace it deploys to when the file names one for it (an OpenFaaS `namespace:`). */
  readonly namespace?: string;
}

export interface StackFile {
  readonly path: string;
  readonly gateway: string | undefined;
  /** The namespace its functions deploy to, when it names one (runlet.yaml's `namespace:`). */
  readonly namespace?: string;
  readonly functions: readonly StackFunction[];
  /** What was read but has no effect (OpenFaaS stack files), for the user to know. */
  readonly notices?: readonly string[];
  /**
   * Functions of the file left out for their own problems (OpenFaaS stack files): the others
   * deploy, and the deploy names these and fails.
   */
  readonly broken?: readonly BrokenFunction[];
}

/** A function a stack file or spec folder declares that cannot be deployed, and why. */
export interface BrokenFunction {
  readonly name: string;
  /** Each problem, with the file (and line) it is at. */
  readonly problems: readonly string[];
}

export interface StackProblem {
  readonly line: number | undefined;
  readonly path: string;
  readonly message: string;
}

/**
 * Reads a stack file. With `only`, problems of the other functions of an OpenFaaS stack file
 * (a lang Runlet has no template for) do not stop the ones named from deploying.
 */
export function readStackFile(path: string, only: readonly string[] = []): StackFile {
  if (!existsSync(path)) {
    throw new UserError(
      "RUNLET_INVALID_STACK_FILE",
      `No stack file at ${path}. Create one with \`runlet new NAME --runtime node\`, or deploy a folder directly: runlet deploy NAME --runtime node --source DIR`,
    );
  }
  return parseStackFile(readFileSync(path, "utf8"), path, only);
}

export function parseStackFile(
  text: string,
  path: string,
  only: readonly string[] = [],
): StackFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  const problems: StackProblem[] = doc.errors.map((error) => ({
    line: error.linePos?.[0].line,
    path: "",
    message: (error.message.split("\n")[0] ?? error.message).replace(
      / at line \d+, column \d+:?$/,
      "",
    ),
  }));
  const value: unknown = problems.length === 0 ? doc.toJS() : undefined;
  if (problems.length === 0 && isOpenFaasStack(value)) {
    // An OpenFaaS stack.yml: its functions run with the openfaas handler shape.
    const stack = convertOpenFaasStack(value, path);
    const isOther = (problem: { path: readonly PropertyKey[] }) =>
      only.length > 0 &&
      problem.path[0] === "functions" &&
      typeof problem.path[1] === "string" &&
      !only.includes(problem.path[1]);
    const functionOf = (problem: { path: readonly PropertyKey[] }) =>
      problem.path[0] === "functions" && typeof problem.path[1] === "string"
        ? problem.path[1]
        : undefined;
    // Problems all of single functions: the others deploy, as faas-cli deploys each function
    // of a stack on its own; the deploy then names the broken ones and fails.
    const brokenNames = new Set(stack.problems.map(functionOf));
    const fine = stack.functions.filter((fn) => !brokenNames.has(fn.name));
    if (
      stack.problems.length > 0 &&
      only.length === 0 &&
      !brokenNames.has(undefined) &&
      fine.length > 0
    ) {
      const broken = [...brokenNames].map((name) => ({
        name: name ?? "",
        problems: stack.problems
          .filter((problem) => functionOf(problem) === name)
          .map(
            (problem) =>
              `${path}:${lineOf(doc, lineCounter, problem.path) ?? "?"}: ${problem.path.map(String).join(".")}: ${problem.message}`,
          ),
      }));
      return { path, gateway: stack.gateway, functions: fine, notices: stack.notices, broken };
    }
    const relevant = stack.problems.filter((problem) => !isOther(problem));
    if (relevant.length === 0) {
      const skipped = [...new Set(stack.problems.map((problem) => String(problem.path[1])))];
      const notices =
        skipped.length === 0
          ? stack.notices
          : [...stack.notices, `not deployed, and not checked further: ${skipped.join(", ")}`];
      return { path, gateway: stack.gateway, functions: stack.functions, notices };
    }
    for (const problem of relevant) {
      problems.push({
        line: lineOf(doc, lineCounter, problem.path),
        path: problem.path.map(String).join("."),
        message: problem.message,
      });
    }
  } else if (problems.length === 0) {
    const parsed = stackFileSchema.safeParse(value);
    if (parsed.success) {
      const base = dirname(resolve(path));
      return {
        path,
        gateway: parsed.data.gateway,
        ...(parsed.data.namespace === undefined ? {} : { namespace: parsed.data.namespace }),
        functions: Object.entries(parsed.data.functions).map(([name, fn]) => {
          const { source, ...spec } = fn;
          return { name, source: resolve(base, source ?? name), sourceImplied: !source, spec };
        }),
      };
    }
    for (const issue of parsed.error.issues) {
      // An unknown key is reported on its parent; point at the key itself.
      const keys = issue.code === "unrecognized_keys" ? issue.keys : [];
      problems.push({
        line: lineOf(
          doc,
          lineCounter,
          keys[0] === undefined ? issue.path : [...issue.path, keys[0]],
        ),
        path: issue.path.map(String).join("."),
        // A bad record key comes wrapped; its own message is the useful one.
        message:
          issue.code === "invalid_key"
            ? (issue.issues[0]?.message ?? issue.message)
            : issue.message +
              (keys.length === 1 && keys[0] !== undefined
                ? didYouMean(closest(keys[0], keysAt(issue.path)))
                : ""),
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

/** The line of the key at `path`, or of the deepest part of the path that exists. */
function lineOf(
  doc: ReturnType<typeof parseDocument>,
  lineCounter: LineCounter,
  path: readonly PropertyKey[],
): number | undefined {
  for (let depth = path.length; depth > 0; depth -= 1) {
    const parent =
      depth === 1 ? doc.contents : doc.getIn(path.slice(0, depth - 1) as unknown[], true);
    const key = path[depth - 1];
    if (isMap(parent)) {
      const pair = parent.items.find(
        (item) => isScalar(item.key) && String(item.key.value) === String(key),
      );
      if (pair && isNode(pair.key) && pair.key.range) {
        return lineCounter.linePos(pair.key.range[0]).line;
      }
    } else if (isSeq(parent)) {
      const item = parent.items[Number(key)];
      if (isNode(item) && item.range) {
        return lineCounter.linePos(item.range[0]).line;
      }
    }
  }
  const root = doc.contents;
  return isNode(root) && root.range ? lineCounter.linePos(root.range[0]).line : undefined;
}
