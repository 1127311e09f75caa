/**
 * TypeScript handlers compiled with esbuild into one ES module per handler under
 * `.runlet/dist/`: the function's own files are bundled in, packages from node_modules stay
 * imports resolved at run time from the package's node_modules (so native modules and
 * packages that read their own files keep working). esbuild only strips types; type checking
 * stays the developer's (`tsc --noEmit`). It runs in-process: it executes none of the code.
 */
import { existsSync } from "node:fs";
import { join, relative } from "node:path";
import { build, type BuildFailure, type Message } from "esbuild";
import { UserError } from "../errors.js";
import { buildFailed, type BuildContext } from "./build-context.js";
import { step } from "./build-events.js";

/** Where compiled handlers go inside a built package. */
export const compiledDir = ".runlet/dist";

/** "src/index.ts:main" → ".runlet/dist/src/index.mjs:main" (the handler the runtime loads). */
export function compiledHandler(handler: string): string {
  const { file, exportName } = splitHandler(handler);
  const compiled = `${compiledDir}/${file.replace(/\.(c|m)?(t|j)sx?$/, "")}.mjs`;
  return exportName === undefined ? compiled : `${compiled}:${exportName}`;
}

export async function compileTypeScript(ctx: BuildContext): Promise<void> {
  const { file } = splitHandler(ctx.handler);
  if (!existsSync(join(ctx.outDir, file))) {
    throw new UserError(
      "RUNLET_HANDLER_NOT_FOUND",
      `Handler file ${file} is not in the function's source; set --handler (or handler: in runlet.yaml) to the .ts file that exports your function.`,
    );
  }
  const outfile = join(ctx.outDir, splitHandler(compiledHandler(ctx.handler)).file);
  await step(ctx.emit, "esbuild", `${file} → ${relative(ctx.outDir, outfile)}`, async () => {
    try {
      const result = await build({
        absWorkingDir: ctx.outDir,
        entryPoints: [join(ctx.outDir, file)],
        outfile,
        bundle: true,
        packages: "external",
        platform: "node",
        format: "esm",
        target: `node${process.versions.node.split(".")[0] ?? "20"}`,
        // `require` of a package from ES module output needs a real require function.
        banner: {
          js: 'import { createRequire as __runletCreateRequire } from "node:module";\nconst require = __runletCreateRequire(import.meta.url);',
        },
        sourcemap: "inline",
        sourcesContent: false,
        logLevel: "silent",
      });
      for (const warning of result.warnings) {
        ctx.emit({ type: "log", step: "esbuild", text: `warning: ${formatMessage(warning)}` });
      }
    } catch (error) {
      const failure = error as Partial<BuildFailure>;
      if (!Array.isArray(failure.errors)) {
        throw error;
      }
      const lines = failure.errors.map(formatMessage);
      throw buildFailed(ctx, "esbuild", `${file} does not compile`, lines);
    }
  });
}

/** "index.ts:7:12: error: Expected ";" but found "x"" and the offending line. */
function formatMessage(message: Message): string {
  const where = message.location
    ? `${message.location.file}:${message.location.line}:${message.location.column + 1}: `
    : "";
  const source = message.location?.lineText ? `\n      ${message.location.lineText.trim()}` : "";
  return `${where}${message.text}${source}`;
}

function splitHandler(handler: string): { file: string; exportName: string | undefined } {
  const separator = handler.lastIndexOf(":");
  return separator > 0
    ? { file: handler.slice(0, separator), exportName: handler.slice(separator + 1) }
    : { file: handler, exportName: undefined };
}
