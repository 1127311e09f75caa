// The framed invocation channel against a real runtime server process: many calls multiplexed
// on two connections, cancellation reaching the handler's signal, per-stream flow control,
// and an instance that dies under its calls.
import { spawn, type ChildProcess } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { request } from "node:http";
import { join } from "node:path";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { Pool } from "undici";
import { describe, expect, it, onTestFinished } from "vitest";
import { ChannelClosed, FrameChannel } from "../../src/provider/frame-channel.js";
import { invokeOverHttp } from "../../src/provider/http-invoke.js";
import { eventually, tempDir } from "../helpers/runlet.js";
import { call, text } from "./frame-calls.js";

const server = fileURLToPath(new URL("../../runtimes/node/server.mjs", import.meta.url));

const handler = `
const aborted = [];
let produced = 0;
export default async function (event, context) {
  switch (event.path) {
    case "/echo":
      return { statusCode: 201, headers: { "x-n": event.query.n }, body: { n: event.query.n, body: event.body } };
    case "/wait":
      if (!context.signal.aborted) {
        await new Promise((resolve) => context.signal.addEventListener("abort", resolve));
      }
      aborted.push(context.signal.reason.message);
      return "late";
    case "/aborted":
      return aborted;
    case "/deadline-then-read":
      // Reads the signal only after the call's deadline has passed.
      await new Promise((resolve) => setTimeout(resolve, Number(event.query.ms)));
      return { aborted: context.signal.aborted, reason: context.signal.reason?.message };
    case "/big":
      // 8 MiB in 64 KiB chunks, counting how far the producer got.
      return { statusCode: 200, body: (async function* () {
        for (let i = 0; i < 128; i += 1) { produced += 1; yield Buffer.alloc(65536, 97); }
      })() };
    case "/produced":
      return { produced };
    case "/exit":
      setTimeout(() => process.exit(7), 10);
      return new Promise(() => {});
    default:
      return event.path.startsWith("/where/") ? { path: event.path, query: event.query } : "ok";
  }
}
`;

interface Runtime {
  readonly child: ChildProcess;
  readonly channel: FrameChannel;
  /** The runtime's HTTP socket. */
  readonly socket: string;
}

async function startRuntime(): Promise<Runtime> {
  const dir = await tempDir();
  await writeFile(join(dir, "index.mjs"), handler);
  const socket = join(dir, "runtime.sock");
  const child = spawn(process.execPath, [server], {
    env: {
      PATH: process.env["PATH"] ?? "",
      RUNLET_SOCKET: socket,
      RUNLET_FRAME_SOCKET: join(dir, "frames.sock"),
      RUNLET_CONTROL_FD: "3",
    },
    stdio: ["ignore", "inherit", "inherit", "pipe"],
  });
  onTestFinished(() => {
    child.kill("SIGKILL");
  });
  const control = child.stdio[3] as Readable;
  await new Promise<void>((resolve, reject) => {
    control.on("data", (chunk: Buffer) => {
      if (chunk.toString("utf8").includes('"event":"ready"')) {
        resolve();
      }
    });
    child.once("exit", (code) => reject(new Error(`runtime exited with ${code}`)));
  });
  const status = await new Promise<number>((resolve, reject) => {
    const req = request({ socketPath: socket, path: "/v2/specialize", method: "POST" }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end(JSON.stringify({ name: "t", revision: "1", packagePath: dir, handler: "index.mjs" }));
  });
  expect(status).toBe(200);
  const channel = new FrameChannel({ socketPath: join(dir, "frames.sock"), connections: 2 });
  onTestFinished(() => channel.close());
  return { child, channel, socket };
}

describe("framed invocation channel", () => {
  it("multiplexes many concurrent calls, with bodies, and matches each answer to its call", async () => {
    const { channel } = await startRuntime();
    const answers = await Promise.all(
      Array.from({ length: 60 }, async (_, n) => {
        const response = await call(channel, `/echo?n=${n}`, {
          body: JSON.stringify({ value: n }),
        });
        return {
          status: response.status,
          header: response.headers["x-n"],
          body: await text(response),
        };
      }),
    );
    answers.forEach((answer, n) => {
      expect(answer).toEqual({
        status: 201,
        header: String(n),
        body: JSON.stringify({ n: String(n), body: { value: n } }),
      });
    });
  });

  it("aborts the handler's context.signal when the caller cancels", async () => {
    const { channel } = await startRuntime();
    const controller = new AbortController();
    const pending = call(channel, "/wait", { signal: controller.signal });
    // Let the call reach the handler before cancelling it.
    await eventually(async () =>
      (await text(await call(channel, "/"))) === "ok" ? true : undefined,
    );
    controller.abort(new Error("caller went away in the test"));
    await expect(pending).rejects.toThrow("caller went away in the test");
    const aborted = await eventually(async () => {
      const list = JSON.parse(await text(await call(channel, "/aborted"))) as string[];
      return list.length > 0 ? list : undefined;
    });
    expect(aborted).toEqual(["caller went away in the test"]);
  });

  it("aborts the handler's context.signal at the call's deadline, read early or late", async () => {
    const { channel } = await startRuntime();
    const deadline = (ms: number): Record<string, string> => ({
      "x-runlet-deadline": String(Date.now() + ms),
    });
    const waiting = call(channel, "/wait", { headers: deadline(300) });
    expect(await text(await waiting)).toBe("late");
    expect(JSON.parse(await text(await call(channel, "/aborted")))).toEqual(["function timeout"]);
    const late = await call(channel, "/deadline-then-read?ms=400", { headers: deadline(100) });
    expect(JSON.parse(await text(late))).toEqual({ aborted: true, reason: "function timeout" });
    const early = await call(channel, "/deadline-then-read?ms=0", { headers: deadline(60_000) });
    expect(JSON.parse(await text(early))).toEqual({ aborted: false });
  });

  it("gives the handler the path and query as URL parsing does", async () => {
    const { channel } = await startRuntime();
    const where = async (path: string): Promise<unknown> =>
      JSON.parse(await text(await call(channel, path)));
    expect(await where("/where/a.b//c")).toEqual({ path: "/where/a.b//c", query: {} });
    expect(await where("/where/x/../y?a=1&a=2&b=%20")).toEqual({
      path: "/where/y",
      query: { a: ["1", "2"], b: " " },
    });
    expect(await where("/where/sp ace")).toEqual({ path: "/where/sp%20ace", query: {} });
  });

  it("holds a stream's producer at its window while nobody reads, without blocking other calls", async () => {
    const { channel } = await startRuntime();
    const big = await call(channel, "/big");
    // Other calls still get through while the big answer sits unread.
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

  it("fails calls in flight with ChannelClosed when the instance dies", async () => {
    const { channel } = await startRuntime();
    await expect(call(channel, "/exit")).rejects.toBeInstanceOf(ChannelClosed);
  });

  it("gives the same answer over frames as over plain HTTP", async () => {
    const { channel, socket } = await startRuntime();
    const dispatcher = new Pool("http://localhost", { socketPath: socket });
    onTestFinished(() => dispatcher.destroy());
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
    // A small answer arrives whole over frames: one buffer, no stream.
    expect(Buffer.isBuffer(framed.body)).toBe(true);
    const overHttp = await invokeOverHttp(dispatcher, {
      ...request,
      body: Readable.from([Buffer.from('{"a":1}')]),
    });
    expect(Buffer.isBuffer(overHttp.body)).toBe(false);
    for (const response of [framed, overHttp]) {
      expect(response.status).toBe(201);
      expect(response.headers["x-n"]).toBe("5");
      expect(JSON.parse(await text(response))).toEqual({ n: "5", body: { a: 1 } });
    }
  });
});
