/** Streams a function's logs as NDJSON: the stored tail, then (with follow) new lines live. */
import type { FastifyReply } from "fastify";
import { z } from "zod";
import type { Platform } from "../../platform/platform.js";
import type { StoredLogLine } from "../../store/log-store.js";

export interface LogStreamOptions {
  readonly name: string;
  readonly tail?: number;
  readonly since?: number;
  readonly follow: boolean;
  readonly instance?: string;
  /** Shape of each line (OpenFaaS and native differ). */
  readonly format: (line: StoredLogLine) => Record<string, unknown>;
}

export function streamLogs(
  platform: Platform,
  reply: FastifyReply,
  options: LogStreamOptions,
): void {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { "content-type": "application/x-ndjson", "cache-control": "no-cache" });
  // Sent now, not with the first line: a follower of a quiet function learns the stream is open.
  res.flushHeaders();
  const write = (line: StoredLogLine): void => {
    if (options.instance === undefined || line.instance === options.instance) {
      res.write(`${JSON.stringify(options.format(line))}\n`);
    }
  };
  // Reading the stored lines and subscribing happen in one synchronous step, so no line can
  // fall between the two.
  for (const line of platform.logs.query({
    functionName: options.name,
    tail: options.tail,
    since: options.since,
    instance: options.instance,
  })) {
    write(line);
  }
  if (!options.follow) {
    res.end();
    return;
  }
  const stop = platform.logs.subscribe(options.name, write);
  res.on("close", stop);
}

/** Most stored lines one request may ask for (the store keeps fewer per function). */
const maxTail = 100_000;

/** The `tail` query parameter: how many stored lines to send first (0: all kept). */
export const tailParam = z.coerce
  .number({ message: "tail must be a number of lines, e.g. tail=100" })
  .int({ message: "tail must be a whole number of lines, e.g. tail=100" })
  .min(0, { message: "tail must be 0 or more" })
  .max(maxTail, { message: `tail must be at most ${maxTail}` });

/** The `since` query parameter: an RFC 3339 time. */
export const sinceParam = z
  .string()
  .refine((text) => /^\d{4}-\d{2}-\d{2}T/.test(text) && Number.isFinite(Date.parse(text)), {
    message: "since must be an RFC 3339 time, e.g. since=2024-05-01T12:00:00Z",
  });

/** The `since` query parameter (checked by sinceParam) as epoch milliseconds. */
export function sinceMs(text: string | undefined): number | undefined {
  const ms = text ? Date.parse(text) : Number.NaN;
  return Number.isFinite(ms) ? ms : undefined;
}
