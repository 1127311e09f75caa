/** `runlet scale NAME --min N --max M`: set a function's instance bounds. */
import { z } from "zod";
import { resolveTarget } from "../client-config.js";
import { GatewayClient } from "../client.js";
import { CommanderError } from "commander";
import { clientFlagsSchema, defineCommand } from "../command.js";
import { line } from "../io.js";

const count = z.coerce.number().int().min(0).max(1000);

export const scaleCommand = defineCommand({
  name: "scale",
  arguments: "<name>",
  description:
    "set the fewest and most instances a function runs (a new revision; the next deploy sets what runlet.yaml says)",
  client: true,
  options: [
    {
      flags: "--min <count>",
      description: "instances kept running, also when idle (0: scale to zero)",
    },
    { flags: "--max <count>", description: "most instances under load" },
  ],
  examples: ["runlet scale hello --min 1 --max 5", "runlet scale hello --min 0"],
  optionsSchema: clientFlagsSchema.extend({ min: count.optional(), max: count.min(1).optional() }),
  async run(args, options, io) {
    const name = args[0] as string;
    if (options.min === undefined && options.max === undefined) {
      throw new CommanderError(
        1,
        "runlet.invalidOption",
        "error: give --min, --max or both, e.g. runlet scale hello --min 1 --max 5",
      );
    }
    const client = new GatewayClient(resolveTarget(options, io.env));
    const result = await client.json<{ revision: number; outcome: string }>(
      "POST",
      `/api/v1/functions/${encodeURIComponent(name)}/scale`,
      { min: options.min, max: options.max },
    );
    line(
      io.stdout,
      result.outcome === "unchanged"
        ? `${name} unchanged (revision ${result.revision})`
        : `✔ ${name} scaled (revision ${result.revision})`,
    );
  },
});
