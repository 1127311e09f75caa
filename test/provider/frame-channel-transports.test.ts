// One case suite for the framed channel, run over each transport it dials: a Unix socket (a
// local instance) and TCP on 127.0.0.1 (as to a pod). The runtime server listens for frames
// only on a Unix socket, so the far end here is the runtime's own frame server module
// (createFrameServer), started in a child process on whichever address the transport gives.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { connect, createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import {
  ChannelClosed,
  FrameChannel,
  type FrameChannelOptions,
} from "../../src/provider/frame-channel.js";
import { eventually, tempDir } from "../helpers/runlet.js";
import { call, text } from "./frame-calls.js";

const frameServerUrl = new URL("../../runtimes/shared/frame-server.mjs", import.meta.url).href;

/** The instance: a frame server whose calls are answered by path; listens where argv[1] says. */
const instance = `
import { createFrameServer } from ${JSON.stringify(frameServerUrl)};
let waiting = 0;
const cancelled = [];
let produced = 0;
const json = (res, status, value, headers = {}) => {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(value));
};
const server = createFrameServer((call, res) => {
  const url = new URL(call.url, "http://instance");
  switch (url.pathname) {
    case "/echo": {
      const n = url.searchParams.get("n");
      void call.readBody().then((body) => json(res, 201, { n, body: body.toString("utf8") }, { "x-n": n }));
      return;
    }
    case "/wait":
      // Never answered: only a cancel ends it.
      waiting += 1;
      res.on("close", () => cancelled.push(res.cancelReason));
      return;
    case "/state":
      return json(res, 200, { waiting, cancelled, produced });
    case "/big": {
      // 8 MiB in 64 KiB chunks, sent as fast as the channel lets the instance.
      res.writeHead(200, {});
      const more = () => {
        while (produced < 128) {
          produced += 1;
          if (!res.write(Buffer.alloc(65536, 97))) {
            res.once("drain", more);
            return;
          }
        }
        res.end();
      };
      return more();
    }
    case "/partial":
      // A streamed answer that has begun and never ends.
      res.writeHead(200, {});
      res.write("partial");
      return;
    case "/exit":
      process.exit(7);
  }
});
server.listen(JSON.parse(process.argv[1]), () => {
  process.stdout.write(JSON.stringify(server.address()) + "\\n");
});
`;

interface Transport {
  readonly name: string;
  /** Where the instance listens (net.Server#listen options). */
  listenOn(): Promise<Record<string, unknown>>;
  /** How the channel dials it, given what the server reports as its address. */
  dial(address: string | AddressInfo): FrameChannelOptions;
}

const transports: readonly Transport[] = [
  {
    name: "a Unix socket",
    listenOn: async () => ({ path: join(await tempDir(), "frames.sock") }),
    dial: (address) => ({ socketPath: address as string, connections: 2 }),
  },
  {
    name: "TCP on 127.0.0.1",
    listenOn: () => Promise.resolve({ host: "127.0.0.1", port: 0 }),
    dial: (address) => ({ host: "127.0.0.1", port: (address as AddressInfo).port, connections: 2 }),
  },
];

interface InstanceState {
  readonly waiting: number;
  readonly cancelled: string[];
  readonly produced: number;
}

async function state(channel: FrameChannel): Promise<InstanceState> {
  return JSON.parse(await text(await call(channel, "/state"))) as InstanceState;
}

describe.each(transports)("framed invocation channel over $name", (transport) => {
  async function startInstance(): Promise<FrameChannel> {
    const listenOn = await transport.listenOn();
    const child = spawn(
      process.execPath,
      ["--input-type=module", "-e", instance, JSON.stringify(listenOn)],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    onTestFinished(() => {
      child.kill("SIGKILL");
    });
    const address = await new Promise<string | AddressInfo>((resolve, reject) => {
      child.stdout.setEncoding("utf8");
      child.stdout.once("data", (line: string) => resolve(JSON.parse(line) as AddressInfo));
      child.once("exit", (code) => reject(new Error(`the instance exited with ${code}`)));
    });
    const channel = new FrameChannel(transport.dial(address));
    onTestFinished(() => channel.close());
    await channel.open();
    return channel;
  }

  it("multiplexes many concurrent calls, with bodies, and matches each answer to its call", async () => {
    const channel = await startInstance();
    const answers = await Promise.all(
      Array.from({ length: 60 }, async (_, n) => {
        const response = await call(channel, `/echo?n=${n}`, { body: `body ${n}` });
        return { status: response.status, n: response.headers["x-n"], body: await text(response) };
      }),
    );
    answers.forEach((answer, n) => {
      expect(answer).toEqual({
        status: 201,
        n: String(n),
        body: JSON.stringify({ n: String(n), body: `body ${n}` }),
      });
    });
  });

  it("streams a large answer, holding its producer at the window while nobody reads", async () => {
    const channel = await startInstance();
    const big = await call(channel, "/big");
    expect(Buffer.isBuffer(big.body)).toBe(false);
    // Other calls get through while the big answer sits unread.
    const produced = await eventually(async () => {
      const { produced: count } = await state(channel);
      return count >= 16 ? count : undefined;
    });
    const settled = await state(channel);
    // 1 MiB window = 16 chunks, plus what one write may overshoot: far from all 128.
    expect(produced).toBeGreaterThanOrEqual(16);
    expect(settled.produced).toBeLessThan(40);
    expect((await text(big)).length).toBe(128 * 65536);
  });

  it("tells the instance when the caller cancels, with the reason", async () => {
    const channel = await startInstance();
    const controller = new AbortController();
    const pending = call(channel, "/wait", { signal: controller.signal });
    await eventually(async () => ((await state(channel)).waiting === 1 ? true : undefined));
    controller.abort(new Error("caller went away in the test"));
    await expect(pending).rejects.toThrow("caller went away in the test");
    const cancelled = await eventually(async () => {
      const list = (await state(channel)).cancelled;
      return list.length > 0 ? list : undefined;
    });
    expect(cancelled).toEqual(["caller went away in the test"]);
  });

  it("fails a call waiting for its answer, and one mid-stream, when the instance goes away", async () => {
    const channel = await startInstance();
    const streaming = await call(channel, "/partial");
    if (Buffer.isBuffer(streaming.body)) {
      throw new Error("a never-ending answer came whole");
    }
    const reader = streaming.body[Symbol.asyncIterator]();
    const first = (await reader.next()) as IteratorResult<Buffer>;
    expect(first.value?.toString("utf8")).toBe("partial");
    const waiting = call(channel, "/wait");
    await eventually(async () => ((await state(channel)).waiting === 1 ? true : undefined));

    // All three watched at once: none of them may fail unobserved while another is awaited.
    await Promise.all([
      expect(call(channel, "/exit")).rejects.toBeInstanceOf(ChannelClosed),
      expect(waiting).rejects.toBeInstanceOf(ChannelClosed),
      expect(reader.next()).rejects.toBeInstanceOf(ChannelClosed),
    ]);
  });
});

describe("framed invocation channel over TCP, connecting", () => {
  it("names the address when nothing listens there", async () => {
    // A port that was just free: bound, then released.
    const probe = createServer().listen({ host: "127.0.0.1", port: 0 });
    await once(probe, "listening");
    const { port } = probe.address() as AddressInfo;
    probe.close();
    await once(probe, "close");

    const channel = new FrameChannel({ host: "127.0.0.1", port });
    onTestFinished(() => channel.close());
    const failure = call(channel, "/echo?n=1");
    await expect(failure).rejects.toBeInstanceOf(ChannelClosed);
    await expect(failure).rejects.toThrow(
      `the connection to the instance at 127.0.0.1:${port} closed (connect ECONNREFUSED`,
    );
  });

  it("gives up connecting to an address that drops the handshake, naming it", async () => {
    // A listener that never accepts, with room for one connection in its queue: once that is
    // taken, the kernel drops further handshakes, as a vanished pod's address does.
    const listener = spawn(
      "python3",
      [
        "-c",
        [
          "import socket, sys",
          "s = socket.socket()",
          "s.bind(('127.0.0.1', 0))",
          "s.listen(0)",
          "print(s.getsockname()[1], flush=True)",
          "sys.stdin.read()",
        ].join("\n"),
      ],
      { stdio: ["pipe", "pipe", "inherit"] },
    );
    onTestFinished(() => {
      listener.kill("SIGKILL");
    });
    listener.stdout.setEncoding("utf8");
    const [line] = (await once(listener.stdout, "data")) as [string];
    const port = Number(line.trim());
    const queued = connect({ host: "127.0.0.1", port });
    onTestFinished(() => {
      queued.destroy();
    });
    await once(queued, "connect");

    const channel = new FrameChannel({ host: "127.0.0.1", port, connectTimeoutMs: 300 });
    onTestFinished(() => channel.close());
    const opening = channel.open();
    await expect(opening).rejects.toBeInstanceOf(ChannelClosed);
    await expect(opening).rejects.toThrow(
      `the connection to the instance at 127.0.0.1:${port} closed (no connection after 300 ms)`,
    );
  });
});
