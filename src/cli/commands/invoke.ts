/** `runlet invoke NAME`: call a function and print its response body. */
import { z } from "zod";
import { UserError } from "../../errors.js";
import { resolveTarget } from "../client-config.js";
import { GatewayClient } from "../client.js";
import { clientFlagsSchema, defineCommand } from "../command.js";
import { line, readAll } from "../io.js";

export const invokeCommand = defineCommand({
  name: "invoke",
  arguments: "<name>",
  description:
    "call a function; the body comes from --data or stdin, the response body goes to stdout",
  client: true,
  options: [
    {
      flags: "-d, --data <body>",
      description: "request body (otherwise stdin, when it is not a terminal)",
    },
    {
      flags: "-H, --header <Name: value>",
      description: "request header (repeatable)",
      repeatable: true,
    },
    {
      flags: "-X, --method <method>",
      description: "HTTP method (default: POST with a body, else GET)",
    },
    {
      flags: "--path <path>",
      description: "path inside the function, e.g. /users/42",
      defaultValue: "/",
    },
    {
      flags: "-q, --query <key=value>",
      description: "query parameter (repeatable)",
      repeatable: true,
    },
    { flags: "-v, --verbose", description: "print the status line and response headers to stderr" },
    {
      flags: "--async",
      description:
        "queue the call durably and print its call id at once (follow it with runlet calls get ID)",
    },
    {
      flags: "--callback <url>",
      description: "with --async: POST the result to this URL when the call finishes",
    },
  ],
  examples: [
    'runlet invoke hello --data \'{"name":"Ada"}\' -H "Content-Type: application/json"',
    "echo hi | runlet invoke echo",
    "runlet invoke resize --async --data @photo.json --callback https://example.com/done",
  ],
  optionsSchema: clientFlagsSchema.extend({
    data: z.string().optional(),
    header: z.array(z.string()).optional(),
    method: z.string().optional(),
    path: z.string(),
    query: z.array(z.string()).optional(),
    verbose: z.boolean().optional(),
    async: z.boolean().optional(),
    callback: z.string().optional(),
  }),
  async run(args, options, io) {
    const name = String(args[0]);
    let body: Buffer | undefined;
    if (options.data !== undefined) {
      body = Buffer.from(options.data);
    } else if (!io.stdin.isTTY) {
      const input = await readAll(io.stdin);
      body = input.length > 0 ? input : undefined;
    }
    const headers: Record<string, string> = {};
    for (const header of options.header ?? []) {
      const colon = header.indexOf(":");
      if (colon <= 0) {
        throw new UserError("RUNLET_INVALID_REQUEST", `-H ${header}: expected "Name: value"`);
      }
      headers[header.slice(0, colon).trim().toLowerCase()] = header.slice(colon + 1).trim();
    }
    const query = (options.query ?? []).map((pair): [string, string] => {
      const eq = pair.indexOf("=");
      return eq === -1 ? [pair, ""] : [pair.slice(0, eq), pair.slice(eq + 1)];
    });
    const client = new GatewayClient(resolveTarget(options, io.env));
    if (options.callback !== undefined && !options.async) {
      throw new UserError(
        "RUNLET_INVALID_REQUEST",
        "--callback only works with --async: runlet invoke NAME --async --callback URL",
      );
    }
    if (options.async) {
      if (options.callback !== undefined) {
        headers["x-callback-url"] = options.callback;
      }
      const callId = await client.invokeAsync(name, {
        method: options.method ?? "POST",
        path: options.path,
        query,
        headers,
        body,
      });
      line(io.stdout, callId);
      line(io.stderr, `✔ call queued for ${name}; follow it with: runlet calls get ${callId}`);
      return 0;
    }
    const response = await client.invoke(name, {
      method: options.method ?? (body ? "POST" : "GET"),
      path: options.path,
      query,
      headers,
      body,
    });
    if (options.verbose) {
      line(io.stderr, `HTTP ${response.status}`);
      for (const [key, value] of Object.entries(response.headers)) {
        line(io.stderr, `${key}: ${Array.isArray(value) ? value.join(", ") : value}`);
      }
    }
    if (response.status >= 400) {
      const text = (await readAll(response.body)).toString("utf8");
      let message = text;
      try {
        message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? text;
      } catch {
        // Plain text from the function.
      }
      line(io.stderr, `Error: ${name} answered HTTP ${response.status}: ${message}`);
      return 1;
    }
    let last: number | undefined;
    for await (const chunk of response.body) {
      const bytes = chunk as Buffer;
      io.stdout.write(bytes);
      last = bytes.length > 0 ? bytes[bytes.length - 1] : last;
    }
    // On a terminal the answer ends its line, so the prompt does not follow it on the same
    // one; piped or redirected, the bytes stay exactly the function's.
    if ((io.stdout as { isTTY?: boolean }).isTTY === true && last !== undefined && last !== 0x0a) {
      io.stdout.write("\n");
    }
    return 0;
  },
});
