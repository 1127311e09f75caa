// The Python runtime server on its own sockets, as the provider drives it: control paths over
// HTTP, calls over frames (multiplexed, cancelled, held at the stream window) and over HTTP,
// dependencies vendored in the package, and exit when the supervisor goes.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { Pool } from "undici";
import { describe, expect, it, onTestFinished } from "vitest";
import { FrameChannel } from "../../src/provider/frame-channel.js";
import { pythonInterpreter } from "../../src/host/python-interpreter.js";
import type { InvocationResponse } from "../../src/provider/types.js";
import { invokeOverHttp } from "../../src/provider/http-invoke.js";
import { eventually, tempDir } from "../helpers/runlet.js";
import { text } from "../provider/frame-calls.js";

const server = fileURLToPath(new URL("../../runtimes/python/server.py", import.meta.url));

const handler = `
import asyncio
from dep_lib import VALUE
import dep_from_pth

cancelled = []
produced = 0

def handle(event, context):
    global produced
    if event.path == "/echo":
        return {"statusCode": 201, "headers": {"x-n": event.query["n"]},
                "body": {"n": event.query["n"], "body": event.body}}
    if event.path == "/wait":
        context.cancel_event.wait(20)
        cancelled.append(context.cancel_reason)
        return "late"
    if event.path == "/cancelled":
        return cancelled
    if event.path == "/big":
        def chunks():
            global produced
            for _ in range(128):
                produced += 1
                yield b"a" * 65536
        return chunks()
    if event.path == "/produced":
        return {"produced": produced}
    if event.path == "/params":
        return event.params
    if event.path == "/dep":
        return VALUE + " " + dep_from_pth.NAME
    return "ok"
`;

interface Runtime {
  readonly child: ChildProcess;
  readonly channel: FrameChannel;
  readonly dispatcher: Pool;
}

async function startRuntime(): Promise<Runtime> {
  const dir = await tempDir();
  const vendored = join(dir, ".runlet", "python");
  await mkdir(join(vendored, "dep_lib"), { recursive: true });
  await mkdir(join(vendored, "extra"), { recursive: true });
  await writeFile(join(dir, "handler.py"), handler);
  await writeFile(join(vendored, "dep_lib", "__init__.py"), 'VALUE = "vendored"\n');
  // A .pth file, as some pip installs leave: its directory joins the path too.
  await writeFile(join(vendored, "extra", "dep_from_pth.py"), 'NAME = "via-pth"\n');
  await writeFile(join(vendored, "extra.pth"), "extra\n");
  const socket = join(dir, "runtime.sock");
  const child = spawn(pythonInterpreter(), [server], {
    env: {
      PATH: process.env["PATH"] ?? "",
      PYTHONDONTWRITEBYTECODE: "1",
      RUNLET_SOCKET: socket,
      RUNLET_FRAME_SOCKET: join(dir, "frames.sock"),
      RUNLET_CONTROL_FD: "3",
    },
    stdio: ["pipe", "inherit", "inherit", "pipe"],
  });
  onTestFinished(() => {
    child.kill("SIGKILL");
  });
  const control = child.stdio[3] as Readable;
  await new Promise<void>((resolve, reject) => {
    control.on("data", (chunk: Buffer) => {
      if (chunk.toString("utf8").includes('"event": "ready"')) {
        resolve();
      }
    });
    child.once("exit", (code) => reject(new Error(`runtime exited with ${code}`)));
  });
  const dispatcher = new Pool("http://localhost", { socketPath: socket });
  onTestFinished(() => dispatcher.destroy());
  const health = await dispatcher.request({ path: "/healthz", method: "GET" });
  expect(await health.body.json()).toEqual({ status: "ok", specialized: false });
  const early = await dispatcher.request({
    path: "/",
    method: "GET",
    headers: { "x-call-id": "too-early" },
  });
  expect(early.statusCode).toBe(503);
  await early.body.text();
  const specialize = (): Promise<number> =>
    dispatcher
      .request({
        path: "/v2/specialize",
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          name: "t",
          revision: "1",
          packagePath: dir,
          handler: "handler.py",
          env: {},
          concurrency: 8,
        }),
      })
      .then(async (response) => {
        await response.body.text();
        return response.statusCode;
      });
  expect(await specialize()).toBe(200);
  // One instance serves one revision.
  expect(await specialize()).toBe(409);
  const channel = new FrameChannel({ socketPath: join(dir, "frames.sock"), connections: 2 });
  onTestFinished(() => channel.close());
  return { child, channel, dispatcher };
}

function call(
  channel: FrameChannel,
  path: string,
  options: { body?: string; signal?: AbortSignal } = {},
): Promise<InvocationResponse> {
  return channel.invoke({
    method: options.body === undefined ? "GET" : "POST",
    path,
    headers: { "x-call-id": `test-${path}`, "content-type": "application/json" },
    body: options.body === undefined ? undefined : Readable.from([Buffer.from(options.body)]),
    signal: options.signal ?? new AbortController().signal,
  });
}

describe("python runtime server", () => {
  it("multiplexes many concurrent framed calls, with bodies, and matches each answer to its call", async () => {
    const { channel } = await startRuntime();
    const answers = await Promise.all(
      Array.from({ length: 40 }, async (_, n) => {
        const response = await call(channel, `/echo?n=${n}`, {
          body: JSON.stringify({ value: n }),
        });
        return {
          status: response.status,
          header: response.headers["x-n"],
          body: JSON.parse(await text(response)) as unknown,
        };
      }),
    );
    answers.forEach((answer, n) => {
      expect(answer).toEqual({
        status: 201,
        header: String(n),
        body: { n: String(n), body: { value: n } },
      });
    });
  });

  it("sets the handler's context.cancel_event with the reason when the caller cancels", async () => {
    const { channel } = await startRuntime();
    const controller = new AbortController();
    const pending = call(channel, "/wait", { signal: controller.signal });
    await eventually(async () =>
      (await text(await call(channel, "/"))) === "ok" ? true : undefined,
    );
    controller.abort(new Error("caller went away in the test"));
    await expect(pending).rejects.toThrow("caller went away in the test");
    const reasons = await eventually(async () => {
      const list = JSON.parse(await text(await call(channel, "/cancelled"))) as string[];
      return list.length > 0 ? list : undefined;
    });
    expect(reasons).toEqual(["caller went away in the test"]);
  });

  it("holds a stream's producer at its window while nobody reads, without blocking other calls", async () => {
    const { channel } = await startRuntime();
    const big = await call(channel, "/big");
    const produced = await eventually(async () => {
      const { produced: count } = JSON.parse(await text(await call(channel, "/produced"))) as {
        produced: number;
      };
      return count >= 16 ? count : undefined;
    });
    const settled = JSON.parse(await text(await call(channel, "/produced"))) as {
      produced: number;
    };
    // 1 MiB window = 16 chunks, plus what the generator and buffers hold: far from all 128.
    expect(produced).toBeGreaterThanOrEqual(16);
    expect(settled.produced).toBeLessThan(40);
    expect((await text(big)).length).toBe(128 * 65536);
  });

  it("serves the same calls over HTTP, streams chunked, and imports vendored dependencies", async () => {
    const { channel, dispatcher } = await startRuntime();
    const request = {
      method: "POST",
      path: "/echo?n=5",
      headers: { "x-call-id": "via-router", "content-type": "application/json" },
      signal: new AbortController().signal,
    };
    const framed = await channel.invoke({
      ...request,
      body: Readable.from([Buffer.from('{"a":1}')]),
    });
    const overHttp = await invokeOverHttp(dispatcher, {
      ...request,
      body: Readable.from([Buffer.from('{"a":1}')]),
    });
    for (const response of [framed, overHttp]) {
      expect(response.status).toBe(201);
      expect(response.headers["x-n"]).toBe("5");
      expect(JSON.parse(await text(response))).toEqual({ n: "5", body: { a: 1 } });
    }
    const big = await invokeOverHttp(dispatcher, {
      ...request,
      method: "GET",
      path: "/big",
      body: undefined,
    });
    expect(big.headers["transfer-encoding"]).toBe("chunked");
    expect((await text(big)).length).toBe(128 * 65536);
    const dep = await invokeOverHttp(dispatcher, {
      ...request,
      method: "GET",
      path: "/dep",
      body: undefined,
    });
    expect(await text(dep)).toBe("vendored via-pth");
    // Route parameters of an HTTP trigger arrive as a header.
    const params = await channel.invoke({
      ...request,
      method: "GET",
      path: "/params",
      headers: { ...request.headers, "x-runlet-params": JSON.stringify({ who: "ada" }) },
      body: undefined,
    });
    expect(JSON.parse(await text(params))).toEqual({ who: "ada" });
  });

  it("exits when its supervisor's stdin pipe closes", async () => {
    const { child } = await startRuntime();
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    child.stdin?.end();
    expect(await exited).toBe(0);
  });
});
