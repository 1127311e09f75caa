/** `runlet top`: a live table of functions (requests/s, errors, p50/p99, replicas), as the dashboard's list. */
import { z } from "zod";
import { parseDuration } from "../../spec/units.js";
import { UserError } from "../../errors.js";
import { resolveTarget } from "../client-config.js";
import { GatewayClient } from "../client.js";
import { clientFlagsSchema, defineCommand } from "../command.js";
import { line, table } from "../io.js";

interface Load {
  readonly requestsPerSecond: number;
  readonly errorRate: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly coldStarts: number;
  readonly replicas: number;
  readonly inFlight: number;
}

interface Summary {
  readonly windowSeconds: number;
  readonly platform: Load;
  readonly functions: readonly (Load & {
    readonly name: string;
    readonly revision: number;
    readonly availableReplicas: number;
  })[];
}

function ms(value: number | null): string {
  return value === null ? "-" : value >= 10 ? value.toFixed(0) : value.toFixed(1);
}

/** The table `top` prints for one summary. */
export function topTable(summary: Summary): string {
  const p = summary.platform;
  const head = `${summary.functions.length} functions · ${p.requestsPerSecond.toFixed(1)} req/s · ${p.replicas} instances · ${p.inFlight} in flight · over the last ${summary.windowSeconds} s`;
  const rows = [...summary.functions]
    .sort((a, b) => b.requestsPerSecond - a.requestsPerSecond || (a.name < b.name ? -1 : 1))
    .map((fn) => [
      fn.name,
      String(fn.revision),
      `${fn.availableReplicas}/${fn.replicas}`,
      String(fn.inFlight),
      fn.requestsPerSecond.toFixed(1),
      `${(fn.errorRate * 100).toFixed(1)}%`,
      ms(fn.p50Ms),
      ms(fn.p99Ms),
      String(fn.coldStarts),
    ]);
  return `${head}\n\n${table([["NAME", "REV", "READY", "INFLIGHT", "REQ/S", "5XX", "P50 MS", "P99 MS", "COLD"], ...rows])}`;
}

export const topCommand = defineCommand({
  name: "top",
  description: "a live table of functions: requests/s, errors, p50/p99 latency, replicas",
  client: true,
  options: [
    { flags: "--interval <duration>", description: "time between refreshes", defaultValue: "2s" },
    { flags: "--once", description: "print the table once and exit" },
  ],
  examples: ["runlet top", "runlet top --once"],
  optionsSchema: clientFlagsSchema.extend({
    interval: z.string(),
    once: z.boolean().optional(),
  }),
  async run(_args, options, io) {
    const intervalMs = parseDuration(options.interval);
    if (intervalMs === undefined || intervalMs < 200) {
      throw new UserError(
        "RUNLET_INVALID_REQUEST",
        `--interval ${options.interval}: expected a duration of at least 200ms, e.g. 2s`,
      );
    }
    const client = new GatewayClient(resolveTarget(options, io.env));
    const read = () => client.json<Summary>("GET", "/api/v1/metrics/summary");
    if (options.once) {
      line(io.stdout, topTable(await read()));
      return;
    }
    const terminal = (io.stdout as { isTTY?: boolean }).isTTY === true;
    let stopped = false;
    const stop = io.stopSignal().then(() => {
      stopped = true;
    });
    while (!stopped) {
      const text = topTable(await read());
      // On a terminal the table is redrawn in place; piped, each refresh follows the last.
      io.stdout.write(terminal ? `\x1b[H\x1b[2J${text}\n` : `${text}\n\n`);
      await Promise.race([stop, new Promise((resolve) => setTimeout(resolve, intervalMs))]);
    }
  },
});
