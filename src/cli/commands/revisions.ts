/** `runlet revisions NAME`: every revision of a function, the active one marked. */
import { z } from "zod";
import { resolveTarget } from "../client-config.js";
import { GatewayClient } from "../client.js";
import { clientFlagsSchema, defineCommand } from "../command.js";
import { line, table } from "../io.js";

interface RevisionRow {
  revision: number;
  package: string;
  spec: { runtime: string; scale?: { min?: number; max?: number } };
  createdAt: string;
}

export const revisionsCommand = defineCommand({
  name: "revisions",
  arguments: "<name>",
  description: "list a function's revisions (roll back to one with runlet rollback)",
  client: true,
  json: true,
  examples: ["runlet revisions hello", "runlet rollback hello --to 2"],
  optionsSchema: clientFlagsSchema.extend({ json: z.boolean().optional() }),
  async run(args, options, io) {
    const name = args[0] as string;
    const client = new GatewayClient(resolveTarget(options, io.env));
    const path = `/api/v1/functions/${encodeURIComponent(name)}`;
    const [fn, revisions] = await Promise.all([
      client.json<{ revision: number }>("GET", path),
      client.json<RevisionRow[]>("GET", `${path}/revisions`),
    ]);
    if (options.json) {
      line(
        io.stdout,
        JSON.stringify(
          revisions.map((r) => ({ ...r, active: r.revision === fn.revision })),
          null,
          2,
        ),
      );
      return;
    }
    line(
      io.stdout,
      table([
        ["REVISION", "ACTIVE", "CREATED", "RUNTIME", "SCALE", "PACKAGE"],
        ...revisions.map((r) => [
          String(r.revision),
          r.revision === fn.revision ? "*" : "",
          r.createdAt.replace(/\.\d+Z$/, "Z"),
          r.spec.runtime,
          `${r.spec.scale?.min ?? 0}-${r.spec.scale?.max ?? 10}`,
          r.package.slice(0, 19),
        ]),
      ]),
    );
  },
});
