/** Streams a function's logs as NDJSON: the stored tail, then (with follow) new lines live. */
import type { FastifyReply } from "fastify";
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

/** The `since` query parameter (RFC 3339) as epoch milliseconds; undefined when absent or invalid. */
export function sinceMs(text: string | undefined): number | undefined {
  const ms = text ? Date.parse(text) : Number.NaN;
  return Number.isFinite(ms) ? ms : undefined;
}
