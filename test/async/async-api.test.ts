import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { CallQueue } from "../../src/calls/call-queue.js";
import type { CallStore } from "../../src/store/call-store.js";
import { describe, expect, it, onTestFinished } from "vitest";
import type { Clock } from "../../src/clock.js";
import { ManualClock } from "../helpers/manual-clock.js";
import { eventually, startTestRunlet, tempDir, type TestRunlet } from "../helpers/runlet.js";

/** Fails (500, or by exiting) until it has seen `?fail=N` attempts of the same call, logging each to a file. */
const flaky = `import { appendFileSync, readFileSync } from "node:fs";
export default async function (event, context) {
  const log = process.env.ATTEMPT_LOG;
  appendFileSync(log, JSON.stringify({ callId: context.callId, header: event.headers["x-call-id"] }) + "\\n");
  const mine = readFileSync(log, "utf8").trim().split("\\n").map((line) => JSON.parse(line))
    .filter((line) => line.callId === context.callId).length;
  if (mine <= Number(event.query.fail ?? 0)) {
    if (event.query.mode === "crash") { process.exit(7); }
    return { statusCode: 500, body: "not yet (attempt " + mine + ")" };
  }
  if (event.query.status) { return { statusCode: Number(event.query.status), body: "refused" }; }
  return { statusCode: 200, headers: { "x-attempts": String(mine) }, body: { attempts: mine, input: event.body } };
}
`;

interface Attempt {
  callId: string;
  header: string;
}

interface CallJson {
  id: string;
  function: string;
  source: string;
  state: string;
  attempts: number;
  failures: number;
  statusCode?: number;
  lastError?: string;
  finishedAt?: string;
  callback?: { url: string; state?: string; attempts: number; status?: number; error?: string };
  result?: {
    headers: Record<string, string>;
    body: string;
    bodyEncoding: string;
    size: number;
    truncated: boolean;
  };
}

/**
 * A platform on fed time (the default retry back-off, moved by `clock`), or with `realTime`
 * on the system clock and a short back-off.
 */
async function setUp(
  spec: Record<string, unknown> = {},
  { realTime = false } = {},
): Promise<{ runlet: TestRunlet; log: string; clock: ManualClock }> {
  const clock = new ManualClock();
  const runlet = await startTestRunlet({
    sandbox: "none",
    ...(realTime ? {} : { clock }),
    calls: {
      ...(realTime ? { retryBaseMs: 20, retryMaxMs: 200 } : {}),
      // The callback receivers below listen on loopback, refused unless allowed (issue 13).
      callbackAllow: ["127.0.0.1/32"],
    },
  });
  const log = join(await tempDir(), "attempts.ndjson");
  const deployed = await runlet.deploy(
    "flaky",
    { "index.js": flaky },
    { env: { ATTEMPT_LOG: log }, ...spec },
  );
  expect(deployed.status).toBe(201);
  return { runlet, log, clock };
}

async function attempts(log: string, callId: string): Promise<Attempt[]> {
  const text = await readFile(log, "utf8").catch(() => "");
  return text
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Attempt)
    .filter((attempt) => attempt.callId === callId);
}

async function enqueue(runlet: TestRunlet, path: string, init: RequestInit = {}): Promise<string> {
  const response = await fetch(`${runlet.url}/async-function/${path}`, { method: "POST", ...init });
  expect(response.status).toBe(202);
  const callId = response.headers.get("x-call-id") ?? "";
  expect(callId).not.toBe("");
  expect(response.headers.get("location")).toBe(`/api/v1/calls/${callId}`);
  return callId;
}

/** A call to flaky that succeeds at once, stored without the HTTP round trip. */
function enqueueDirectly(runlet: TestRunlet): Promise<{ id: string }> {
  return runlet.platform.calls.enqueue({
    name: "flaky",
    method: "POST",
    path: "/",
    headers: {},
    body: Buffer.alloc(0),
  });
}

/** The SQLite store under the embedded queue (its next due time is not on the port). */
function embeddedStore(runlet: TestRunlet): CallStore {
  const queue = runlet.platform.calls;
  if (!(queue instanceof CallQueue)) {
    throw new Error("this test needs the embedded call queue");
  }
  return queue.store;
}

async function call(runlet: TestRunlet, id: string): Promise<CallJson> {
  const response = await runlet.api(`/api/v1/calls/${id}`);
  expect(response.status).toBe(200);
  return (await response.json()) as CallJson;
}

function finished(
  runlet: TestRunlet,
  id: string,
  what = `call ${id} to finish`,
): Promise<CallJson> {
  return eventually(
    async () => {
      const current = await call(runlet, id);
      return ["succeeded", "failed", "dead"].includes(current.state) ? current : undefined;
    },
    { what },
  );
}

/**
 * Waits until failure number `failures` of call `id` is stored and the call queued again, and
 * checks its back-off against the default (docs/async.md): a random wait between half and all
 * of 1 s, 2 s, 4 s… Returns when the retry is due.
 */
async function queuedForRetry(
  runlet: TestRunlet,
  clock: ManualClock,
  id: string,
  failures: number,
): Promise<number> {
  const queued = await eventually(
    async () => {
      const current = await runlet.platform.calls.get(id);
      return current?.state === "queued" && current.failures === failures ? current : undefined;
    },
    { intervalMs: 2, what: `failure ${failures} of call ${id} to be stored` },
  );
  const due = queued.nextAttemptAt ?? Number.NaN;
  const ceiling = 1000 * 2 ** (failures - 1);
  expect(due - clock.now()).toBeGreaterThanOrEqual(ceiling / 2);
  expect(due - clock.now()).toBeLessThanOrEqual(ceiling);
  return due;
}

/**
 * Moves the clock to just before `due`, where another call makes the queue claim the due calls
 * of the function (the retry must not be one of them), then to `due`.
 */
async function retryAt(
  runlet: TestRunlet,
  clock: ManualClock,
  id: string,
  due: number,
): Promise<void> {
  await clock.advanceTo(due - 1);
  const other = await enqueueDirectly(runlet);
  await eventually(
    async () =>
      (await runlet.platform.calls.get(other.id))?.state !== "queued" ? true : undefined,
    { intervalMs: 2, what: "the other call to be claimed" },
  );
  // Claimed calls are `running` at once; still queued means no attempt started early.
  expect((await runlet.platform.calls.get(id))?.state).toBe("queued");
  await clock.advanceTo(due);
}

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  /** The platform's time when the callback arrived. */
  at: number;
}

/** A real HTTP server on port 0 that answers 500 to the first `failFirst` callbacks. */
async function callbackReceiver(
  failFirst = 0,
  clock: Pick<Clock, "now"> = Date,
): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const at = clock.now();
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString(), at });
      res.writeHead(received.length <= failFirst ? 500 : 200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received };
}

describe("async calls over HTTP", () => {
  it("answers 202 only once the call is stored, runs it, and shows it in the status API", async () => {
    const { runlet, log } = await setUp();
    const id = await enqueue(runlet, "flaky/sub?x=1", {
      headers: { "content-type": "text/plain" },
      body: "payload",
    });
    // Stored before the answer: the record exists straight away.
    const stored = await runlet.platform.calls.get(id);
    expect(stored?.functionName).toBe("flaky");
    expect(stored?.path).toBe("/sub?x=1");
    const done = await finished(runlet, id);
    expect(done).toMatchObject({
      id,
      function: "flaky",
      source: "http",
      state: "succeeded",
      attempts: 1,
      failures: 0,
      statusCode: 200,
    });
    expect(done.result?.headers["x-attempts"]).toBe("1");
    expect(JSON.parse(done.result?.body ?? "")).toEqual({ attempts: 1, input: "payload" });
    expect(await attempts(log, id)).toEqual([{ callId: id, header: id }]);

    const listed = (await (
      await runlet.api("/api/v1/calls?function=flaky&status=succeeded")
    ).json()) as CallJson[];
    expect(listed.map((c) => c.id)).toEqual([id]);
    const none = (await (await runlet.api("/api/v1/calls?status=dead")).json()) as CallJson[];
    expect(none).toEqual([]);
    expect((await runlet.api("/api/v1/calls?status=lost")).status).toBe(400);
    expect((await runlet.api("/api/v1/calls/no-such-call")).status).toBe(404);
    // The status API needs the admin token.
    expect((await fetch(`${runlet.url}/api/v1/calls/${id}`)).status).toBe(401);
  });

  it("refuses unknown functions (404) and bad callback URLs (400), storing nothing", async () => {
    const { runlet } = await setUp();
    const unknown = await fetch(`${runlet.url}/async-function/ghost`, {
      method: "POST",
      body: "x",
    });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe(
      "RUNLET_FUNCTION_NOT_FOUND",
    );
    for (const bad of ["not a url", "ftp://example.com/x", "/relative"]) {
      const response = await fetch(`${runlet.url}/async-function/flaky`, {
        method: "POST",
        headers: { "x-callback-url": bad },
        body: "x",
      });
      expect(response.status).toBe(400);
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect(body.error.message).toContain("X-Callback-Url");
    }
    expect(await runlet.platform.calls.list()).toEqual([]);
    const get = await fetch(`${runlet.url}/async-function/flaky`);
    expect(get.status).toBe(405);
  });

  it("retries failures after their back-off, with the same X-Call-Id, until the function succeeds", async () => {
    const { runlet, log, clock } = await setUp();
    const id = await enqueue(runlet, "flaky?fail=2", { body: "again" });
    for (const failures of [1, 2]) {
      const due = await queuedForRetry(runlet, clock, id, failures);
      expect(await attempts(log, id)).toHaveLength(failures);
      await retryAt(runlet, clock, id, due);
    }
    const done = await finished(runlet, id);
    expect(done).toMatchObject({ state: "succeeded", attempts: 3, failures: 2, statusCode: 200 });
    const seen = await attempts(log, id);
    expect(seen).toHaveLength(3);
    expect(seen.every((attempt) => attempt.header === id)).toBe(true);
  });

  it("retries a call whose instance crashes, on the system clock", async () => {
    // The one retry test on real time: without a clock given, the platform's own timers wake
    // the queue for a retry (the other tests feed time instead).
    const { runlet, log } = await setUp({}, { realTime: true });
    const id = await enqueue(runlet, "flaky?fail=1&mode=crash");
    const done = await finished(runlet, id);
    expect(done).toMatchObject({ state: "succeeded", attempts: 2, failures: 1 });
    expect(await attempts(log, id)).toHaveLength(2);
  });

  it("dead-letters a call after maxRetries with its last error, and does not retry a 4xx", async () => {
    const { runlet, log, clock } = await setUp({ maxRetries: 2 });
    const id = await enqueue(runlet, "flaky?fail=100");
    for (const failures of [1, 2]) {
      await retryAt(runlet, clock, id, await queuedForRetry(runlet, clock, id, failures));
    }
    const dead = await finished(runlet, id);
    expect(dead).toMatchObject({ state: "dead", attempts: 3, failures: 3, statusCode: 500 });
    expect(dead.lastError).toContain("not yet (attempt 3)");
    // Dead is final: no attempt follows, though a third retry would have run within 4 s.
    await clock.advance(60_000);
    expect(await attempts(log, id)).toHaveLength(3);
    expect((await call(runlet, id)).state).toBe("dead");
    const listed = (await (await runlet.api("/api/v1/calls?status=dead")).json()) as CallJson[];
    expect(listed.map((c) => c.id)).toEqual([id]);

    const refused = await enqueue(runlet, "flaky?status=422");
    expect(await finished(runlet, refused)).toMatchObject({
      state: "failed",
      attempts: 1,
      statusCode: 422,
    });
  });

  it("POSTs the result to the callback URL with the function's headers and body", async () => {
    const { runlet } = await setUp();
    const receiver = await callbackReceiver();
    const id = await enqueue(runlet, "flaky", {
      headers: { "x-callback-url": receiver.url },
      body: "to-callback",
    });
    const delivered = await eventually(async () => {
      const current = await call(runlet, id);
      return current.callback?.state === "delivered" ? current : undefined;
    });
    expect(delivered.callback).toMatchObject({ url: receiver.url, attempts: 1, status: 200 });
    expect(receiver.received).toHaveLength(1);
    const [hook] = receiver.received;
    expect(hook?.headers["x-call-id"]).toBe(id);
    expect(hook?.headers["x-function-name"]).toBe("flaky");
    expect(hook?.headers["x-function-status"]).toBe("200");
    expect(Number(hook?.headers["x-duration-seconds"])).toBeGreaterThan(0);
    expect(hook?.headers["x-attempts"]).toBe("1");
    expect(JSON.parse(hook?.body ?? "")).toEqual({ attempts: 1, input: "to-callback" });
  });

  it("retries a failing callback after its back-off, and reports a dead call to it", async () => {
    const { runlet, clock } = await setUp({ maxRetries: 0 });
    const receiver = await callbackReceiver(2, clock);
    const id = await enqueue(runlet, "flaky?fail=1", {
      headers: { "x-callback-url": receiver.url },
    });
    const firstAt = clock.now();
    const dues: number[] = [];
    const callbackAttempts = async () => (await runlet.platform.calls.get(id))?.callback?.attempts;
    for (const attempts of [1, 2]) {
      await eventually(async () => ((await callbackAttempts()) === attempts ? true : undefined), {
        intervalMs: 2,
        what: `callback attempt ${attempts} to be stored`,
      });
      // The call is dead, so the callback is the only thing the queue has due; its back-off
      // is the calls' one.
      const due = embeddedStore(runlet).nextDueAt() ?? Number.NaN;
      const ceiling = 1000 * 2 ** (attempts - 1);
      expect(due - clock.now()).toBeGreaterThanOrEqual(ceiling / 2);
      expect(due - clock.now()).toBeLessThanOrEqual(ceiling);
      await clock.advanceTo(due - 1);
      // Another call makes the queue look for due work; it must not deliver early (the time
      // the other call takes lets a delivery started too early arrive).
      const other = await enqueueDirectly(runlet);
      await eventually(
        async () =>
          (await runlet.platform.calls.get(other.id))?.state === "succeeded" ? true : undefined,
        { intervalMs: 2, what: "the other call to succeed" },
      );
      expect(await callbackAttempts()).toBe(attempts);
      expect(receiver.received).toHaveLength(attempts);
      await clock.advanceTo(due);
      dues.push(due);
    }
    const delivered = await eventually(async () => {
      const current = await call(runlet, id);
      return current.callback?.state === "delivered" ? current : undefined;
    });
    expect(delivered.state).toBe("dead");
    expect(delivered.callback).toMatchObject({ attempts: 3, status: 200 });
    expect(receiver.received).toHaveLength(3);
    // Each delivery arrived when it was due by the clock, none early.
    expect(receiver.received.map((hook) => hook.at)).toEqual([firstAt, ...dues]);
    for (const hook of receiver.received) {
      expect(hook.headers["x-call-id"]).toBe(id);
      expect(hook.headers["x-function-status"]).toBe("500");
      expect(hook.body).toBe("not yet (attempt 1)");
    }
  });

  it("keeps an enqueue idempotent by X-Call-Id and exposes queue metrics", async () => {
    const { runlet, log } = await setUp();
    const first = await enqueue(runlet, "flaky", { headers: { "x-call-id": "order-42" } });
    const again = await enqueue(runlet, "flaky", { headers: { "x-call-id": "order-42" } });
    expect([first, again]).toEqual(["order-42", "order-42"]);
    await finished(runlet, "order-42");
    expect(await attempts(log, "order-42")).toHaveLength(1);
    const metrics = await (await fetch(`${runlet.url}/metrics`)).text();
    expect(metrics).toMatch(/runlet_async_calls_accepted_total\{function_name="flaky"\} 2/);
    expect(metrics).toMatch(
      /runlet_async_call_attempts_total\{function_name="flaky",outcome="succeeded"\} 1/,
    );
    expect(metrics).toMatch(/runlet_async_calls\{function_name="flaky",state="succeeded"\} 1/);
  });
});
