/** `runlet secret create|list|remove`: secrets functions can read as files. */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { z } from "zod";
import { keyedValueOptions, keyedValuesOf } from "./keyed-values.js";
import { UserError } from "../../errors.js";
import { assertValidName } from "../../spec/names.js";
import { resolveTarget } from "../client-config.js";
import { GatewayClient } from "../client.js";
import { clientFlagsSchema, defineCommand } from "../command.js";
import { line, readAll, table } from "../io.js";

export const secretCreateCommand = defineCommand({
  name: "secret create",
  arguments: "<name>",
  description:
    "create or replace a secret: one value (--from-literal, --from-file or stdin) or keys (--key, --key-file)",
  client: true,
  options: [
    { flags: "--from-literal <value>", description: "the value itself" },
    { flags: "--from-file <path>", description: "read the value from a file (any bytes)" },
    ...keyedValueOptions,
  ],
  examples: [
    "runlet secret create api-key --from-literal s3cr3t",
    "runlet secret create tls-key --from-file key.pem",
    "runlet secret create my-secret --key TEST_KEY=TESTVALUE   # Fission: /secrets/default/my-secret/TEST_KEY",
  ],
  optionsSchema: clientFlagsSchema.extend({
    fromLiteral: z.string().optional(),
    fromFile: z.string().optional(),
    key: z.array(z.string()).optional(),
    keyFile: z.array(z.string()).optional(),
  }),
  async run(args, options, io) {
    const name = String(args[0]);
    assertValidName(name, "secret");
    const keyed = await keyedValuesOf(options, io.cwd);
    const given = [options.fromLiteral, options.fromFile, keyed].filter((v) => v !== undefined);
    if (given.length > 1) {
      throw new UserError(
        "RUNLET_INVALID_REQUEST",
        "Give one value (--from-literal or --from-file) or keys (--key, --key-file), not both.",
      );
    }
    let body: { value: string } | { valueBase64: string } | { data: Record<string, string> };
    if (keyed !== undefined) {
      body = { data: keyed };
    } else if (options.fromLiteral !== undefined) {
      body = { value: options.fromLiteral };
    } else if (options.fromFile !== undefined) {
      // Bytes as they are: a key file or certificate need not be text.
      body = {
        valueBase64: (await readFile(resolve(io.cwd, options.fromFile))).toString("base64"),
      };
    } else if (!io.stdin.isTTY) {
      body = { valueBase64: (await readAll(io.stdin)).toString("base64") };
    } else {
      throw new UserError(
        "RUNLET_INVALID_REQUEST",
        "Give the value with --from-literal VALUE, --from-file PATH, or on stdin (or keys with --key KEY=VALUE).",
      );
    }
    const client = new GatewayClient(resolveTarget(options, io.env));
    const result = await client.json<{ created: boolean }>("PUT", `/api/v1/secrets/${name}`, body);
    line(io.stdout, `✔ secret ${name} ${result.created ? "created" : "replaced"}`);
  },
});

export const secretListCommand = defineCommand({
  name: "secret list",
  description: "list secrets (names only; values are never shown)",
  client: true,
  json: true,
  optionsSchema: clientFlagsSchema.extend({ json: z.boolean().optional() }),
  async run(_args, options, io) {
    const client = new GatewayClient(resolveTarget(options, io.env));
    const secrets = await client.json<{ name: string; updatedAt: string }[]>(
      "GET",
      "/api/v1/secrets",
    );
    if (options.json) {
      line(io.stdout, JSON.stringify(secrets, null, 2));
      return;
    }
    if (secrets.length === 0) {
      line(
        io.stdout,
        "No secrets. Create one with: runlet secret create NAME --from-literal VALUE",
      );
      return;
    }
    line(io.stdout, table([["NAME", "UPDATED"], ...secrets.map((s) => [s.name, s.updatedAt])]));
  },
});

export const secretRemoveCommand = defineCommand({
  name: "secret remove",
  arguments: "<name>",
  description: "remove a secret no function uses",
  client: true,
  optionsSchema: clientFlagsSchema.extend({}),
  async run(args, options, io) {
    const client = new GatewayClient(resolveTarget(options, io.env));
    await client.json("DELETE", `/api/v1/secrets/${encodeURIComponent(String(args[0]))}`);
    line(io.stdout, `✔ secret ${String(args[0])} removed`);
  },
});
