/** `runlet describe NAME`: a function's spec, revision and live instances. */
import { z } from "zod";
import { resolveTarget } from "../client-config.js";
import { GatewayClient } from "../client.js";
import { clientFlagsSchema, defineCommand } from "../command.js";
import type { TriggerView } from "../../triggers/triggers.js";
import { line } from "../io.js";
import { describeTrigger } from "./trigger.js";

interface FunctionDetail {
  name: string;
  revision: number;
  package: string;
  /** The image an OpenFaaS deploy named, and what it was here (views.ts imageOrigin). */
  image?: { image: string; source: string };
  config: {
    runtime: string;
    handler: string;
    command?: string;
    mode?: string;
    timeout: string;
    memory: string;
    maxBody: string;
    scale: { min: number; max: number; concurrency: number; idleTimeout: string };
    auth: string;
  };
  env: Record<string, string>;
  secrets: string[];
  createdAt: string;
  updatedAt: string;
  replicas: number;
  availableReplicas: number;
  instances: {
    revision: string;
    ready: number;
    starting: number;
    inFlight: number;
    queued: number;
    coldStarts: number;
    coldStartsFromPool: number;
    lastColdStartMs?: number;
    lastExit?: string;
    lastError?: string;
    lastDecision?: { at: string | number; desired: number; current: number; reason: string };
    crashLoop?: { crashes: number; retryAt: string };
  }[];
  triggers?: TriggerView[];
}

export const describeCommand = defineCommand({
  name: "describe",
  arguments: "<name>",
  description: "show a function's configuration, revision and instances",
  client: true,
  json: true,
  optionsSchema: clientFlagsSchema.extend({ json: z.boolean().optional() }),
  async run(args, options, io) {
    const client = new GatewayClient(resolveTarget(options, io.env));
    const fn = await client.json<FunctionDetail>(
      "GET",
      `/api/v1/functions/${encodeURIComponent(String(args[0]))}`,
    );
    if (options.json) {
      line(io.stdout, JSON.stringify(fn, null, 2));
      return;
    }
    const c = fn.config;
    const rows: [string, string][] = [
      ["Name", fn.name],
      ["URL", `${client.target.gateway}/function/${client.address(fn.name)}`],
      ["Runtime", c.runtime],
      ...(fn.image === undefined ? [] : [["Image", imageText(fn.image)] as [string, string]]),
      c.command === undefined
        ? ["Handler", c.handler]
        : ["Command", `${c.command} (${c.mode ?? "stdio"} mode)`],
      ["Revision", `${fn.revision} (package ${fn.package.slice(0, 19)}…)`],
      ["Timeout", c.timeout],
      ["Memory", c.memory],
      ["Max body", c.maxBody],
      [
        "Scale",
        `min ${c.scale.min}, max ${c.scale.max}, concurrency ${c.scale.concurrency}, idle timeout ${c.scale.idleTimeout}`,
      ],
      ["Auth", c.auth],
      ["Env", Object.keys(fn.env).join(", ") || "-"],
      ["Secrets", fn.secrets.join(", ") || "-"],
      ...(fn.triggers ?? []).map((t): [string, string] => [
        "Trigger",
        `${t.name}: ${t.kind} ${describeTrigger(t)}${t.function === fn.name ? "" : ` → ${t.function}`}`,
      ]),
      ["Replicas", `${fn.availableReplicas} ready / ${fn.replicas}`],
      ["Updated", fn.updatedAt],
    ];
    for (const status of fn.instances) {
      rows.push([
        `Revision ${status.revision}`,
        `${status.ready} ready, ${status.starting} starting, ${status.inFlight} in flight, ${status.queued} queued`,
      ]);
      rows.push([
        "  cold starts",
        `${status.coldStarts} (${status.coldStartsFromPool} from the warm pool)${status.lastColdStartMs === undefined ? "" : `, last ${status.lastColdStartMs.toFixed(1)} ms`}`,
      ]);
      if (status.lastDecision) {
        rows.push([
          "  scaling",
          `${status.lastDecision.current} → ${status.lastDecision.desired}: ${status.lastDecision.reason}`,
        ]);
      }
      if (status.crashLoop) {
        rows.push([
          "  crash loop",
          `${status.crashLoop.crashes} crashes in a row; next start at ${status.crashLoop.retryAt}`,
        ]);
      }
      if (status.lastExit) {
        rows.push(["  last exit", status.lastExit]);
      }
      if (status.lastError) {
        rows.push(["  last error", status.lastError]);
      }
    }
    const width = Math.max(...rows.map(([key]) => key.length));
    for (const [key, value] of rows) {
      line(io.stdout, `${`${key}:`.padEnd(width + 2)}${value}`);
    }
  },
});

/** What an image deploy's image turned out to be, in words. */
export function imageText(origin: { image: string; source: string }): string {
  switch (origin.source) {
    case "tag":
      return `${origin.image} (a tag of its package, recorded by runlet push or runlet deploy -f)`;
    case "envProcess":
      return `${origin.image} (no package here: its envProcess runs from the host)`;
    default:
      return `${origin.image} (${origin.source})`;
  }
}
