/** `runlet trigger create|list|remove`: HTTP routes, cron schedules and NATS subjects (docs/triggers.md). */
import { z } from "zod";
import { UserError } from "../../errors.js";
import type { TriggerView } from "../../triggers/triggers.js";
import { resolveTarget } from "../client-config.js";
import { GatewayClient } from "../client.js";
import { clientFlagsSchema, defineCommand } from "../command.js";
import { line, table } from "../io.js";

/** Builds the POST /api/v1/triggers body from the flags; the server validates the rest. */
export function triggerRequestFromFlags(
  name: string,
  options: {
    function: string;
    http?: string;
    weight?: number;
    cron?: string;
    tz?: string;
    nats?: string;
    queue?: string;
    reply?: string;
    errorSubject?: string;
    stream?: string;
    consumer?: string;
  },
): Record<string, unknown> {
  const kinds = [options.http, options.cron, options.nats].filter((v) => v !== undefined);
  if (kinds.length !== 1) {
    throw new UserError(
      "RUNLET_INVALID_REQUEST",
      'Give exactly one of --http "METHOD /path", --cron "SPEC" or --nats SUBJECT.',
    );
  }
  const body: Record<string, unknown> = { name, function: options.function };
  if (options.http !== undefined) {
    Object.assign(body, { http: options.http, weight: options.weight });
  } else if (options.cron !== undefined) {
    Object.assign(body, { cron: options.cron, tz: options.tz });
  } else {
    Object.assign(body, {
      nats: options.nats,
      queue: options.queue,
      reply: options.reply,
      errorSubject: options.errorSubject,
      stream: options.stream,
      consumer: options.consumer,
    });
  }
  const misplaced = [
    options.weight !== undefined && options.http === undefined ? "--weight" : undefined,
    options.tz !== undefined && options.cron === undefined ? "--tz" : undefined,
    ...(options.nats === undefined
      ? (["queue", "reply", "errorSubject", "stream", "consumer"] as const)
          .filter((key) => options[key] !== undefined)
          .map((key) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`)
      : []),
  ].filter((flag) => flag !== undefined);
  if (misplaced.length > 0) {
    throw new UserError(
      "RUNLET_INVALID_REQUEST",
      `${misplaced.join(", ")} ${misplaced.length === 1 ? "does" : "do"} not apply to this kind of trigger (--weight is for --http, --tz for --cron, --queue/--reply/--error-subject/--stream/--consumer for --nats).`,
    );
  }
  return Object.fromEntries(Object.entries(body).filter(([, value]) => value !== undefined));
}

export const triggerCreateCommand = defineCommand({
  name: "trigger create",
  arguments: "<name>",
  description: "call a function on an HTTP route, a cron schedule or a NATS subject",
  client: true,
  options: [
    {
      flags: "--function <name>",
      description: 'function to call ("name", or "name@rev" for a route)',
    },
    {
      flags: "--http <route>",
      description: 'route on the gateway root: "GET /hello/{who}" or "ANY /files/*"',
    },
    {
      flags: "--weight <n>",
      description: "share the route with other weighted triggers (canary split)",
    },
    { flags: "--cron <spec>", description: '5 cron fields, "@daily", or "@every 30s"' },
    { flags: "--tz <zone>", description: "time zone of the cron fields (default UTC)" },
    { flags: "--nats <subject>", description: "NATS subject (wildcards allowed)" },
    { flags: "--queue <group>", description: "NATS queue group" },
    { flags: "--reply <subject>", description: "publish each response to this subject" },
    { flags: "--error-subject <subject>", description: "publish failures to this subject" },
    {
      flags: "--stream <name>",
      description: "consume from this JetStream stream (ack after success)",
    },
    { flags: "--consumer <name>", description: "durable JetStream consumer name" },
  ],
  examples: [
    'runlet trigger create hello-route --function hello --http "GET /hello/{who}"',
    'runlet trigger create nightly --function report --cron "0 3 * * *" --tz Europe/Berlin',
    "runlet trigger create orders --function orders --nats orders.created --reply orders.done",
  ],
  optionsSchema: clientFlagsSchema.extend({
    function: z.string({ error: "--function NAME is required" }),
    http: z.string().optional(),
    weight: z.coerce.number().int().min(0).optional(),
    cron: z.string().optional(),
    tz: z.string().optional(),
    nats: z.string().optional(),
    queue: z.string().optional(),
    reply: z.string().optional(),
    errorSubject: z.string().optional(),
    stream: z.string().optional(),
    consumer: z.string().optional(),
  }),
  async run(args, options, io) {
    const name = String(args[0]);
    const body = triggerRequestFromFlags(name, options);
    const client = new GatewayClient(resolveTarget(options, io.env));
    const created = await client.json<TriggerView>("POST", "/api/v1/triggers", body);
    line(
      io.stdout,
      `✔ trigger ${created.name} created: ${describeTrigger(created)} → ${created.function}`,
    );
  },
});

export const triggerListCommand = defineCommand({
  name: "trigger list",
  description: "list triggers (standalone ones and those from function specs)",
  client: true,
  json: true,
  optionsSchema: clientFlagsSchema.extend({ json: z.boolean().optional() }),
  async run(_args, options, io) {
    const client = new GatewayClient(resolveTarget(options, io.env));
    const triggers = await client.json<TriggerView[]>("GET", "/api/v1/triggers");
    if (options.json) {
      line(io.stdout, JSON.stringify(triggers, null, 2));
      return;
    }
    if (triggers.length === 0) {
      line(
        io.stdout,
        'No triggers. Create one with: runlet trigger create NAME --function FN --http "GET /path"',
      );
      return;
    }
    line(
      io.stdout,
      table([
        ["NAME", "KIND", "FUNCTION", "WHEN", "FROM"],
        ...triggers.map((t) => [t.name, t.kind, t.function, describeTrigger(t), t.origin]),
      ]),
    );
  },
});

export const triggerRemoveCommand = defineCommand({
  name: "trigger remove",
  arguments: "<name>",
  description: "remove a standalone trigger",
  client: true,
  optionsSchema: clientFlagsSchema.extend({}),
  async run(args, options, io) {
    const client = new GatewayClient(resolveTarget(options, io.env));
    await client.json("DELETE", `/api/v1/triggers/${encodeURIComponent(String(args[0]))}`);
    line(io.stdout, `✔ trigger ${String(args[0])} removed`);
  },
});

export function describeTrigger(trigger: Pick<TriggerView, "spec">): string {
  const spec = trigger.spec;
  if ("http" in spec) {
    return spec.weight === undefined ? spec.http : `${spec.http} (weight ${spec.weight})`;
  }
  if ("cron" in spec) {
    return spec.tz ? `${spec.cron} (${spec.tz})` : spec.cron;
  }
  return spec.stream ? `${spec.nats} (stream ${spec.stream})` : spec.nats;
}
