/** `runlet audit [--since 1h] [--verify]`: the audit log of control actions (issue 18). */
import { z } from "zod";
import { UserError } from "../../errors.js";
import { parseExpiry } from "../../platform/access-tokens.js";
import { resolveTarget } from "../client-config.js";
import { GatewayClient } from "../client.js";
import { clientFlagsSchema, defineCommand } from "../command.js";
import { line, table } from "../io.js";

interface AuditView {
  seq: number;
  time: string;
  actor: string;
  namespace: string;
  action: string;
  object: string;
  result: string;
  status: number;
}

type Verification =
  { ok: true; entries: number } | { ok: false; entries: number; brokenAt: number; reason: string };

/** "1h", "7d" (that long ago) or an RFC 3339 time, as RFC 3339. */
function sinceTime(text: string, now: number): string {
  if (/^\d{4}-\d{2}-\d{2}T/.test(text) && Number.isFinite(Date.parse(text))) {
    return text;
  }
  try {
    return new Date(now - parseExpiry(text)).toISOString();
  } catch {
    throw new UserError(
      "RUNLET_INVALID_REQUEST",
      `--since ${text} is neither a duration (1h, 7d) nor an RFC 3339 time (2026-05-01T12:00:00Z).`,
    );
  }
}

export const auditCommand = defineCommand({
  name: "audit",
  description: "show who did what: the hash-chained log of control actions (admins only)",
  client: true,
  json: true,
  options: [
    { flags: "--since <time>", description: "only entries since, e.g. 1h, 7d or an RFC 3339 time" },
    { flags: "-n, --namespace <namespace>", description: "only this namespace's entries" },
    { flags: "--verify", description: "check the hash chain of the whole log (admin token)" },
  ],
  examples: ["runlet audit --since 1h", "runlet audit --verify"],
  optionsSchema: clientFlagsSchema.extend({
    since: z.string().optional(),
    namespace: z.string().optional(),
    verify: z.boolean().optional(),
    json: z.boolean().optional(),
  }),
  async run(_args, options, io) {
    const client = new GatewayClient(resolveTarget(options, io.env));
    if (options.verify) {
      const result = await client.json<Verification>("GET", "/api/v1/audit/verify");
      if (options.json) {
        line(io.stdout, JSON.stringify(result, null, 2));
      } else if (result.ok) {
        line(io.stdout, `✔ audit log intact: ${result.entries} entries, every hash matches`);
      } else {
        line(io.stdout, `✘ audit log broken at entry ${result.brokenAt}: ${result.reason}`);
      }
      return result.ok ? 0 : 1;
    }
    const query = new URLSearchParams();
    if (options.since !== undefined) {
      query.set("since", sinceTime(options.since, Date.now()));
    }
    if (options.namespace !== undefined) {
      query.set("namespace", options.namespace);
    }
    const text = query.toString();
    const entries = await client.json<AuditView[]>("GET", `/api/v1/audit${text ? `?${text}` : ""}`);
    if (options.json) {
      line(io.stdout, JSON.stringify(entries, null, 2));
      return;
    }
    if (entries.length === 0) {
      line(io.stdout, "No audit entries in that range.");
      return;
    }
    line(
      io.stdout,
      table([
        ["TIME", "ACTOR", "NAMESPACE", "ACTION", "OBJECT", "RESULT"],
        ...entries.map((e) => [e.time, e.actor, e.namespace, e.action, e.object, e.result]),
      ]),
    );
  },
});
