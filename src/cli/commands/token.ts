/** `runlet token create|list|revoke`: scoped API tokens, a namespace and a role each (issue 18). */
import { z } from "zod";
import { roles } from "../../auth/roles.js";
import { resolveTarget } from "../client-config.js";
import { GatewayClient } from "../client.js";
import { clientFlagsSchema, defineCommand } from "../command.js";
import { line, table } from "../io.js";

export interface TokenView {
  name: string;
  namespace: string;
  role: string;
  function?: string;
  createdAt: string;
  createdBy: string;
  expiresAt?: string;
  token?: string;
}

export const tokenCreateCommand = defineCommand({
  name: "token create",
  arguments: "<name>",
  description: "make a token for one namespace and role; it is shown once, only its hash is kept",
  client: true,
  json: true,
  options: [
    {
      flags: "-n, --namespace <namespace>",
      description: "the namespace it acts in",
      defaultValue: "openfaas-fn",
    },
    { flags: "--role <role>", description: `one of ${roles.join(", ")}` },
    { flags: "--expires <duration>", description: "stop working after this long, e.g. 30d or 12h" },
    { flags: "--rate <rate>", description: "most requests it may make, e.g. 100/s (429 past it)" },
  ],
  examples: [
    "runlet token create ci --role deployer --expires 30d",
    "runlet token create webhook-caller --role invoker",
  ],
  optionsSchema: clientFlagsSchema.extend({
    namespace: z.string(),
    role: z.enum(roles, { error: () => `give --role ${roles.join("|")}` }),
    expires: z.string().optional(),
    rate: z.string().optional(),
    json: z.boolean().optional(),
  }),
  async run(args, options, io) {
    const client = new GatewayClient(resolveTarget(options, io.env));
    const created = await client.json<TokenView>("POST", "/api/v1/tokens", {
      name: String(args[0]),
      namespace: options.namespace,
      role: options.role,
      ...(options.expires === undefined ? {} : { expires: options.expires }),
      ...(options.rate === undefined ? {} : { rate: options.rate }),
    });
    if (options.json) {
      line(io.stdout, JSON.stringify(created, null, 2));
      return;
    }
    line(
      io.stdout,
      `✔ token ${created.name} (role ${created.role}, namespace ${created.namespace}${created.expiresAt ? `, expires ${created.expiresAt}` : ""})`,
    );
    line(io.stdout, "  shown once; only its hash is kept:");
    line(io.stdout, `    ${created.token ?? ""}`);
  },
});

export const tokenListCommand = defineCommand({
  name: "token list",
  description: "list tokens and invoke keys (never the tokens themselves)",
  client: true,
  json: true,
  options: [{ flags: "-n, --namespace <namespace>", description: "only this namespace's tokens" }],
  optionsSchema: clientFlagsSchema.extend({
    namespace: z.string().optional(),
    json: z.boolean().optional(),
  }),
  async run(_args, options, io) {
    const client = new GatewayClient(resolveTarget(options, io.env));
    const query = options.namespace ? `?namespace=${encodeURIComponent(options.namespace)}` : "";
    const tokens = await client.json<TokenView[]>("GET", `/api/v1/tokens${query}`);
    if (options.json) {
      line(io.stdout, JSON.stringify(tokens, null, 2));
      return;
    }
    if (tokens.length === 0) {
      line(io.stdout, "No tokens. Make one with: runlet token create NAME --role viewer");
      return;
    }
    line(
      io.stdout,
      table([
        ["NAME", "NAMESPACE", "ROLE", "FUNCTION", "CREATED BY", "EXPIRES"],
        ...tokens.map((t) => [
          t.name,
          t.namespace,
          t.role,
          t.function ?? "",
          t.createdBy,
          t.expiresAt ?? "never",
        ]),
      ]),
    );
  },
});

export const tokenRevokeCommand = defineCommand({
  name: "token revoke",
  arguments: "<name>",
  description: "revoke a token: it stops working at once",
  client: true,
  optionsSchema: clientFlagsSchema.extend({}),
  async run(args, options, io) {
    const client = new GatewayClient(resolveTarget(options, io.env));
    await client.json("DELETE", `/api/v1/tokens/${encodeURIComponent(String(args[0]))}`);
    line(io.stdout, `✔ token ${String(args[0])} revoked`);
  },
});
