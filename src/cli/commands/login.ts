/** `runlet login` / `runlet logout`: remember (or forget) a gateway and its token. */
import { z } from "zod";
import { UserError } from "../../errors.js";
import {
  configPath,
  defaultGateway,
  forgetConfig,
  resolveTarget,
  saveConfig,
} from "../client-config.js";
import { GatewayClient } from "../client.js";
import { defineCommand } from "../command.js";
import { line, readAll } from "../io.js";

export const loginCommand = defineCommand({
  name: "login",
  description: "check a gateway's admin token and save both for later commands",
  options: [
    { flags: "--gateway <url>", description: "gateway URL", defaultValue: defaultGateway },
    { flags: "--token <token>", description: "admin token" },
    {
      flags: "--ca <file>",
      description: "PEM certificate to trust for an https gateway (default: RUNLET_CA)",
    },
    {
      flags: "--token-stdin",
      description: "read the token from stdin (keeps it out of shell history)",
    },
  ],
  examples: [
    "runlet login --token $(cat ~/.runlet/admin-token)",
    "cat token.txt | runlet login --gateway http://runlet.internal:8080 --token-stdin",
  ],
  optionsSchema: z.object({
    gateway: z.string(),
    token: z.string().optional(),
    tokenStdin: z.boolean().optional(),
    ca: z.string().optional(),
  }),
  async run(_args, options, io) {
    const token = options.tokenStdin
      ? (await readAll(io.stdin)).toString("utf8").trim()
      : options.token;
    if (!token) {
      throw new UserError(
        "RUNLET_INVALID_REQUEST",
        "Give the admin token with --token TOKEN or --token-stdin.",
      );
    }
    const gateway = options.gateway.replace(/\/+$/, "");
    const { ca } = resolveTarget({ gateway, token, ca: options.ca }, io.env);
    const client = new GatewayClient(
      ca === undefined ? { gateway, token } : { gateway, token, ca },
    );
    const info = await client.json<{ version: { release: string } }>("GET", "/system/info");
    const path = await saveConfig(io.env, { gateway, token });
    line(io.stdout, `✔ logged in to ${gateway} (Runlet ${info.version.release}); saved in ${path}`);
  },
});

export const logoutCommand = defineCommand({
  name: "logout",
  description: "forget the saved gateway and token",
  optionsSchema: z.object({}),
  async run(_args, _options, io) {
    const existed = await forgetConfig(io.env);
    line(io.stdout, existed ? `✔ logged out (removed ${configPath(io.env)})` : "Not logged in.");
  },
});
