/**
 * SIGTERM stops a serving runtime gracefully, as a pod's kubelet or `kill` asks: it takes no
 * new connections, the calls in flight (over HTTP and over frames) finish with their whole
 * answers, the log stream (without a control pipe) ends once they have, and the process exits
 * 0. Run against every runtime server, on Unix sockets with a control pipe and on TCP.
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
  openLogs,
  runtimeNames,
  startRuntimeProcess,
  type Endpoint,
  type RuntimeName,
} from "./runtime-process.js";

/**
 * A function whose answer comes in two parts: the first at once, the second only once a file
 * named `release` appears in its package directory (its working directory). It logs
 * "started PATH" and "finishing PATH".
 */
const slowFunctions: Record<RuntimeName, { files: Record<string, string>; spec: object }> = {
  node: {
    files: {
      "index.mjs": `
import { existsSync } from "node:fs";
export default async function (event) {
  console.log("started " + event.path);
  return {
    statusCode: 200,
    headers: { "content-type": "text/plain" },
    body: (async function* () {
      yield "first half, ";
      while (!existsSync("release")) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      console.log("finishing " + event.path);
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
      command: [
        'echo "started $Http_Path" >&2; printf "first half, "',
        // Bounded: a call left behind by a failed test (its runtime killed) ends by itself.
        'i=0; while [ ! -e release ] && [ "$i" -lt 3000 ]; do sleep 0.01; i=$((i + 1)); done',
        'echo "finishing $Http_Path" >&2; printf "second half of %s" "$Http_Path"',
      ].join("\n"),
    },
  },
  python: {
    files: {
      "handler.py": `
import os
import time

def handle(event, context):
    print("started " + event.path)
    def chunks():
        yield b"first half, "
        while not os.path.exists("release"):
            time.sleep(0.01)
        print("finishing " + event.path)
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
  it.each(["unix", "tcp"] as const)(
    "over %s, lets the calls in flight over HTTP and frames finish with their whole answers, then exits 0",
    async (transport) => {
      const runtime = await startRuntimeProcess(name, { transport });
      const { files, spec } = slowFunctions[name];
      const packagePath = await writeSource(files);
      await runtime.specialize({ name: "slow", packagePath, ...spec });
      const logs = transport === "tcp" ? await openLogs(runtime.http) : undefined;

      const overHttp = await runtime.open("/slow-http", { headers: { "x-call-id": "call-http" } });
      expect(overHttp.statusCode).toBe(200);
      const httpBody = await firstChunk(overHttp);

      const channel = new FrameChannel(
        "socketPath" in runtime.frames
          ? { socketPath: runtime.frames.socketPath }
          : { host: runtime.frames.host, port: runtime.frames.port },
      );
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
      await eventually(() => refusesConnections(runtime.http), {
        what: "the HTTP server to close",
      });
      await eventually(() => refusesConnections(runtime.frames), {
        what: "the frame server to close",
      });
      expect(existsSync(join(packagePath, "release"))).toBe(false);
      await writeFile(join(packagePath, "release"), "");

      expect(await httpBody.rest).toBe("second half of /slow-http");
      expect(await framesBody.rest).toBe("second half of /slow-frames");
      if (logs) {
        // The log stream ends once the calls have, with what they logged on the way.
        const lines = await logs.rest;
        expect(lines).toContainEqual(
          expect.objectContaining({ callId: "call-frames", text: "finishing /slow-frames" }),
        );
      }
      expect(await runtime.exited, runtime.output.stderr).toEqual({ code: 0, signal: null });
    },
  );
});
