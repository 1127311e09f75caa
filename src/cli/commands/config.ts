/** `runlet config create|list|get|remove`: config maps, values that are not secret, read by functions as files. */
import { z } from "zod";
import { UserError } from "../../errors.js";
import { assertValidName } from "../../spec/names.js";
import { resolveTarget } from "../client-config.js";
import { GatewayClient } from "../client.js";
import { clientFlagsSchema, defineCommand } from "../command.js";
import { line, table } from "../io.js";
import { keyedValueOptions, keyedValuesOf } from "./keyed-values.js";

export const configCreateCommand = defineCommand({
  name: "config create",
  arguments: "<name>",
  description: "create or replace a config map (keys from --key and --key-file)",
  client: true,
  options: keyedValueOptions,
  examples: [
    "runlet config create my-configmap --key TEST_KEY=TESTVALUE   # Fission: /configs/default/my-configmap/TEST_KEY",
    "runlet config create app-settings --key-file settings.json=./settings.json",
  ],
  optionsSchema: clientFlagsSchema.extend({
    key: z.array(z.string()).optional(),
    keyFile: z.array(z.string()).optional(),
  }),
  async run(args, options, io) {
    const name = String(args[0]);
    assertValidName(name, "config map");
    const data = await keyedValuesOf(options, io.cwd);
    if (data === undefined) {
      throw new UserError(
        "RUNLET_INVALID_REQUEST",
        "Give the keys with --key KEY=VALUE or --key-file KEY=PATH (each repeatable).",
      );
    }
    const client = new GatewayClient(resolveTarget(options, io.env));
    const result = await client.json<{ created: boolean }>("PUT", `/api/v1/configs/${name}`, {
      data,
    });
    line(io.stdout, `✔ config map ${name} ${result.created ? "created" : "replaced"}`);
  },
});

export const configListCommand = defineCommand({
  name: "config list",
  description: "list config maps and their keys",
  client: true,
  json: true,
  optionsSchema: clientFlagsSchema.extend({ json: z.boolean().optional() }),
  async run(_args, options, io) {
    const client = new GatewayClient(resolveTarget(options, io.env));
    const configs = await client.json<{ name: string; keys: string[]; updatedAt: string }[]>(
      "GET",
      "/api/v1/configs",
    );
    if (options.json) {
      line(io.stdout, JSON.stringify(configs, null, 2));
      return;
    }
    if (configs.length === 0) {
      line(io.stdout, "No config maps. Create one with: runlet config create NAME --key KEY=VALUE");
      return;
    }
    line(
      io.stdout,
      table([
        ["NAME", "KEYS", "UPDATED"],
        ...configs.map((c) => [c.name, c.keys.join(", "), c.updatedAt]),
      ]),
    );
  },
});

export const configGetCommand = defineCommand({
  name: "config get",
  arguments: "<name> [key]",
  description: "print a config map's keys and values, or one key's value as it is",
  client: true,
  json: true,
  optionsSchema: clientFlagsSchema.extend({ json: z.boolean().optional() }),
  async run(args, options, io) {
    const name = String(args[0]);
    const client = new GatewayClient(resolveTarget(options, io.env));
    const config = await client.json<{ name: string; data: Record<string, string> }>(
      "GET",
      `/api/v1/configs/${encodeURIComponent(name)}`,
    );
    const key = args[1] === undefined ? undefined : String(args[1]);
    if (key !== undefined) {
      const value = config.data[key];
      if (value === undefined) {
        throw new UserError(
          "RUNLET_NOT_FOUND",
          `Config map ${name} has no key ${key}; its keys: ${Object.keys(config.data).join(", ")}.`,
        );
      }
      io.stdout.write(Buffer.from(value, "base64"));
      return;
    }
    const values = Object.entries(config.data).map(([k, v]) => [
      k,
      Buffer.from(v, "base64").toString("utf8"),
    ]);
    if (options.json) {
      line(io.stdout, JSON.stringify({ name, data: Object.fromEntries(values) }, null, 2));
      return;
    }
    line(io.stdout, table([["KEY", "VALUE"], ...values]));
  },
});

export const configRemoveCommand = defineCommand({
  name: "config remove",
  arguments: "<name>",
  description: "remove a config map no function uses",
  client: true,
  optionsSchema: clientFlagsSchema.extend({}),
  async run(args, options, io) {
    const client = new GatewayClient(resolveTarget(options, io.env));
    await client.json("DELETE", `/api/v1/configs/${encodeURIComponent(String(args[0]))}`);
    line(io.stdout, `✔ config map ${String(args[0])} removed`);
  },
});
