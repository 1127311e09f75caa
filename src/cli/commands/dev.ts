/** `runlet dev [NAME]`: deploy on every change of the source folder, and tail the logs. */
import { resolve } from "node:path";
import { z } from "zod";
import { UserError, isUserError } from "../../errors.js";
import { readStackFile, type StackFunction } from "../../spec/stack-file.js";
import { resolveTarget } from "../client-config.js";
import { GatewayClient } from "../client.js";
import { clientFlagsSchema, defineCommand } from "../command.js";
import { runDevLoop } from "../dev-loop.js";
import { line, type CliIO } from "../io.js";

export const devCommand = defineCommand({
  name: "dev",
  arguments: "[name]",
  description:
    "deploy a function of runlet.yaml, then again on every change of its folder, with its logs; Ctrl-C stops",
  client: true,
  options: [{ flags: "-f, --file <path>", description: "stack file", defaultValue: "runlet.yaml" }],
  examples: ["runlet dev            # the only function in ./runlet.yaml", "runlet dev hello"],
  optionsSchema: clientFlagsSchema.extend({ file: z.string() }),
  async run(args, options, io) {
    const fn = pickFunction(args[0] as string | undefined, options.file, io);
    const client = new GatewayClient(resolveTarget(options, io.env));
    line(io.stderr, `watching ${fn.source} for ${fn.name}; Ctrl-C stops`);
    let failed = false;
    await runDevLoop({
      client,
      fn,
      stop: io.stopSignal(),
      report(event) {
        switch (event.type) {
          case "progress":
            line(io.stderr, event.text);
            return;
          case "deployed": {
            const { result } = event;
            const took =
              event.sinceChangeMs === undefined
                ? ""
                : `, serving ${Math.round(event.sinceChangeMs)} ms after the change`;
            line(
              io.stdout,
              result.outcome === "unchanged"
                ? `= ${fn.name} unchanged (revision ${result.revision})`
                : `✔ ${fn.name} revision ${result.revision}${took} → ${result.url}`,
            );
            failed = false;
            return;
          }
          case "failed":
            if (!isUserError(event.error)) {
              throw event.error;
            }
            line(io.stderr, `✖ ${event.error.message}`);
            line(io.stderr, "  (the previous revision keeps serving; save again to retry)");
            failed = true;
            return;
          case "log":
            line(
              io.stdout,
              `${event.line.callId ? `[${event.line.callId.slice(0, 8)}] ` : ""}${event.line.text}`,
            );
            return;
        }
      },
    });
    return failed ? 1 : 0;
  },
});

function pickFunction(name: string | undefined, file: string, io: CliIO): StackFunction {
  const path = resolve(io.cwd, file);
  const stack = readStackFile(path);
  if (name !== undefined) {
    const found = stack.functions.find((fn) => fn.name === name);
    if (!found) {
      throw new UserError(
        "RUNLET_FUNCTION_NOT_FOUND",
        `${name} is not in ${file}; its functions: ${stack.functions.map((fn) => fn.name).join(", ") || "none"}. Add it with: runlet new ${name}`,
      );
    }
    return found;
  }
  const [only, ...others] = stack.functions;
  if (!only || others.length > 0) {
    throw new UserError(
      "RUNLET_INVALID_REQUEST",
      `${file} has ${stack.functions.length} functions; name the one to develop: runlet dev NAME (${stack.functions.map((fn) => fn.name).join(", ")})`,
    );
  }
  return only;
}
