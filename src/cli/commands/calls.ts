/** `runlet calls [NAME]` and `runlet calls get ID`: async calls, their state and results. */
import { z } from "zod";
import { callStates } from "../../store/call-store.js";
import { resolveTarget } from "../client-config.js";
import { GatewayClient } from "../client.js";
import { clientFlagsSchema, defineCommand } from "../command.js";
import { line, table } from "../io.js";

interface CallView {
  id: string;
  function: string;
  source: string;
  method: string;
  path: string;
  requestSize: number;
  state: string;
  attempts: number;
  failures: number;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  nextAttemptAt?: string;
  durationSeconds?: number;
  statusCode?: number;
  lastError?: string;
  callback?: { url: string; state?: string; attempts: number; status?: number; error?: string };
  result?: {
    headers: Record<string, string | string[]>;
    size: number;
    truncated: boolean;
    body: string;
    bodyEncoding: "utf8" | "base64";
  };
}

export const callsListCommand = defineCommand({
  name: "calls",
  arguments: "[name]",
  description: "list recent async calls, newest first (all functions, or one)",
  client: true,
  json: true,
  options: [
    {
      flags: "-s, --status <state>",
      description: `only calls in this state: ${callStates.join(", ")}`,
    },
    { flags: "--limit <n>", description: "how many calls to show", defaultValue: "50" },
  ],
  examples: ["runlet calls", "runlet calls resize --status dead", "runlet calls get CALL_ID"],
  optionsSchema: clientFlagsSchema.extend({
    status: z.enum(callStates).optional(),
    limit: z.coerce.number().int().min(1).max(1000),
    json: z.boolean().optional(),
  }),
  async run(args, options, io) {
    const name = args[0] === undefined ? undefined : String(args[0]);
    const client = new GatewayClient(resolveTarget(options, io.env));
    const query = new URLSearchParams({ limit: String(options.limit) });
    if (name !== undefined) {
      query.set("function", name);
    }
    if (options.status !== undefined) {
      query.set("status", options.status);
    }
    const calls = await client.json<CallView[]>("GET", `/api/v1/calls?${query.toString()}`);
    if (options.json) {
      line(io.stdout, JSON.stringify(calls, null, 2));
      return;
    }
    if (calls.length === 0) {
      if (name !== undefined) {
        // A typo should not read as "no calls yet": fails with RUNLET_FUNCTION_NOT_FOUND.
        // (Calls of a removed function are kept until their retention ends, so only ask when
        // there are none.)
        await client.json("GET", `/api/v1/functions/${encodeURIComponent(name)}`);
      }
      const which = [name && `to ${name}`, options.status && `in state ${options.status}`]
        .filter(Boolean)
        .join(" ");
      line(
        io.stdout,
        `No async calls${which ? ` ${which}` : ""}. Make one with: runlet invoke ${name ?? "NAME"} --async`,
      );
      return;
    }
    line(
      io.stdout,
      table([
        ["ID", "FUNCTION", "STATE", "ATTEMPTS", "STATUS", "CREATED", "DURATION", "SOURCE"],
        ...calls.map((call) => [
          call.id,
          call.function,
          call.state,
          String(call.attempts),
          call.statusCode === undefined ? "-" : String(call.statusCode),
          call.createdAt,
          call.durationSeconds === undefined ? "-" : `${call.durationSeconds.toFixed(3)}s`,
          call.source,
        ]),
      ]),
    );
  },
});

export const callsGetCommand = defineCommand({
  name: "calls get",
  arguments: "<id>",
  description: "show one async call: state, attempts, timings, last error, callback and result",
  client: true,
  json: true,
  optionsSchema: clientFlagsSchema.extend({ json: z.boolean().optional() }),
  async run(args, options, io) {
    const id = String(args[0]);
    const client = new GatewayClient(resolveTarget(options, io.env));
    const call = await client.json<CallView>("GET", `/api/v1/calls/${encodeURIComponent(id)}`);
    if (options.json) {
      line(io.stdout, JSON.stringify(call, null, 2));
      return;
    }
    const rows: [string, string][] = [
      ["Call", call.id],
      ["Function", `${call.function} (from ${call.source})`],
      ["Request", `${call.method} ${call.path} (${call.requestSize} bytes)`],
      ["State", call.state],
      ["Attempts", `${call.attempts}${call.failures > 0 ? ` (${call.failures} failed)` : ""}`],
      ["Created", call.createdAt],
    ];
    const optional: [string, string | undefined][] = [
      ["Started", call.startedAt],
      ["Finished", call.finishedAt],
      ["Next attempt", call.nextAttemptAt],
      [
        "Duration",
        call.durationSeconds === undefined ? undefined : `${call.durationSeconds.toFixed(3)}s`,
      ],
      ["Status", call.statusCode === undefined ? undefined : String(call.statusCode)],
      ["Last error", call.lastError],
      ["Callback", call.callback && describeCallback(call.callback)],
      [
        "Result",
        call.result &&
          `${call.result.size} bytes${call.result.truncated ? ` (only the first ${Buffer.byteLength(call.result.body, call.result.bodyEncoding)} kept)` : ""}${call.result.bodyEncoding === "base64" ? ", binary, shown as base64" : ""}`,
      ],
    ];
    for (const [key, value] of optional) {
      if (value !== undefined) {
        rows.push([key, value]);
      }
    }
    const width = Math.max(...rows.map(([key]) => key.length)) + 2;
    for (const [key, value] of rows) {
      line(io.stdout, `${`${key}:`.padEnd(width)}${value}`);
    }
    if (call.result && call.result.body.length > 0) {
      line(io.stdout);
      line(io.stdout, call.result.body);
    }
  },
});

function describeCallback(callback: NonNullable<CallView["callback"]>): string {
  const state = callback.state ?? "waiting for the call to finish";
  const attempts = `${callback.attempts} attempt${callback.attempts === 1 ? "" : "s"}`;
  const last =
    callback.status !== undefined
      ? `, last HTTP ${callback.status}`
      : callback.error
        ? `, ${callback.error}`
        : "";
  return `${callback.url} — ${state} (${attempts}${last})`;
}
