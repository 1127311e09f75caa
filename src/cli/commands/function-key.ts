/**
 * `runlet function key create|list|revoke`: a function's invoke keys, tokens that call only
 * that function (for webhooks and clients that should not hold a namespace-wide token).
 */
import { z } from "zod";
import { resolveTarget } from "../client-config.js";
import { GatewayClient } from "../client.js";
import { clientFlagsSchema, defineCommand } from "../command.js";
import { line, table } from "../io.js";
import type { TokenView } from "./token.js";

const keysPath = (name: string): string => `/api/v1/functions/${encodeURIComponent(name)}/keys`;

export const functionKeyCreateCommand = defineCommand({
  name: "function key create",
  arguments: "<function>",
  description: "make an invoke key for a function with auth: required; shown once",
  client: true,
  json: true,
  options: [
    { flags: "--name <name>", description: "the key's name (default: FUNCTION-key-XXXXXX)" },
    { flags: "--expires <duration>", description: "stop working after this long, e.g. 30d" },
    { flags: "--rate <rate>", description: "most requests it may make, e.g. 100/s (429 past it)" },
  ],
  examples: ["runlet function key create hello", "runlet function key create hook --name github"],
  optionsSchema: clientFlagsSchema.extend({
    name: z.string().optional(),
    expires: z.string().optional(),
    rate: z.string().optional(),
    json: z.boolean().optional(),
  }),
  async run(args, options, io) {
    const client = new GatewayClient(resolveTarget(options, io.env));
    const created = await client.json<TokenView>("POST", keysPath(String(args[0])), {
      ...(options.name === undefined ? {} : { name: options.name }),
      ...(options.expires === undefined ? {} : { expires: options.expires }),
      ...(options.rate === undefined ? {} : { rate: options.rate }),
    });
    if (options.json) {
      line(io.stdout, JSON.stringify(created, null, 2));
      return;
    }
    line(io.stdout, `✔ key ${created.name} calls ${String(args[0])} (shown once):`);
    line(io.stdout, `    ${created.token ?? ""}`);
    line(io.stdout, `  use it as: Authorization: Bearer <key>`);
  },
});

export const functionKeyListCommand = defineCommand({
  name: "function key list",
  arguments: "<function>",
  description: "list a function's invoke keys",
  client: true,
  json: true,
  optionsSchema: clientFlagsSchema.extend({ json: z.boolean().optional() }),
  async run(args, options, io) {
    const client = new GatewayClient(resolveTarget(options, io.env));
    const keys = await client.json<TokenView[]>("GET", keysPath(String(args[0])));
    if (options.json) {
      line(io.stdout, JSON.stringify(keys, null, 2));
      return;
    }
    if (keys.length === 0) {
      line(io.stdout, `No keys. Make one with: runlet function key create ${String(args[0])}`);
      return;
    }
    line(
      io.stdout,
      table([
        ["NAME", "CREATED", "EXPIRES"],
        ...keys.map((k) => [k.name, k.createdAt, k.expiresAt ?? "never"]),
      ]),
    );
  },
});

export const functionKeyRevokeCommand = defineCommand({
  name: "function key revoke",
  arguments: "<function> <key>",
  description: "revoke one of a function's invoke keys",
  client: true,
  optionsSchema: clientFlagsSchema.extend({}),
  async run(args, options, io) {
    const client = new GatewayClient(resolveTarget(options, io.env));
    await client.json(
      "DELETE",
      `${keysPath(String(args[0]))}/${encodeURIComponent(String(args[1]))}`,
    );
    line(io.stdout, `✔ key ${String(args[1])} of ${String(args[0])} revoked`);
  },
});
