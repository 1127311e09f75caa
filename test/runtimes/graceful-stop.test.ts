/**
 * SIGTERM stops a serving runtime gracefully, as a pod's kubelet or `kill` asks: it takes no
 * new connections, the calls in flight (over HTTP and over frames) finish with their whole
 * answers, and the process exits 0. Run against every runtime server.
 */
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { describe, expect, it, onTestFinished } from "vitest";
import { FrameChannel } from "../../src/provider/frame-channel.js";
import { eventually, writeSource } from "../helpers/runlet.js";
import {
  runtimeNames,
  startRuntimeProcess,
  type Endpoint,
  type RuntimeName,
} from "./runtime-process.js";

/**
 * A function whose answer to /slow comes in two parts: the first at once, the second only
 * once a file named `release` appears in its package directory (its working directory).
 */
const slowFunctions: Record<RuntimeName, { files: Record<string, string>; spec: object }> = {
  node: {
    files: {
      "index.mjs": `
import { existsSync } from "node:fs";
export default async function (event) {
  return {
    statusCode: 200,
    headers: { "content-type": "text/plain" },
    body: (async function* () {
      yield "first half, ";
      while (!existsSync("release")) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      yield "second half of " + event.path;
    })(),
  };
}
`,
    },
    spec: { handler: "index.mjs" },
  },
  exec: {
    files: { README: "" },
    spec: {
      handler: "",
      mode: "stdio",
      command:
        'printf "first half, "; while [ ! -e release ]; do sleep 0.01; done; printf "second half of $Http_Path"',
    },
  },
  python: {
    files: {
      "handler.py": `
import os
import time

def handle(event, context):
    def chunks():
        yield b"first half, "
        while not os.path.exists("release"):
            time.sleep(0.01)
        yield ("second half of " + event.path).encode()
    return chunks()
`,
    },
    spec: { handler: "handler.py" },
  },
};

/** Resolves once nothing accepts connections at `endpoint` any more. */
function refusesConnections(endpoint: Endpoint): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect("socketPath" in endpoint ? { path: endpoint.socketPath } : endpoint);
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(true));
  });
}

async function firstChunk(stream: Readable): Promise<{ first: string; rest: Promise<string> }> {
  const iterator = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const head = await iterator.next();
  const first = head.done ? "" : Buffer.from(head.value).toString("utf8");
  const rest = (async () => {
    let text = "";
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
      text += Buffer.from(next.value).toString("utf8");
    }
    return text;
  })();
  // Awaited by the test; a failure before that point must not surface as unhandled.
  rest.catch(() => {});
  return { first, rest };
}

describe.each(runtimeNames)("the %s runtime on SIGTERM", (name) => {
  it("lets the calls in flight over HTTP and frames finish with their whole answers, then exits 0", async () => {
    const runtime = await startRuntimeProcess(name, { transport: "unix" });
    const { files, spec } = slowFunctions[name];
    const packagePath = await writeSource(files);
    await runtime.specialize({ name: "slow", packagePath, ...spec });

    const overHttp = await runtime.open("/slow-http", { headers: { "x-call-id": "call-http" } });
    expect(overHttp.statusCode).toBe(200);
    const httpBody = await firstChunk(overHttp);

    if (!("socketPath" in runtime.frames)) {
      throw new Error("the runtime was started on Unix sockets");
    }
    const channel = new FrameChannel({ socketPath: runtime.frames.socketPath });
    onTestFinished(() => channel.close());
    const overFrames = await channel.invoke({
      method: "GET",
      path: "/slow-frames",
      headers: { "x-call-id": "call-frames" },
      body: undefined,
      signal: new AbortController().signal,
    });
    expect(overFrames.status).toBe(200);
    if (Buffer.isBuffer(overFrames.body)) {
      throw new Error(`the answer came whole, before its end: ${overFrames.body.toString()}`);
    }
    const framesBody = await firstChunk(overFrames.body);
    expect([httpBody.first, framesBody.first]).toEqual(["first half, ", "first half, "]);

    runtime.child.kill("SIGTERM");
    // The signal has been taken once the runtime stops accepting connections; the calls are
    // still waiting for their release then.
    await eventually(() => refusesConnections(runtime.http), { what: "the HTTP server to close" });
    await eventually(() => refusesConnections(runtime.frames), {
      what: "the frame server to close",
    });
    expect(existsSync(join(packagePath, "release"))).toBe(false);
    await writeFile(join(packagePath, "release"), "");

    expect(await httpBody.rest).toBe("second half of /slow-http");
    expect(await framesBody.rest).toBe("second half of /slow-frames");
    expect(await runtime.exited, runtime.output.stderr).toEqual({ code: 0, signal: null });
  });
});
