import { createServer, type Server } from "node:http";
import { connect, type AddressInfo, type Socket } from "node:net";
import { EventEmitter, once } from "node:events";
import { Readable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import {
  LeanFront,
  sweepIntervalMs,
  type LeanFrontOptions,
} from "../../src/gateway/front/lean-front.js";
import { CallController } from "../../src/router/call-controller.js";
import { RequestTimeout } from "../../src/router/run-call.js";
import type { Exchange } from "../../src/router/exchange.js";
import { ManualClock } from "../helpers/manual-clock.js";

interface Front {
  readonly port: number;
  readonly front: LeanFront;
  readonly abandoned: string[];
  /** Resolves once the front has read the first bytes of the next connection. */
  nextRead(): Promise<void>;
  /** Resolves with the URL of the next call whose caller went away. */
  nextAbandon(): Promise<string>;
}

const servers: { server: Server; front: LeanFront }[] = [];
afterEach(async () => {
  for (const { server, front } of servers.splice(0)) {
    front.close();
    front.destroyAll();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** A node:http server whose connections go through a LeanFront, wired as the gateway wires it. */
async function startFront(
  answer: (exchange: Exchange) => void,
  options: Partial<LeanFrontOptions> = {},
): Promise<Front> {
  const abandoned: string[] = [];
  const events = new EventEmitter();
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => res.end(`node:${req.method} ${req.url}`));
  });
  const httpListeners = server.listeners("connection") as ((socket: Socket) => void)[];
  server.removeAllListeners("connection");
  const front = new LeanFront({
    serves: (url) => url.startsWith("/function/"),
    handle: (exchange) => {
      exchange.onAbandon(() => {
        abandoned.push(exchange.url);
        events.emit("abandon", exchange.url);
      });
      answer(exchange);
    },
    handOff: (socket) => {
      for (const listener of httpListeners) {
        listener.call(server, socket);
      }
    },
    keepAliveTimeoutMs: 65_000,
    requestReadTimeoutMs: 60_000,
    ...options,
  });
  server.on("connection", (socket: Socket) => {
    // Called just before the front's listener, and gone before it runs (so a connection handed
    // off has none but node:http's): whoever awaits nextRead() resumes once the front has
    // taken the bytes.
    socket.once("data", () => events.emit("read"));
    front.accept(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  servers.push({ server, front });
  return {
    port: (server.address() as AddressInfo).port,
    front,
    abandoned,
    nextRead: () => once(events, "read").then(() => undefined),
    nextAbandon: () => once(events, "abandon").then(([url]) => url as string),
  };
}

const echo = (exchange: Exchange): void => {
  void (async () => {
    const body = exchange.body(1 << 20);
    // A body not all in when the call starts comes through a reader, as the router calls it.
    const bytes = typeof body === "function" ? await body(new CallController()) : body;
    const text = Buffer.isBuffer(bytes) ? bytes.toString() : "";
    exchange.send(
      200,
      { "content-type": "text/plain" },
      `lean:${exchange.method} ${exchange.url} ${text}`,
    );
  })();
};

/** Sends `data` and collects what comes back until `done(text)` or the connection closes. */
async function exchangeRaw(
  port: number,
  data: string | string[],
  done: (text: string) => boolean = () => false,
): Promise<{ text: string; closed: boolean }> {
  const socket = connect(port, "127.0.0.1");
  let text = "";
  return new Promise((resolve, reject) => {
    socket.on("error", reject);
    socket.on("data", (chunk: Buffer) => {
      text += chunk.toString("latin1");
      if (done(text)) {
        socket.destroy();
        resolve({ text, closed: false });
      }
    });
    socket.on("close", () => resolve({ text, closed: true }));
    socket.on("connect", async () => {
      for (const part of Array.isArray(data) ? data : [data]) {
        socket.write(part);
        await new Promise((r) => setTimeout(r, 5));
      }
    });
  });
}

const count = (text: string, needle: string): number => text.split(needle).length - 1;

/**
 * `promise`, or a failure if it takes more than a few real seconds: what the front does once
 * fed time has passed its timeouts (a minute) must not wait for real time to pass them.
 */
function soon<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`waited too long for ${what}`)), 5000);
    }),
  ]);
}

describe("the gateway's lean front", () => {
  it("answers pipelined calls in order and hands the connection to node:http at the first other request", async () => {
    const { port } = await startFront(echo);
    const requests =
      "GET /function/a HTTP/1.1\r\nHost: h\r\n\r\n" +
      "POST /function/b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello" +
      "GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n" +
      // After the hand-off node:http reads everything, calls included.
      "GET /function/c HTTP/1.1\r\nHost: h\r\n\r\n";
    const { text } = await exchangeRaw(port, requests, (t) => t.includes("node:GET /function/c"));
    const order = [
      "lean:GET /function/a ",
      "lean:POST /function/b hello",
      "node:GET /healthz",
      "node:GET /function/c",
    ];
    const positions = order.map((needle) => text.indexOf(needle));
    expect(positions.every((p) => p !== -1)).toBe(true);
    expect([...positions].sort((x, y) => x - y)).toEqual(positions);
    expect(count(text, "HTTP/1.1 200 OK")).toBe(4);
  });

  it("reads a request that arrives a few bytes at a time", async () => {
    const { port } = await startFront(echo);
    const request = "POST /function/slow HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc";
    const parts = request.match(/.{1,4}/gs) ?? [];
    const { text } = await exchangeRaw(port, parts, (t) => t.includes("abc"));
    expect(text).toContain("lean:POST /function/slow abc");
  });

  it("gives node:http what is not the plain shape: a chunked body, HEAD, a malformed head", async () => {
    const { port } = await startFront(echo);
    const chunked = await exchangeRaw(
      port,
      "POST /function/a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
      (t) => t.includes("node:POST"),
    );
    expect(chunked.text).toContain("node:POST /function/a");
    const head = await exchangeRaw(port, "HEAD /function/a HTTP/1.1\r\nHost: h\r\n\r\n", (t) =>
      t.includes("\r\n\r\n"),
    );
    expect(head.text).toMatch(/^HTTP\/1.1 200 OK/);
    const folded = await exchangeRaw(
      port,
      "GET /function/a HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n folded\r\n\r\n",
    );
    expect(folded.text).toMatch(/^HTTP\/1.1 400 Bad Request/);
    const prototypeName = await exchangeRaw(
      port,
      "GET /function/a HTTP/1.1\r\nHost: h\r\nconstructor: x\r\n\r\n",
      (t) => t.includes("node:GET"),
    );
    expect(prototypeName.text).toContain("node:GET /function/a");
  });

  // Requests that smuggle or confuse: none may be answered by the front, and node:http refuses
  // each once, then closes the connection (no second request hidden in the first).
  const refused: [string, string][] = [
    [
      "Content-Length and Transfer-Encoding",
      "POST /function/a HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /function/hidden HTTP/1.1\r\nHost: h\r\n\r\n",
    ],
    [
      "two different Content-Lengths",
      "POST /function/a HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\nGET /function/hidden HTTP/1.1\r\nHost: h\r\n\r\n",
    ],
    [
      "a space before a header's colon",
      "POST /function/a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\nContent-Length: 4\r\n\r\nabcd",
    ],
    [
      "a Content-Length too large to be a number",
      "POST /function/a HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n",
    ],
    [
      "a negative Content-Length",
      "POST /function/a HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n",
    ],
    ["a NUL in a header", "GET /function/a HTTP/1.1\r\nHost: h\r\nX-A: a\u0000b\r\n\r\n"],
    ["a bare CR in a header", "GET /function/a HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\n\r\n"],
  ];
  for (const [what, request] of refused) {
    it(`leaves a request with ${what} to node:http, which refuses it`, async () => {
      const { port } = await startFront(echo);
      const { text, closed } = await exchangeRaw(port, request);
      expect(closed).toBe(true);
      expect(text).toMatch(/^HTTP\/1.1 400 Bad Request/);
      expect(count(text, "HTTP/1.1 ")).toBe(1);
      expect(text).not.toContain("lean:");
      expect(text).not.toContain("hidden");
    });
  }

  it("gives node:http a request whose lines end in a bare LF at once", async () => {
    const { port } = await startFront(echo);
    const { text } = await exchangeRaw(port, "GET /function/a HTTP/1.1\nHost: h\n\n", (t) =>
      t.includes("\r\n\r\n"),
    );
    // Whatever node:http makes of it, the front did not sit on it until the read timeout.
    expect(text).toMatch(/^HTTP\/1.1 (200|400)/);
    expect(text).not.toContain("lean:");
  });

  it("closes after the answer when the client asks", async () => {
    const { port } = await startFront(echo);
    const { text, closed } = await exchangeRaw(
      port,
      "GET /function/a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\nGET /function/never HTTP/1.1\r\nHost: h\r\n\r\n",
    );
    expect(closed).toBe(true);
    expect(text).toContain("Connection: close");
    expect(text).toContain("lean:GET /function/a");
    expect(text).not.toContain("never");
  });

  it("answers 408 to a request whose head never finishes, once its read timeout has passed on the front's clock", async () => {
    const clock = new ManualClock();
    const readTimeoutMs = 60_000;
    const { port, nextRead } = await startFront(echo, {
      clock,
      requestReadTimeoutMs: readTimeoutMs,
    });
    const read = nextRead();
    const partial = exchangeRaw(port, "GET /function/a HTTP/1.1\r\nHost: h\r\n");
    let closed = false;
    void partial.then(() => (closed = true));
    await read;
    // Never early: the stamps lag by up to a sweep, so the timeout allows one more.
    await clock.advance(readTimeoutMs + sweepIntervalMs);
    expect(closed).toBe(false);
    await clock.advance(sweepIntervalMs);
    const answer = await soon(partial, "the answer");
    expect(answer.closed).toBe(true);
    expect(answer.text).toMatch(/^HTTP\/1.1 408 Request Timeout/);
    expect(answer.text).toContain('"code":"RUNLET_REQUEST_TIMEOUT"');
  });

  it("fails the body read of a call whose declared body never all arrives, once its read timeout has passed", async () => {
    const clock = new ManualClock();
    const readTimeoutMs = 60_000;
    const failures: unknown[] = [];
    const awaitBody = (exchange: Exchange): void => {
      const body = exchange.body(1 << 20);
      if (typeof body !== "function") {
        exchange.send(200, {}, "whole");
        return;
      }
      body(new CallController()).then(
        () => exchange.send(200, {}, "arrived"),
        (error: unknown) => {
          failures.push(error);
          exchange.send(408, { "content-type": "text/plain" }, "body timed out");
        },
      );
    };
    const { port, nextRead } = await startFront(awaitBody, {
      clock,
      requestReadTimeoutMs: readTimeoutMs,
    });
    const read = nextRead();
    const partial = exchangeRaw(
      port,
      "POST /function/a HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc",
    );
    await read;
    await clock.advance(readTimeoutMs + sweepIntervalMs);
    expect(failures).toEqual([]);
    await clock.advance(sweepIntervalMs);
    const answer = await soon(partial, "the answer");
    expect(failures).toHaveLength(1);
    expect(failures[0]).toBeInstanceOf(RequestTimeout);
    expect(answer.text).toMatch(/^HTTP\/1.1 408 /);
    // Answered before the body was all in: the connection is not reused.
    expect(answer.closed).toBe(true);
  });

  it("closes a keep-alive connection idle past its timeout on the front's clock, not before", async () => {
    const clock = new ManualClock();
    const keepAliveTimeoutMs = 65_000;
    const { port } = await startFront(echo, { clock, keepAliveTimeoutMs });
    const socket = connect(port, "127.0.0.1");
    let text = "";
    socket.on("data", (chunk: Buffer) => (text += chunk.toString("latin1")));
    const closed = once(socket, "close");
    let isClosed = false;
    void closed.then(() => (isClosed = true));
    socket.write("GET /function/a HTTP/1.1\r\nHost: h\r\n\r\n");
    await once(socket, "data");
    expect(text).toContain("lean:GET /function/a");
    expect(text).toContain("Keep-Alive: timeout=65");
    await clock.advance(keepAliveTimeoutMs + sweepIntervalMs);
    expect(isClosed).toBe(false);
    await clock.advance(sweepIntervalMs);
    await soon(closed, "the connection to close");
    expect(isClosed).toBe(true);
  });

  it("tells the call when its caller goes, and counts calls in flight", async () => {
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const front = await startFront(() => started());
    const socket = connect(front.port, "127.0.0.1");
    socket.write("GET /function/hang HTTP/1.1\r\nHost: h\r\n\r\n");
    await running;
    expect(front.front.inFlight).toBe(1);
    const abandon = front.nextAbandon();
    socket.destroy();
    expect(await abandon).toBe("/function/hang");
    expect(front.abandoned).toEqual(["/function/hang"]);
    expect(front.front.inFlight).toBe(0);
  });

  it("streams an answer with chunked framing an HTTP client reads back whole", async () => {
    const { port } = await startFront((exchange) => {
      void exchange.stream(
        200,
        { "content-type": "text/plain" },
        Readable.from([Buffer.from("one "), Buffer.from("two "), Buffer.from("three")]),
      );
    });
    for (let i = 0; i < 2; i++) {
      const response = await fetch(`http://127.0.0.1:${port}/function/stream`);
      expect(response.headers.get("transfer-encoding")).toBe("chunked");
      expect(await response.text()).toBe("one two three");
    }
  });
});
