/**
 * The async call queue on NATS JetStream (Kubernetes mode): several platforms share one queue
 * on a real nats-server. A call accepted by one runs on another; a gateway process killed
 * mid-call leaves the call to be redelivered and finished by another; retries, dead calls,
 * idempotent call ids and callbacks behave as embedded, and the status API answers the same
 * shapes as the embedded queue.
 */
import { copyFile, readFile } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { JetStreamCallQueue } from "../../src/calls/jetstream-call-queue.js";
import type { RunletOptions } from "../../src/gateway/start.js";
import { startChildRunlet } from "../helpers/child-runlet.js";
import { startTestNats, type TestNats } from "../helpers/nats.js";
import {
  eventually,
  startTestRunlet,
  tempDir,
  withApi,
  type TestRunlet,
} from "../helpers/runlet.js";

/** Echoes what it got; `?fail=500` or `?fail=400` answers that status; `hang` hangs attempt 1. */
const worker = `import { appendFileSync } from "node:fs";
export default async function (event, context) {
  const attempt = Number(event.headers["x-runlet-attempt"]);
  if (process.env.ATTEMPT_LOG) {
    appendFileSync(process.env.ATTEMPT_LOG, context.callId + " " + attempt + " " + process.pid + "\\n");
  }
  if (event.body === "hang" && attempt === 1) { await new Promise(() => {}); }
  if (event.query.fail) {
    return { statusCode: Number(event.query.fail), body: "failing on purpose" };
  }
  return {
    statusCode: 200,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      attempt,
      body: event.body,
      callId: context.callId,
      authorization: event.headers.authorization ?? null,
    }),
  };
}
`;

const callbackAllow = ["127.0.0.1/32"];

/** A platform whose async calls go to `nats`'s JetStream; workers off unless `work`. */
async function startShared(
  nats: TestNats,
  options: { work: boolean; keyFrom?: string; leaseMs?: number } & Partial<RunletOptions>,
): Promise<TestRunlet> {
  const dataDir = await tempDir();
  if (options.keyFrom) {
    // Replicas share the secrets key (in a cluster, from one Secret): sealed headers open anywhere.
    await copyFile(join(options.keyFrom, "secrets.key"), join(dataDir, "secrets.key"));
  }
  return startTestRunlet({
    dataDir,
    poolSize: 0,
    // The attempt log is a file outside the instance's sandbox.
    sandbox: "none",
    queue: JetStreamCallQueue.factory({ servers: nats.url }),
    calls: {
      maxConcurrency: options.work ? 10 : 0,
      retryBaseMs: 50,
      leaseMs: options.leaseMs ?? 60_000,
      callbackAllow,
    },
    ...(options.clock ? { clock: options.clock } : {}),
  });
}

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

async function callbackReceiver(): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString() });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  onTestFinished(() => new Promise<void>((done) => server.close(() => done())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received };
}

async function post(
  url: string,
  path: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${url}/async-function/${path}`, { method: "POST", body, headers });
}

async function finished(runlet: TestRunlet, id: string): Promise<Record<string, unknown>> {
  return eventually(
    async () => {
      const response = await runlet.api(`/api/v1/calls/${id}`);
      const json = (await response.json()) as Record<string, unknown>;
      return ["succeeded", "failed", "dead"].includes(String(json.state)) ? json : undefined;
    },
    { timeoutMs: 30_000, what: `call ${id} to finish` },
  );
}

/** The shape of a JSON value: its keys (recursively), with leaves reduced to their type. */
function shape(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map(shape);
  }
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([key, inner]) => [key, shape(inner)]),
    );
  }
  return value === null ? "null" : typeof value;
}

describe("async calls on JetStream", () => {
  it("runs a call accepted by one platform on another, with the embedded queue's answers", async () => {
    const nats = await startTestNats();
    const accepting = await startShared(nats, { work: false });
    const working = await startShared(nats, { work: true, keyFrom: accepting.dataDir });
    const embedded = await startTestRunlet({ poolSize: 0, calls: { callbackAllow } });
    for (const runlet of [accepting, working, embedded]) {
      expect((await runlet.deploy("echo", { "index.js": worker })).status).toBe(201);
    }
    const receiver = await callbackReceiver();
    const headers = {
      authorization: "Bearer fn-own-token",
      "x-callback-url": receiver.url,
      "content-type": "text/plain",
    };
    const accepted = await post(accepting.url, "echo/sub?x=1", "payload", headers);
    expect(accepted.status).toBe(202);
    const id = accepted.headers.get("x-call-id") ?? "";
    expect(accepted.headers.get("location")).toBe(`/api/v1/calls/${id}`);
    expect(await accepted.json()).toEqual({
      callId: id,
      state: "queued",
      status: `/api/v1/calls/${id}`,
    });

    const done = await finished(accepting, id);
    expect(done).toMatchObject({
      id,
      function: "echo",
      state: "succeeded",
      attempts: 1,
      failures: 0,
      statusCode: 200,
      source: "http",
    });
    const result = done.result as { body: string };
    // Run by the other platform, with the function's own (sealed) credential header.
    expect(JSON.parse(result.body)).toMatchObject({
      attempt: 1,
      body: "payload",
      callId: id,
      authorization: "Bearer fn-own-token",
    });
    const delivered = await eventually(
      async () => {
        const json = (await (await working.api(`/api/v1/calls/${id}`)).json()) as {
          callback?: { state?: string };
        };
        return json.callback?.state === "delivered" ? json : undefined;
      },
      { timeoutMs: 30_000, what: "the callback" },
    );
    expect(receiver.received).toHaveLength(1);
    expect(receiver.received[0]?.headers["x-call-id"]).toBe(id);
    expect(receiver.received[0]?.headers["x-runlet-call-state"]).toBe("succeeded");
    expect(JSON.stringify(receiver.received[0]?.headers)).not.toContain("fn-own-token");

    // The same call on the embedded queue: the same shapes, the same values where not per-call.
    const same = await post(embedded.url, "echo/sub?x=1", "payload", headers);
    const embeddedId = same.headers.get("x-call-id") ?? "";
    await finished(embedded, embeddedId);
    const embeddedDone = await eventually(async () => {
      const json = (await (await embedded.api(`/api/v1/calls/${embeddedId}`)).json()) as {
        callback?: { state?: string };
      };
      return json.callback?.state === "delivered" ? json : undefined;
    });
    expect(shape(delivered)).toEqual(shape(embeddedDone));
    const stable = (json: Record<string, unknown>) => {
      const {
        id: _id,
        createdAt,
        startedAt,
        finishedAt,
        durationSeconds,
        result,
        ...rest
      } = json as Record<string, unknown> & { result: { headers: Record<string, unknown> } };
      void [_id, createdAt, startedAt, finishedAt, durationSeconds];
      const { date: _date, "x-call-id": _callId, ...resultHeaders } = result.headers;
      void [_date, _callId];
      return { ...rest, resultHeaders, callback: undefined };
    };
    expect(stable(delivered as Record<string, unknown>)).toEqual(
      stable(embeddedDone as Record<string, unknown>),
    );

    // Listing from either platform: newest first, without result bodies, as embedded.
    const listed = (await (await accepting.api("/api/v1/calls?function=echo")).json()) as {
      id: string;
      result?: { body?: string };
    }[];
    expect(listed.map((call) => call.id)).toEqual([id]);
    const embeddedList = (await (await embedded.api("/api/v1/calls?function=echo")).json()) as [];
    expect(shape(listed)).toEqual(shape(embeddedList));
    const metrics = await (await accepting.api("/metrics")).text();
    expect(metrics).toContain('runlet_async_calls{function_name="echo",state="succeeded"} 1');
  });

  it("retries with back-off, dead-letters after maxRetries, fails 4xx at once, and keeps call ids idempotent", async () => {
    const nats = await startTestNats();
    const runlet = await startShared(nats, { work: true });
    await runlet.deploy("echo", { "index.js": worker }, { maxRetries: 2 });
    await runlet.deploy("other", { "index.js": worker });

    const dead = await post(runlet.url, "echo?fail=500", "x");
    const deadId = dead.headers.get("x-call-id") ?? "";
    const failed = await post(runlet.url, "echo?fail=400", "x");
    const failedId = failed.headers.get("x-call-id") ?? "";
    expect(await finished(runlet, deadId)).toMatchObject({
      state: "dead",
      attempts: 3,
      failures: 3,
      statusCode: 500,
      lastError: "gave up after 3 failed attempts: 500: failing on purpose",
    });
    expect(await finished(runlet, failedId)).toMatchObject({
      state: "failed",
      attempts: 1,
      statusCode: 400,
    });

    const first = await post(runlet.url, "echo", "once", { "x-call-id": "order-42" });
    const again = await post(runlet.url, "echo", "once", { "x-call-id": "order-42" });
    expect([first.status, again.status]).toEqual([202, 202]);
    expect(again.headers.get("x-call-id")).toBe("order-42");
    const elsewhere = await post(runlet.url, "other", "once", { "x-call-id": "order-42" });
    expect(elsewhere.status).toBe(409);
    expect(await finished(runlet, "order-42")).toMatchObject({ state: "succeeded", attempts: 1 });
    const orders = (await (await runlet.api("/api/v1/calls?function=echo&limit=10")).json()) as {
      id: string;
    }[];
    expect(orders.filter((call) => call.id === "order-42")).toHaveLength(1);
    expect((await (await runlet.api("/api/v1/calls?function=other")).json()) as unknown[]).toEqual(
      [],
    );

    const unknown = await post(runlet.url, "nope", "x");
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { code: "RUNLET_FUNCTION_NOT_FOUND" } });
    const missing = await runlet.api("/api/v1/calls/no-such-call");
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: "RUNLET_CALL_NOT_FOUND" } });
  });

  it("finishes, on another gateway, a call whose gateway was SIGKILLed while running it", async () => {
    const nats = await startTestNats();
    const leaseMs = 1500;
    // A real gateway in a child process, its workers on this JetStream queue.
    const serverScript = `
const { startRunlet } = await import(${JSON.stringify(resolve("src/gateway/start.ts"))});
const { JetStreamCallQueue } = await import(${JSON.stringify(resolve("src/calls/jetstream-call-queue.ts"))});
const runlet = await startRunlet({
  port: 0,
  adminToken: process.env.TOKEN,
  dataDir: process.env.DATA_DIR,
  poolSize: 0,
  sandbox: "none",
  queue: JetStreamCallQueue.factory({ servers: process.env.NATS_URL }),
  calls: { leaseMs: ${leaseMs} },
});
console.log("url " + runlet.url);
`;
    const childDir = await tempDir();
    const child = await startChildRunlet(serverScript, childDir, { NATS_URL: nats.url });
    onTestFinished(() => child.kill());
    const log = join(await tempDir(), "attempts.log");
    // The child's lifetime is the test's: only its URL is used here.
    const childApi = withApi(
      { url: child.url, close: () => Promise.resolve() } as unknown as Parameters<
        typeof withApi
      >[0],
      childDir,
    );
    const spec = { env: { ATTEMPT_LOG: log }, timeout: "5m" };
    expect((await childApi.deploy("echo", { "index.js": worker }, spec)).status).toBe(201);
    const accepted = await post(child.url, "echo", "hang");
    expect(accepted.status).toBe(202);
    const id = accepted.headers.get("x-call-id") ?? "";
    await eventually(
      async () => (await readFile(log, "utf8").catch(() => "")).includes(`${id} 1 `) || undefined,
      { timeoutMs: 30_000, what: "the first attempt to start in the child" },
    );
    const running = (await (await childApi.api(`/api/v1/calls/${id}`)).json()) as {
      state: string;
    };
    expect(running.state).toBe("running");
    // Another gateway, up and working beside it while the child still holds the call (its
    // heartbeats keep the message), gets the call only once the child is gone.
    const survivor = await startShared(nats, { work: true, keyFrom: childDir, leaseMs });
    expect((await survivor.deploy("echo", { "index.js": worker }, spec)).status).toBe(201);
    await child.kill();

    const done = await finished(survivor, id);
    expect(done).toMatchObject({ state: "succeeded", attempts: 2, failures: 0, statusCode: 200 });
    expect(JSON.parse((done.result as { body: string }).body)).toMatchObject({
      attempt: 2,
      body: "hang",
      callId: id,
    });
    const attempts = (await readFile(log, "utf8")).trim().split("\n");
    expect(attempts.map((line) => line.split(" ").slice(0, 2).join(" "))).toEqual([
      `${id} 1`,
      `${id} 2`,
    ]);
  });
});
