/** `runlet rollback NAME [--to REVISION]`: make an earlier revision the active one again. */
import { z } from "zod";
import { resolveTarget } from "../client-config.js";
import { GatewayClient } from "../client.js";
import { clientFlagsSchema, defineCommand } from "../command.js";
import { line } from "../io.js";

export const rollbackCommand = defineCommand({
  name: "rollback",
  arguments: "<name>",
  description: "activate an earlier revision (default: the one before the active revision)",
  client: true,
  options: [{ flags: "--to <revision>", description: "the revision to activate" }],
  examples: ["runlet rollback hello", "runlet rollback hello --to 3"],
  optionsSchema: clientFlagsSchema.extend({
    to: z.coerce.number().int().min(1).optional(),
  }),
  async run(args, options, io) {
    const name = args[0] as string;
    const client = new GatewayClient(resolveTarget(options, io.env));
    const result = await client.json<{ revision: number; outcome: string }>(
      "POST",
      `/api/v1/functions/${encodeURIComponent(name)}/rollback`,
      options.to === undefined ? {} : { revision: options.to },
    );
    line(
      io.stdout,
      result.outcome === "unchanged"
        ? `${name} already runs revision ${result.revision}`
        : `✔ ${name} rolled back to revision ${result.revision}`,
    );
  },
});
