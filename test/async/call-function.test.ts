import { describe, expect, it } from "vitest";
import { isUserError } from "../../src/errors.js";
import { callFunction } from "../../src/router/call.js";
import { eventually, startTestRunlet } from "../helpers/runlet.js";

const echo = `export default async function (event, context) {
  return { statusCode: 200, headers: { "x-handled-by": context.functionName }, body: { method: event.method, path: event.path, query: event.query, body: event.body, params: event.headers["x-runlet-params"] ?? null, callId: context.callId } };
}
`;

describe("callFunction (buffered calls through the router)", () => {
  it("runs a call with method, path, query, headers, body and params and buffers the answer", async () => {
    const runlet = await startTestRunlet();
    expect((await runlet.deploy("echo", { "index.js": echo })).status).toBe(201);
    const result = await callFunction(runlet.platform.routing, {
      name: "echo",
      method: "post",
      path: "/a/b?x=1",
      headers: { "content-type": "application/json" },
      body: Buffer.from(JSON.stringify({ n: 1 })),
      callId: "call-1",
      params: { id: "7" },
    });
    expect(result.status).toBe(200);
    expect(result.headers["x-handled-by"]).toBe("echo");
    expect(result.headers["x-call-id"]).toBe("call-1");
    expect(result.durationMs).toBeGreaterThan(0);
    expect(JSON.parse(result.body.toString())).toEqual({
      method: "POST",
      path: "/a/b",
      query: { x: "1" },
      body: { n: 1 },
      params: JSON.stringify({ id: "7" }),
      callId: "call-1",
    });
  });

  it("returns timeouts and crashes as statuses and throws for an unknown function", async () => {
    const runlet = await startTestRunlet();
    const handler = `export default async function (event) {
      if (event.path === "/hang") { await new Promise(() => {}); }
      if (event.path === "/crash") { process.exit(3); }
      return "ok";
    }`;
    expect(
      (await runlet.deploy("flaky", { "index.js": handler }, { timeout: "500ms" })).status,
    ).toBe(201);
    const call = (path: string) =>
      callFunction(runlet.platform.routing, {
        name: "flaky",
        method: "GET",
        path,
        headers: {},
        body: Buffer.alloc(0),
        callId: `c-${path.slice(1)}`,
      });
    const hung = await call("/hang");
    expect(hung.status).toBe(504);
    expect(JSON.parse(hung.body.toString()).error.code).toBe("RUNLET_FUNCTION_TIMEOUT");
    const crashed = await call("/crash");
    expect(crashed.status).toBe(502);
    expect(JSON.parse(crashed.body.toString()).error.code).toBe("RUNLET_INSTANCE_FAILED");
    const ok = await eventually(async () => {
      const result = await call("/ok");
      return result.status === 200 ? result : undefined;
    });
    expect(ok.body.toString()).toBe("ok");
    const missing = await callFunction(runlet.platform.routing, {
      name: "nope",
      method: "GET",
      path: "/",
      headers: {},
      body: Buffer.alloc(0),
      callId: "x",
    }).catch((error: unknown) => error);
    expect(isUserError(missing) && missing.code).toBe("RUNLET_FUNCTION_NOT_FOUND");
  });

  it("stores an enqueued call and runs it", async () => {
    const runlet = await startTestRunlet();
    expect((await runlet.deploy("echo", { "index.js": echo })).status).toBe(201);
    const record = await runlet.platform.calls.enqueue({
      name: "echo",
      method: "POST",
      path: "/q?y=2",
      headers: { "content-type": "text/plain" },
      body: Buffer.from("hi"),
      source: "test",
    });
    expect(record.state).toBe("queued");
    expect((await runlet.platform.calls.get(record.id))?.source).toBe("test");
    const done = await eventually(async () => {
      const call = await runlet.platform.calls.get(record.id);
      return call?.state === "succeeded" ? call : undefined;
    });
    expect(done.attempts).toBe(1);
    expect(JSON.parse(done.result?.body.toString() ?? "")).toMatchObject({
      method: "POST",
      path: "/q",
      body: "hi",
      callId: record.id,
    });
  });
});
