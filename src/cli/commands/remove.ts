/** `runlet remove NAME...`: delete functions, their instances and logs. */
import { resolveTarget } from "../client-config.js";
import { GatewayClient } from "../client.js";
import { clientFlagsSchema, defineCommand } from "../command.js";
import { line } from "../io.js";

export const removeCommand = defineCommand({
  name: "remove",
  arguments: "<names...>",
  description: "remove functions (their revisions, instances and logs)",
  client: true,
  optionsSchema: clientFlagsSchema.extend({}),
  async run(args, options, io) {
    const client = new GatewayClient(resolveTarget(options, io.env));
    for (const name of (args[0] as string[] | undefined) ?? []) {
      await client.json("DELETE", `/api/v1/functions/${encodeURIComponent(name)}`);
      line(io.stdout, `✔ removed ${name}`);
    }
  },
});
