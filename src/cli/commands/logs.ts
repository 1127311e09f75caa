/** `runlet logs NAME`: a function's logs, optionally following new lines. */
import { z } from "zod";
import { UserError } from "../../errors.js";
import { parseDuration } from "../../spec/units.js";
import { resolveTarget } from "../client-config.js";
import { GatewayClient, apiError } from "../client.js";
import { clientFlagsSchema, defineCommand } from "../command.js";
import { line, readAll } from "../io.js";
import { onLines } from "../../host/lines.js";

interface LogEntry {
  time: string;
  instance: string;
  callId?: string;
  stream: string;
  text: string;
}

export const logsCommand = defineCommand({
  name: "logs",
  arguments: "<name>",
  description: "print a function's logs (console output of its instances)",
  client: true,
  json: true,
  options: [
    { flags: "-f, --follow", description: "keep printing new lines until Ctrl-C" },
    { flags: "--tail <lines>", description: "only the last N lines", defaultValue: "100" },
    { flags: "--since <duration>", description: "only lines newer than this, e.g. 10m" },
  ],
  optionsSchema: clientFlagsSchema.extend({
    follow: z.boolean().optional(),
    tail: z.coerce.number().int(),
    since: z.string().optional(),
    json: z.boolean().optional(),
  }),
  async run(args, options, io) {
    const name = String(args[0]);
    const params = new URLSearchParams({
      tail: String(options.tail),
      follow: String(Boolean(options.follow)),
    });
    if (options.since) {
      const ms = parseDuration(options.since);
      if (ms === undefined) {
        throw new UserError(
          "RUNLET_INVALID_REQUEST",
          `--since ${options.since}: expected a duration such as 10m`,
        );
      }
      params.set("since", new Date(Date.now() - ms).toISOString());
    }
    const client = new GatewayClient(resolveTarget(options, io.env));
    const response = await client.raw(
      "GET",
      `/api/v1/functions/${encodeURIComponent(name)}/logs?${params}`,
    );
    if (response.status >= 400) {
      throw apiError(response.status, (await readAll(response.body)).toString("utf8"));
    }
    const done = new Promise<void>((resolve) =>
      response.body.once("end", resolve).once("close", resolve),
    );
    onLines(response.body, (text) => {
      if (!text) {
        return;
      }
      if (options.json) {
        line(io.stdout, text);
        return;
      }
      const entry = JSON.parse(text) as LogEntry;
      line(io.stdout, `${entry.time} ${entry.instance} ${entry.text}`);
    });
    if (options.follow) {
      await Promise.race([done, io.stopSignal()]);
      response.body.destroy();
    } else {
      await done;
    }
  },
});
