/** `runlet list`: deployed functions. */
import { z } from "zod";
import { resolveTarget } from "../client-config.js";
import { GatewayClient } from "../client.js";
import { clientFlagsSchema, defineCommand } from "../command.js";
import { line, table } from "../io.js";

interface FunctionSummary {
  name: string;
  revision: number;
  config: { runtime: string };
  replicas: number;
  availableReplicas: number;
  updatedAt: string;
}

export const listCommand = defineCommand({
  name: "list",
  description: "list deployed functions",
  client: true,
  json: true,
  optionsSchema: clientFlagsSchema.extend({ json: z.boolean().optional() }),
  async run(_args, options, io) {
    const client = new GatewayClient(resolveTarget(options, io.env));
    const functions = await client.json<FunctionSummary[]>("GET", "/api/v1/functions");
    if (options.json) {
      line(io.stdout, JSON.stringify(functions, null, 2));
      return;
    }
    if (functions.length === 0) {
      line(
        io.stdout,
        "No functions deployed. Deploy one with: runlet deploy NAME --runtime node --source DIR",
      );
      return;
    }
    line(
      io.stdout,
      table([
        ["NAME", "RUNTIME", "REVISION", "READY", "URL"],
        ...functions.map((fn) => [
          fn.name,
          fn.config.runtime,
          String(fn.revision),
          `${fn.availableReplicas}/${fn.replicas}`,
          `${client.target.gateway}/function/${client.address(fn.name)}`,
        ]),
      ]),
    );
  },
});
