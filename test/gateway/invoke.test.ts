import { request } from "node:http";
import { describe, expect, it } from "vitest";
import { eventually, startTestRunlet } from "../helpers/runlet.js";

const echo = `export default async function (event, context) {
  console.log("echo called", event.method, event.path);
  return { statusCode: 200, headers: { "x-handled-by": context.functionName }, body: { method: event.method, path: event.path, query: event.query, body: event.body, header: event.headers["x-test"] ?? null, callId: context.callId } };
}
`;

async function coldStarts(
  runlet: Awaited<ReturnType<typeof startTestRunlet>>,
  name: string,
): Promise<number> {
  const fn = (await (await runlet.api(`/api/v1/functions/${name}`)).json()) as {
    instances: { coldStarts: number }[];
  };
  return fn.instances.reduce((sum, s) => sum + s.coldStarts, 0);
}

describe("invocation end to end", () => {
  it("passes method, path, query, headers and body to the handler and sets call headers", async () => {
    const runlet = await startTestRunlet();
    expect((await runlet.deploy("hello", { "index.js": echo })).status).toBe(201);
    const response = await fetch(`${runlet.url}/function/hello/sub/path?a=1&a=2&b=x`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-test": "yes" },
      body: JSON.stringify({ n: 42 }),
    });
    expect(response.status).toBe(200);
    const callId = response.headers.get("x-call-id");
    expect(callId).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number(response.headers.get("x-duration-seconds"))).toBeGreaterThan(0);
    expect(response.headers.get("x-handled-by")).toBe("hello");
    expect(await response.json()).toEqual({
      method: "POST",
      path: "/sub/path",
      query: { a: ["1", "2"], b: "x" },
      body: { n: 42 },
      header: "yes",
      callId,
    });
    // A caller's own X-Call-Id is kept.
    const traced = await fetch(`${runlet.url}/function/hello`, {
      headers: { "x-call-id": "trace-123" },
    });
    expect(traced.headers.get("x-call-id")).toBe("trace-123");
    expect(((await traced.json()) as { callId: string }).callId).toBe("trace-123");
  });

  it("serves CommonJS handlers and turns return values into responses", async () => {
    const runlet = await startTestRunlet();
    const handler = `module.exports = async (event) => {
      switch (event.path) {
        case "/text": return "plain text";
        case "/bytes": return Buffer.from([1, 2, 3]);
        case "/none": return undefined;
        case "/created": return { statusCode: 201, headers: { Location: "/things/1" }, body: "made" };
        default: return { n: 1 };
      }
    };`;
    expect(
      (await runlet.deploy("shapes", { "index.cjs": handler }, { handler: "index.cjs" })).status,
    ).toBe(201);
    const text = await fetch(`${runlet.url}/function/shapes/text`);
    expect(text.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(await text.text()).toBe("plain text");
    const bytes = await fetch(`${runlet.url}/function/shapes/bytes`);
    expect(bytes.headers.get("content-type")).toBe("application/octet-stream");
    expect([...new Uint8Array(await bytes.arrayBuffer())]).toEqual([1, 2, 3]);
    expect((await fetch(`${runlet.url}/function/shapes/none`)).status).toBe(204);
    const created = await fetch(`${runlet.url}/function/shapes/created`);
    expect(created.status).toBe(201);
    expect(created.headers.get("location")).toBe("/things/1");
    expect(await (await fetch(`${runlet.url}/function/shapes`)).json()).toEqual({ n: 1 });
  });

  it("streams a returned async iterable instead of buffering it", async () => {
    const runlet = await startTestRunlet();
    // The stream blocks after its first chunk until a second call releases it: if the
    // gateway buffered, the first chunk could never arrive before the release.
    const handler = `let release; const released = new Promise((r) => { release = r; });
    export default async function (event) {
      if (event.path === "/release") { release(); return "released"; }
      return { statusCode: 200, headers: { "content-type": "text/plain" }, body: (async function* () {
        yield "first\\n";
        await released;
        yield "second\\n";
      })() };
    }`;
    expect(
      (await runlet.deploy("stream", { "index.mjs": handler }, { handler: "index.mjs" })).status,
    ).toBe(201);
    const response = await fetch(`${runlet.url}/function/stream`);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toBe("first\n");
    expect(await (await fetch(`${runlet.url}/function/stream/release`)).text()).toBe("released");
    let rest = "";
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      rest += new TextDecoder().decode(chunk.value);
    }
    expect(rest).toBe("second\n");
  });

  it("answers 500 with the message when the handler throws, and the instance survives", async () => {
    const runlet = await startTestRunlet();
    const handler = `export default async function (event) {
      if (event.query.fail) { throw new TypeError("cannot read the order"); }
      return "ok";
    }`;
    await runlet.deploy("thrower", { "index.js": handler });
    const failed = await fetch(`${runlet.url}/function/thrower?fail=1`);
    expect(failed.status).toBe(500);
    expect(((await failed.json()) as { error: { message: string } }).error.message).toBe(
      "TypeError: cannot read the order",
    );
    expect(await (await fetch(`${runlet.url}/function/thrower`)).text()).toBe("ok");
    expect(await coldStarts(runlet, "thrower")).toBe(1);
    const logs = await (await runlet.api("/api/v1/functions/thrower/logs")).text();
    expect(logs).toContain("TypeError: cannot read the order");
  });

  it("answers 504 when the handler never answers, recycles the instance, and the next call works", async () => {
    const runlet = await startTestRunlet();
    const handler = `export default async function (event) {
      if (event.query.hang) { await new Promise(() => {}); }
      return "fine";
    }`;
    await runlet.deploy("hangs", { "index.js": handler }, { timeout: "1s" });
    const hung = await fetch(`${runlet.url}/function/hangs?hang=1`);
    expect(hung.status).toBe(504);
    expect(((await hung.json()) as { error: { message: string } }).error.message).toContain(
      "timed out after 1s",
    );
    const next = await fetch(`${runlet.url}/function/hangs`);
    expect(next.status).toBe(200);
    expect(await next.text()).toBe("fine");
    expect(await coldStarts(runlet, "hangs")).toBe(2);
  });

  it("stops a busy infinite loop at the timeout", async () => {
    const runlet = await startTestRunlet();
    await runlet.deploy(
      "spin",
      { "index.js": `export default async function () { for (;;) {} }` },
      { timeout: "1s" },
    );
    expect((await fetch(`${runlet.url}/function/spin`)).status).toBe(504);
    // The looping process is killed, not left burning a core.
    await eventually(
      async () => {
        const fn = (await (await runlet.api("/api/v1/functions/spin")).json()) as {
          availableReplicas: number;
        };
        return fn.availableReplicas === 0 ? true : undefined;
      },
      { what: "the looping instance to be stopped" },
    );
  });

  it("answers 502 naming the exit cause when the instance dies mid-request, then recovers", async () => {
    const runlet = await startTestRunlet();
    const handler = `export default async function (event) {
      if (event.query.crash) { setTimeout(() => process.exit(3), 10); await new Promise(() => {}); }
      return "alive";
    }`;
    await runlet.deploy("crashy", { "index.js": handler });
    const crashed = await fetch(`${runlet.url}/function/crashy?crash=1`);
    expect(crashed.status).toBe(502);
    expect(((await crashed.json()) as { error: { message: string } }).error.message).toContain(
      "exited with code 3",
    );
    expect(await (await fetch(`${runlet.url}/function/crashy`)).text()).toBe("alive");
    const fn = (await (await runlet.api("/api/v1/functions/crashy")).json()) as {
      instances: { lastExit?: string }[];
    };
    expect(fn.instances[0]?.lastExit).toContain("exited with code 3");
  });

  it("refuses bodies over the limit with 413: the 10 MiB default and a per-function limit", async () => {
    const runlet = await startTestRunlet();
    const handler = `export default async function (event) { return String(event.rawBody.length); }`;
    await runlet.deploy("sized", { "index.js": handler });
    await runlet.deploy("small", { "index.js": handler }, { maxBody: "1Ki" });
    const big = Buffer.alloc(10 * 1024 * 1024 + 1, 97);
    const tooBig = await fetch(`${runlet.url}/function/sized`, { method: "POST", body: big });
    expect(tooBig.status).toBe(413);
    expect(((await tooBig.json()) as { error: { message: string } }).error.message).toContain(
      "10Mi",
    );
    expect(
      await (
        await fetch(`${runlet.url}/function/sized`, {
          method: "POST",
          body: Buffer.alloc(1024 * 1024, 97),
        })
      ).text(),
    ).toBe(String(1024 * 1024));
    expect(
      (
        await fetch(`${runlet.url}/function/small`, {
          method: "POST",
          body: Buffer.alloc(2048, 97),
        })
      ).status,
    ).toBe(413);
    expect(
      await (
        await fetch(`${runlet.url}/function/small`, { method: "POST", body: Buffer.alloc(512, 97) })
      ).text(),
    ).toBe("512");
    // A chunked body carries no length up front: it is counted as it streams.
    const chunkedStatus = await new Promise<number>((resolve, reject) => {
      const req = request(`${runlet.url}/function/small`, { method: "POST" }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.write(Buffer.alloc(800, 97));
      req.end(Buffer.alloc(800, 97));
    });
    expect(chunkedStatus).toBe(413);
  });

  it("passes a body whole whether it arrived with the headers or in pieces after them", async () => {
    const runlet = await startTestRunlet();
    await runlet.deploy("echo", {
      "index.js": `export default async function (event) { return { statusCode: 200, body: event.rawBody }; }`,
    });
    const post = (parts: Buffer[], headers: Record<string, string | number> = {}) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(`${runlet.url}/function/echo`, { method: "POST", headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
          );
        });
        req.on("error", reject);
        req.flushHeaders();
        // The rest of the body comes well after the headers, in separate writes.
        const [first, ...rest] = parts;
        req.write(first);
        setTimeout(() => {
          for (const part of rest) {
            req.write(part);
          }
          req.end();
        }, 200);
      });
    const a = Buffer.from("a".repeat(3000));
    const b = Buffer.from("b".repeat(70_000));
    expect(await post([a, b], { "content-length": a.length + b.length })).toEqual({
      status: 200,
      body: a.toString() + b.toString(),
    });
    expect(await post([a, a])).toEqual({ status: 200, body: a.toString() + a.toString() });
    expect(await post([a, a], { "content-length": 2 * a.length })).toEqual({
      status: 200,
      body: a.toString() + a.toString(),
    });
    const small = await fetch(`${runlet.url}/function/echo`, { method: "POST", body: "tiny" });
    expect(await small.text()).toBe("tiny");
  });

  it("answers 408, not the function's 504, when a declared body never all arrives", async () => {
    // On the real clock, on purpose: the lean front's sweep as the gateway wires it by default
    // (lean-front.test.ts and slow-client.test.ts feed it time instead).
    const runlet = await startTestRunlet({ requestTimeoutMs: 1000 });
    await runlet.deploy(
      "stalled",
      { "index.js": `export default async function (event) { return event.rawBody; }` },
      { timeout: "1s" },
    );
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        `${runlet.url}/function/stalled`,
        { method: "POST", headers: { "content-length": 100 } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
          req.destroy();
        },
      );
      req.on("error", (error) => {
        if (!req.destroyed) {
          reject(error);
        }
      });
      req.write(Buffer.alloc(10, 97));
    });
    expect(status).toBe(408);
  });

  it("cancels the call in the instance when the caller disconnects", async () => {
    const runlet = await startTestRunlet();
    const handler = `
let waiting = 0;
const aborted = [];
export default async function (event, context) {
  if (event.path === "/state") {
    return { waiting, aborted };
  }
  waiting += 1;
  await new Promise((resolve) => context.signal.addEventListener("abort", resolve));
  aborted.push(context.signal.reason.message);
  return "late";
}`;
    await runlet.deploy("waits", { "index.js": handler });
    const state = async (): Promise<{ waiting: number; aborted: string[] }> =>
      (await (await fetch(`${runlet.url}/function/waits/state`)).json()) as {
        waiting: number;
        aborted: string[];
      };
    const controller = new AbortController();
    const pending = fetch(`${runlet.url}/function/waits`, { signal: controller.signal });
    await eventually(async () => (await state()).waiting === 1);
    controller.abort();
    await expect(pending).rejects.toThrow();
    const { aborted } = await eventually(async () => {
      const current = await state();
      return current.aborted.length > 0 ? current : undefined;
    });
    expect(aborted).toEqual(["caller disconnected"]);
  });

  it("answers 404 for an unknown function, and serves it once it is deployed", async () => {
    const runlet = await startTestRunlet();
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const response = await fetch(`${runlet.url}/function/nope`);
      expect(response.status).toBe(404);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe(
        "RUNLET_FUNCTION_NOT_FOUND",
      );
    }
    // The unknown name was remembered; the deploy must make it callable at once.
    await runlet.deploy("nope", { "index.js": `export default async () => "here now"` });
    const response = await fetch(`${runlet.url}/function/nope`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("here now");
  });

  it("answers 400, not 500, to a function name with broken percent-encoding", async () => {
    const runlet = await startTestRunlet();
    for (const path of ["/function/%E0%A4%A", "/async-function/%E0%A4%A"]) {
      const response = await fetch(`${runlet.url}${path}`, { method: "POST" });
      expect(response.status).toBe(400);
      const { error } = (await response.json()) as { error: { code: string; message: string } };
      expect(error.code).toBe("RUNLET_INVALID_REQUEST");
      expect(error.message).toContain("percent-encoding");
    }
  });

  it("requires the admin token to invoke a function with auth: required", async () => {
    const runlet = await startTestRunlet();
    await runlet.deploy(
      "private",
      { "index.js": `export default async () => "secret stuff"` },
      { auth: "required" },
    );
    expect((await fetch(`${runlet.url}/function/private`)).status).toBe(401);
    expect(
      (
        await fetch(`${runlet.url}/function/private`, {
          headers: { authorization: "Bearer wrong" },
        })
      ).status,
    ).toBe(401);
    const allowed = await runlet.api("/function/private");
    expect(allowed.status).toBe(200);
    expect(await allowed.text()).toBe("secret stuff");
  });

  it("sends console output to the function's logs, tagged with the call id", async () => {
    const runlet = await startTestRunlet();
    await runlet.deploy("talker", { "index.js": echo });
    const response = await fetch(`${runlet.url}/function/talker/x`);
    const callId = response.headers.get("x-call-id");
    await response.text();
    const lines = (await (await runlet.api("/api/v1/functions/talker/logs")).text())
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { callId?: string; text: string });
    expect(lines).toContainEqual(expect.objectContaining({ callId, text: "echo called GET /x" }));
  });
});

describe("answers that cannot be sent as given", () => {
  it("turns a header a client could misread into a 502 naming it, on either server's path", async () => {
    const runlet = await startTestRunlet();
    await runlet.deploy("sneaky", {
      "index.js": `export default async () => ({ statusCode: 200, headers: { "x-a": "1\\r\\nx-injected: yes" }, body: "hi" })`,
    });
    // The lean front reads a plain GET; a HEAD goes through node:http.
    for (const method of ["GET", "HEAD"]) {
      const response = await fetch(`${runlet.url}/function/sneaky`, { method });
      expect(response.status).toBe(502);
      expect(response.headers.get("x-injected")).toBeNull();
      if (method === "GET") {
        const body = (await response.json()) as { error: { code: string; message: string } };
        expect(body.error.code).toBe("RUNLET_INVALID_RESPONSE");
        expect(body.error.message).toMatch(/x-a/i);
      }
    }
    // The instance and the connection are fine afterwards.
    await runlet.deploy("fine", { "index.js": `export default async () => "ok"` });
    expect(await (await fetch(`${runlet.url}/function/fine`)).text()).toBe("ok");
  });
});

describe("calls on one kept-alive connection", () => {
  it("answers pipelined calls in order, then the API once node:http has the connection", async () => {
    const runlet = await startTestRunlet();
    expect((await runlet.deploy("hello", { "index.js": echo })).status).toBe(201);
    const { connect } = await import("node:net");
    const url = new URL(runlet.url);
    const socket = connect(Number(url.port), url.hostname);
    let text = "";
    const done = new Promise<void>((resolve, reject) => {
      socket.on("error", reject);
      socket.on("data", (chunk: Buffer) => {
        text += chunk.toString();
        if (text.includes('"status":"ok"') && text.includes("/third")) {
          resolve();
        }
      });
    });
    socket.write(
      "GET /function/hello/first HTTP/1.1\r\nHost: t\r\n\r\n" +
        "POST /function/hello/second HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi" +
        "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n" +
        "GET /function/hello/third HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    await done;
    socket.destroy();
    const positions = [
      '"path":"/first"',
      '"path":"/second"',
      '"status":"ok"',
      '"path":"/third"',
    ].map((needle) => text.indexOf(needle));
    expect(positions.every((p) => p !== -1)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    expect(text).toContain('"body":"hi"');
  });
});
