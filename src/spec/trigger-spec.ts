/**
 * Triggers (docs/triggers.md): what starts a function besides a direct call. One zod schema
 * for an entry in a function's `triggers` list and for the body of POST /api/v1/triggers,
 * with the checks that make a bad route, cron spec or time zone say what is wrong.
 */
import { Cron } from "croner";
import { createHash } from "node:crypto";
import { z } from "zod";
import { parseDuration } from "./units.js";

export const routeMethods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"];

/**
 * First path segments the platform serves itself; a route under them would never be reached
 * (or would hide the platform), so they are refused.
 */
export const platformPrefixes = [
  "function",
  "async-function",
  "api",
  "system",
  "metrics",
  "healthz",
  "ui",
] as const;

/** A parsed route: `GET /hello/{who}` or the prefix form `ANY /files/*`. */
export interface RoutePattern {
  /** Upper case; "ANY" matches every method. */
  readonly method: string;
  /** Path segments; a parameter segment is `{name}`. */
  readonly segments: readonly RouteSegment[];
  /** Ends in `/*`: matches the path and everything under it. */
  readonly prefix: boolean;
  /** The route as written, normalized ("GET /hello/{who}"). */
  readonly text: string;
}

export type RouteSegment = { readonly literal: string } | { readonly param: string };

const paramName = /^[A-Za-z_][A-Za-z0-9_]*$/;
const literalSegment = /^[A-Za-z0-9._~!$&'()+,;=:@%-]+$/;

/** Parses "METHOD /path/{param}" or "METHOD /prefix/*"; returns why not when it is not one. */
export function parseRoute(text: string): RoutePattern | string {
  const parts = text.trim().split(/\s+/);
  if (parts.length !== 2 || parts[0] === undefined || parts[1] === undefined) {
    return `expected "METHOD /path" such as "GET /hello/{who}" or "ANY /files/*", got ${JSON.stringify(text)}`;
  }
  const method = parts[0].toUpperCase();
  const path = parts[1];
  if (!routeMethods.includes(method)) {
    return `unknown method ${JSON.stringify(parts[0])}; use one of ${routeMethods.join(", ")}`;
  }
  if (!path.startsWith("/")) {
    return `the path ${JSON.stringify(path)} must start with "/"`;
  }
  const raw = path.split("/").slice(1);
  const prefix = raw[raw.length - 1] === "*";
  if (prefix) {
    raw.pop();
  }
  if (raw.length === 1 && raw[0] === "") {
    raw.pop();
  }
  if (raw.length === 0 && !prefix) {
    return 'the path "/" is the platform\'s own page; pick a path below it, or "/*" for everything that is not a platform path';
  }
  const segments: RouteSegment[] = [];
  const seen = new Set<string>();
  for (const segment of raw) {
    if (segment === "") {
      return `the path ${JSON.stringify(path)} has an empty segment ("//" or a trailing "/")`;
    }
    if (segment.startsWith("{") && segment.endsWith("}")) {
      const name = segment.slice(1, -1);
      if (!paramName.test(name)) {
        return `${JSON.stringify(segment)} is not a valid parameter: names are letters, digits and "_", e.g. {user_id}`;
      }
      if (seen.has(name)) {
        return `the parameter {${name}} appears twice in ${JSON.stringify(path)}`;
      }
      seen.add(name);
      segments.push({ param: name });
    } else if (segment.includes("*")) {
      return `"*" may only be the last segment ("/prefix/*"), not ${JSON.stringify(segment)}`;
    } else if (!literalSegment.test(segment)) {
      return `${JSON.stringify(segment)} is not a valid path segment; a parameter is a whole segment such as {id}`;
    } else {
      segments.push({ literal: segment });
    }
  }
  const first = segments[0];
  if (
    first &&
    "literal" in first &&
    (platformPrefixes as readonly string[]).includes(first.literal)
  ) {
    return `/${first.literal} is a platform path; routes may not live under ${platformPrefixes.map((p) => `/${p}`).join(", ")}`;
  }
  const shown = segments.map((s) => ("literal" in s ? s.literal : `{${s.param}}`)).join("/");
  const suffix = prefix ? (segments.length === 0 ? "*" : "/*") : "";
  return { method, segments, prefix, text: `${method} /${shown}${suffix}` };
}

/** Two routes conflict when they match exactly the same requests (parameter names aside). */
export function routeShape(route: RoutePattern): string {
  const path = route.segments.map((s) => ("literal" in s ? s.literal : "{}")).join("/");
  return `${route.method} /${path}${route.prefix ? "/*" : ""}`;
}

/** `@every 30s`: a fixed interval, parsed here (cron has no seconds field). */
const everyPattern = /^@every\s+(\S+)$/;
const cronNicknames = ["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@hourly"];

/** A schedule: either a fixed interval or a cron expression in a time zone. */
export type Schedule =
  | { readonly kind: "every"; readonly intervalMs: number }
  | { readonly kind: "cron"; readonly cron: Cron };

/** Parses "*\/5 * * * *", "@daily" or "@every 30s"; returns why not when it is none of them. */
export function parseSchedule(spec: string, tz?: string): Schedule | string {
  const text = spec.trim();
  const every = everyPattern.exec(text);
  if (every?.[1] !== undefined) {
    const intervalMs = parseDuration(every[1]);
    if (intervalMs === undefined || intervalMs < 1000) {
      return `"@every ${every[1]}" needs a duration of at least 1s, such as "@every 30s" or "@every 5m"`;
    }
    return { kind: "every", intervalMs };
  }
  if (text.startsWith("@") && !cronNicknames.includes(text)) {
    return `unknown schedule ${JSON.stringify(text)}; use 5 cron fields, "@every 30s", or one of ${cronNicknames.join(", ")}`;
  }
  if (!text.startsWith("@")) {
    const fields = text.split(/\s+/);
    if (fields.length !== 5) {
      return `a cron schedule has 5 fields (minute hour day-of-month month day-of-week), ${JSON.stringify(text)} has ${fields.length}`;
    }
  }
  const zoneProblem = tz === undefined ? undefined : timeZoneProblem(tz);
  if (zoneProblem) {
    return zoneProblem;
  }
  try {
    // paused: a pattern to compute firing times from; the scheduler keeps its own timers.
    return { kind: "cron", cron: new Cron(text, { timezone: tz, paused: true }) };
  } catch (error) {
    return `invalid cron schedule ${JSON.stringify(text)}: ${error instanceof Error ? error.message : String(error)}`;
  }
}

export function timeZoneProblem(tz: string): string | undefined {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return undefined;
  } catch {
    return `unknown time zone ${JSON.stringify(tz)}; use an IANA name such as "Europe/Berlin" or "UTC"`;
  }
}

/** A NATS subject: dot-separated tokens, wildcards `*` and a last `>` allowed. */
const subjectPattern = /^(?:[^.\s*>]+|\*)(?:\.(?:[^.\s*>]+|\*))*(?:\.>)?$|^>$/;
const publishSubjectPattern = /^[^.\s*>]+(?:\.[^.\s*>]+)*$/;
const natsName = /^[A-Za-z0-9_-]+$/;

function checked<T extends z.ZodType>(
  schema: T,
  problem: (value: z.infer<T>) => string | undefined,
) {
  return schema.check((ctx) => {
    const message = problem(ctx.value);
    if (message) {
      ctx.issues.push({ code: "custom", input: ctx.value, message });
    }
  });
}

const routeText = checked(z.string(), (value) => {
  const parsed = parseRoute(value);
  return typeof parsed === "string" ? parsed : undefined;
});
const subscribeSubject = checked(z.string(), (value) =>
  subjectPattern.test(value)
    ? undefined
    : `${JSON.stringify(value)} is not a NATS subject: dot-separated tokens, "*" for one token, ">" as the last`,
);
const publishSubject = checked(z.string(), (value) =>
  publishSubjectPattern.test(value)
    ? undefined
    : `${JSON.stringify(value)} is not a subject to publish to: dot-separated tokens without wildcards`,
);
const streamName = checked(z.string(), (value) =>
  natsName.test(value) ? undefined : `${JSON.stringify(value)}: use letters, digits, "-" and "_"`,
);

export const httpTriggerSchema = z.strictObject({
  /** "GET /hello/{who}", or "ANY /files/*" for a prefix. */
  http: routeText,
  /** Share the route with other weighted triggers; requests split in proportion. */
  weight: z.number().int().min(0).max(10_000).optional(),
});

const cronTriggerShape = z.strictObject({
  /** 5 cron fields, a nickname such as "@daily", or "@every 30s". */
  cron: z.string(),
  /** IANA time zone for cron fields. @default "UTC" */
  tz: z.string().optional(),
});

function checkSchedule(ctx: z.core.ParsePayload<{ cron: string; tz?: string | undefined }>): void {
  const parsed = parseSchedule(ctx.value.cron, ctx.value.tz);
  if (typeof parsed === "string") {
    ctx.issues.push({
      code: "custom",
      input: ctx.value,
      path: parsed.startsWith("unknown time zone") ? ["tz"] : ["cron"],
      message: parsed,
    });
  }
}

export const cronTriggerSchema = cronTriggerShape.check(checkSchedule);

export const natsTriggerSchema = z.strictObject({
  /** Subject to subscribe to (wildcards allowed), or the JetStream filter subject. */
  nats: subscribeSubject,
  /** Queue group: each message goes to one of the subscribers in the group. */
  queue: streamName.optional(),
  /** Publish each successful response here (a request's own reply subject always gets it). */
  reply: publishSubject.optional(),
  /** Publish failures here, as JSON {error, status, subject, data}. */
  errorSubject: publishSubject.optional(),
  /** JetStream: the stream to consume; messages are acknowledged only after success. */
  stream: streamName.optional(),
  /** JetStream: durable consumer name. @default "runlet-<trigger>" */
  consumer: streamName.optional(),
  /** JetStream: deliveries before a message is given up. @default 5 */
  maxDeliver: z.number().int().min(1).max(1000).optional(),
  /** JetStream: delay before a failed message is redelivered. @default "1s" */
  retryDelay: z
    .union([z.string(), z.number()])
    .refine((v) => parseDuration(v) !== undefined, { message: 'expected a duration such as "1s"' })
    .optional(),
});

/**
 * Picks the schema by the key that names the kind (a plain union would hide the useful
 * message, e.g. why a route is bad, behind "invalid input").
 */
function keyedUnion<H extends z.ZodType, C extends z.ZodType, N extends z.ZodType>(
  http: H,
  cron: C,
  nats: N,
  expected: string,
) {
  // The API document shows the three shapes (a transform alone has no JSON Schema).
  const documented = { target: "openapi-3.0", io: "input" } as const;
  const meta = {
    description: expected,
    anyOf: [http, cron, nats].map((schema) => z.toJSONSchema(schema, documented)),
  };
  return z
    .unknown()
    .meta(meta)
    .transform((value, ctx): z.output<H> | z.output<C> | z.output<N> => {
      const record = typeof value === "object" && value !== null ? value : {};
      const schema =
        "http" in record ? http : "cron" in record ? cron : "nats" in record ? nats : undefined;
      if (!schema) {
        ctx.issues.push({ code: "custom", input: value, message: expected });
        return z.NEVER;
      }
      const parsed = schema.safeParse(value);
      if (!parsed.success) {
        for (const issue of parsed.error.issues) {
          ctx.issues.push({ ...issue, input: value } as z.core.$ZodRawIssue);
        }
        return z.NEVER;
      }
      return parsed.data;
    });
}

export const triggerSpecSchema = keyedUnion(
  httpTriggerSchema,
  cronTriggerSchema,
  natsTriggerSchema,
  'a trigger is one of {http: "GET /path"}, {cron: "*/5 * * * *", tz?} or {nats: "subject"}',
);
export type TriggerSpec = z.infer<typeof triggerSpecSchema>;
export type HttpTriggerSpec = z.infer<typeof httpTriggerSchema>;
export type CronTriggerSpec = z.infer<typeof cronTriggerSchema>;
export type NatsTriggerSpec = z.infer<typeof natsTriggerSchema>;

export type TriggerKind = "http" | "cron" | "nats";

export function triggerKind(spec: TriggerSpec): TriggerKind {
  return "http" in spec ? "http" : "cron" in spec ? "cron" : "nats";
}

/** Body of POST /api/v1/triggers: a name, the function (or "fn@revision" for HTTP), one kind. */
const identity = {
  name: z.string(),
  /** "hello", or "hello@3" for a revision (HTTP routes only: a canary). */
  function: z
    .string()
    .regex(
      /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(@[1-9][0-9]*)?$/,
      'expected a function name, or "name@revision"',
    ),
};
export const triggerRequestSchema = keyedUnion(
  httpTriggerSchema.extend(identity),
  cronTriggerShape.extend(identity).check(checkSchedule),
  natsTriggerSchema.extend(identity),
  'a trigger has a name, a function, and one of http: "GET /path", cron: "*/5 * * * *" or nats: "subject"',
);
export type TriggerRequest = z.infer<typeof triggerRequestSchema>;

/** Splits "hello@3" into the function and the revision number (undefined: the active one). */
export function parseTarget(target: string): {
  functionName: string;
  revision: number | undefined;
} {
  const [functionName = "", revision] = target.split("@");
  return { functionName, revision: revision === undefined ? undefined : Number(revision) };
}

/**
 * A revision's identity includes its triggers, so a deploy that changes only them is a new
 * revision. A spec without triggers keeps the hash it had before triggers existed.
 */
export function triggersHash(hash: string, triggers: readonly TriggerSpec[] | undefined): string {
  if (!triggers || triggers.length === 0) {
    return hash;
  }
  return createHash("sha256").update(hash).update(JSON.stringify(triggers)).digest("hex");
}
