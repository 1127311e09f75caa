/**
 * A function's logs as server-sent events (issue 20), for the dashboard's live log view:
 * `GET /api/v1/functions/NAME/logs/events[?tail=N&callId=ID]` sends the stored tail, then new
 * lines as they are written. Each event's data is the line as JSON, so a line's own newlines
 * or `data:` text cannot break the framing. The NDJSON route beside it stays for the CLI.
 */
import { keyIn, namespaceQueryParam } from "../namespaced.js";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { Platform } from "../../platform/platform.js";
import { parseFunctionSpec } from "../../spec/function-spec.js";
import type { StoredLogLine } from "../../store/log-store.js";
import { tailParam } from "./logs.js";

export const logEventsQuerySchema = z.strictObject({
  namespace: namespaceQueryParam,
  tail: tailParam.optional(),
  callId: z.string().min(1).max(128).optional(),
});

/** A comment line now and then, so proxies and browsers keep an idle stream open. */
const heartbeatMs = 15_000;

export function registerLogEventRoutes(app: FastifyInstance, platform: Platform): void {
  app.get<{ Params: { name: string } }>(
    "/api/v1/functions/:name/logs/events",
    async (request, reply) => {
      const query = parseFunctionSpec(logEventsQuerySchema, request.query, "log events query");
      const key = keyIn(request, request.params.name);
      platform.get(key);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache, no-store",
        "x-content-type-options": "nosniff",
      });
      const send = (line: StoredLogLine): void => {
        if (query.callId !== undefined && line.callId !== query.callId) {
          return;
        }
        const data = JSON.stringify({
          time: new Date(line.time).toISOString(),
          instance: line.instance,
          callId: line.callId,
          stream: line.stream,
          text: line.text,
        });
        res.write(`event: log\ndata: ${data}\n\n`);
      };
      // Stored lines and the subscription in one synchronous step: no line falls between them.
      // With a call id, the whole kept ring is searched (it is bounded), then the tail taken.
      const tail = query.tail ?? 200;
      const stored = platform.logs
        .query({ functionName: key, tail: query.callId ? 0 : tail })
        .filter((line) => query.callId === undefined || line.callId === query.callId);
      for (const line of tail > 0 ? stored.slice(-tail) : stored) {
        send(line);
      }
      const stop = platform.logs.subscribe(key, send);
      // Tells the client the stored tail is all sent, so it can say "following".
      res.write("event: live\ndata: {}\n\n");
      const heartbeat = setInterval(() => res.write(": keep-alive\n\n"), heartbeatMs);
      heartbeat.unref();
      res.on("close", () => {
        clearInterval(heartbeat);
        stop();
      });
    },
  );
}
