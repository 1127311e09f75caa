/** `runlet remove NAME...`: delete functions, their instances and logs. */
import { isUserError } from "../../errors.js";
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
    let missing = 0;
    for (const name of (args[0] as string[] | undefined) ?? []) {
      try {
        await client.json("DELETE", `/api/v1/functions/${encodeURIComponent(name)}`);
        line(io.stdout, `✔ removed ${name}`);
      } catch (error) {
        // Like rm: a name that is not there does not stop the others from being removed.
        if (!isUserError(error) || error.code !== "RUNLET_FUNCTION_NOT_FOUND") {
          throw error;
        }
        line(io.stderr, `Error: ${error.message}`);
        missing += 1;
      }
    }
    return missing > 0 ? 1 : 0;
  },
});
