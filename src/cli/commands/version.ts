/** `runlet version`: the CLI's version, and the gateway's when it is reachable. */
import { z } from "zod";
import { VERSION } from "../../version.js";
import { resolveTarget } from "../client-config.js";
import { GatewayClient } from "../client.js";
import { clientFlagsSchema, defineCommand } from "../command.js";
import { line } from "../io.js";

export const versionCommand = defineCommand({
  name: "version",
  description: "print the CLI version and the gateway's",
  client: true,
  json: true,
  optionsSchema: clientFlagsSchema.extend({ json: z.boolean().optional() }),
  async run(_args, options, io) {
    const client = new GatewayClient(resolveTarget(options, io.env));
    let gateway: string | undefined;
    try {
      gateway = (await client.json<{ version: { release: string } }>("GET", "/system/info")).version
        .release;
    } catch {
      gateway = undefined;
    }
    if (options.json) {
      line(
        io.stdout,
        JSON.stringify({ cli: VERSION, gateway: gateway ?? null, node: process.version }),
      );
      return;
    }
    line(io.stdout, `runlet CLI ${VERSION} (Node ${process.version})`);
    line(
      io.stdout,
      gateway
        ? `gateway    ${gateway} at ${client.target.gateway}`
        : `gateway    not reachable at ${client.target.gateway}`,
    );
  },
});
