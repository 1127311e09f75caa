/**
 * TypeScript handlers compiled with esbuild into one ES module per handler under
 * `.runlet/dist/`: the function's own files are bundled in, packages from node_modules stay
 * imports resolved at run time from the package's node_modules (so native modules and
 * packages that read their own files keep working). esbuild only strips types; type checking
 * stays the developer's (`tsc --noEmit`). esbuild runs as a tool in the build sandbox like npm
 * and go, with only the package in view: a bundler follows imports, and an import of a host
 * path (`import key from "/data/admin-token" with { type: "text" }`) must find nothing there
 * (issue 13, item 3).
 */
import { existsSync } from "node:fs";
import { dirname, join, posix, relative } from "node:path";
import { UserError } from "../errors.js";
import { buildFailed, insideOut, seen, toolEnv, type BuildContext } from "./build-context.js";
import { step } from "./build-events.js";
import { runTool } from "./tool-run.js";

/** Where compiled handlers go inside a built package. */
export const compiledDir = ".runlet/dist";

/** "src/index.ts:main" → ".runlet/dist/src/index.mjs:main" (the handler the runtime loads). */
export function compiledHandler(handler: string): string {
  const { file, exportName } = splitHandler(handler);
  const compiled = `${compiledDir}/${file.replace(/\.(c|m)?(t|j)sx?$/, "")}.mjs`;
  return exportName === undefined ? compiled : `${compiled}:${exportName}`;
}

/** esbuild's output kept for the error message and the warnings (it is short unless broken). */
const maxOutputLines = 2000;

export async function compileTypeScript(ctx: BuildContext): Promise<void> {
  const { file } = splitHandler(ctx.handler);
  if (!existsSync(join(ctx.outDir, file))) {
    throw new UserError(
      "RUNLET_HANDLER_NOT_FOUND",
      `Handler file ${file} is not in the function's source; set --handler (or handler: in runlet.yaml) to the .ts file that exports your function.`,
    );
  }
  const compiled = splitHandler(compiledHandler(ctx.handler)).file;
  const esbuild = ctx.tools.esbuild();
  const out = seen(ctx, ctx.outDir, insideOut);
  const args = [
    // "./": a file name that starts with "-" stays a file name.
    `./${file}`,
    `--outfile=${posix.join(out, compiled)}`,
    "--bundle",
    "--packages=external",
    "--platform=node",
    "--format=esm",
    `--target=node${process.versions.node.split(".")[0] ?? "20"}`,
    // `require` of a package from ES module output needs a real require function.
    '--banner:js=import { createRequire as __runletCreateRequire } from "node:module";\nconst require = __runletCreateRequire(import.meta.url);',
    "--sourcemap=inline",
    "--sources-content=false",
    "--log-level=warning",
    "--log-limit=0",
    "--color=false",
  ];
  await step(
    ctx.emit,
    "esbuild",
    `${file} → ${relative(ctx.outDir, join(ctx.outDir, compiled))}`,
    async () => {
      const output: string[] = [];
      let result;
      try {
        result = await runTool(
          {
            command: esbuild.binary,
            args,
            cwd: out,
            env: toolEnv(ctx, [], {}),
            mounts: [{ host: ctx.outDir, inside: insideOut, writable: true }],
            toolDirs: [dirname(esbuild.binary)],
            timeoutMs: ctx.timeoutMs,
            onLine: (text) => {
              if (output.length < maxOutputLines) {
                output.push(text);
              }
            },
          },
          ctx.sandboxed,
        );
      } catch (error) {
        throw new Error(`could not start esbuild: ${(error as Error).message}`, { cause: error });
      }
      const messages = parseMessages(output);
      for (const warning of messages.filter((m) => m.kind === "warning")) {
        ctx.emit({ type: "log", step: "esbuild", text: `warning: ${warning.text}` });
      }
      if (result.timedOut) {
        throw buildFailed(
          ctx,
          "esbuild",
          `esbuild did not finish within ${Math.round(ctx.timeoutMs / 1000)}s and was stopped`,
          result.tail,
        );
      }
      if (result.exitCode !== 0) {
        const errors = messages.filter((m) => m.kind === "error").map((m) => m.text);
        throw buildFailed(
          ctx,
          "esbuild",
          `${file} does not compile`,
          errors.length > 0 ? errors : output,
        );
      }
    },
  );
}

interface Message {
  readonly kind: "error" | "warning";
  /** "index.ts:7:12: Expected ";" but found "x"" and the offending line. */
  readonly text: string;
}

/**
 * esbuild's messages from its terminal output (`--color=false`):
 *
 *     ✘ [ERROR] Unexpected ";"
 *
 *         index.ts:3:12:
 *           3 │   return a +;
 *             ╵             ^
 *
 * Its columns count from 0; the message shows them from 1, as editors do.
 */
export function parseMessages(lines: readonly string[]): Message[] {
  const messages: Message[] = [];
  for (let i = 0; i < lines.length; i += 1) {
    const head = /^[✘▲] \[(ERROR|WARNING)\] (.*?)(?: \[[\w-]+\])?$/.exec(lines[i] ?? "");
    if (!head) {
      continue;
    }
    const kind = head[1] === "ERROR" ? "error" : "warning";
    let where = "";
    let source = "";
    for (let j = i + 1; j < Math.min(lines.length, i + 4); j += 1) {
      const line = lines[j] ?? "";
      const location = /^\s+(.+):(\d+):(\d+):$/.exec(line);
      if (location) {
        where = `${location[1]}:${location[2]}:${Number(location[3]) + 1}: `;
        const code = /^\s+\d+ │ (.*)$/.exec(lines[j + 1] ?? "");
        source = code?.[1] ? `\n      ${code[1].trim()}` : "";
        break;
      }
      if (/^[✘▲] \[/.test(line)) {
        break;
      }
    }
    messages.push({ kind, text: `${where}${head[2] ?? ""}${source}` });
  }
  return messages;
}

function splitHandler(handler: string): { file: string; exportName: string | undefined } {
  const separator = handler.lastIndexOf(":");
  return separator > 0
    ? { file: handler.slice(0, separator), exportName: handler.slice(separator + 1) }
    : { file: handler, exportName: undefined };
}
