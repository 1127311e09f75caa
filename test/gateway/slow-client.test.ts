/**
 * Issue 13, items 6 and 8: a caller that declares a body and does not send it all gets a 408
 * and costs the function's instance nothing; a body over the limit is answered 413 and its
 * connection closed, unread. Each test sends the attack over a raw socket to a real Runlet.
 */
import { connect, type Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { sweepIntervalMs } from "../../src/gateway/front/lean-front.js";
import { ManualClock } from "../helpers/manual-clock.js";
import { adminToken, eventually, startTestRunlet, type TestRunlet } from "../helpers/runlet.js";

/** One instance, several calls at once; every answer names the instance that gave it. */
const sharedInstance = `
const instance = crypto.randomUUID();
let waiting;
export default async function (event) {
  if (event.path === "/hold") {
    // Held until the next /hold (or /release) arrives: a chain of these keeps a call in
    // flight on the instance without a gap.
    const previous = waiting;
    const held = new Promise((resolve) => { waiting = resolve; });
    previous?.();
    await held;
    return { statusCode: 200, body: { instance } };
  }
  if (event.path === "/release") {
    waiting?.();
    waiting = undefined;
  }
  return { statusCode: 200, body: { instance, bytes: event.rawBody ? event.rawBody.length : 0 } };
}
`;

interface RawExchange {
  readonly socket: Socket;
  /** Everything the server sent, once it closed the connection. */
  readonly closed: Promise<string>;
  /** Resolves with the text received so far once `pattern` matches it. */
  received(pattern: RegExp): Promise<string>;
}

/** Opens a connection to the gateway and writes `data` on it, and nothing more. */
function rawRequest(url: string, data: string | Buffer): RawExchange {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  let text = "";
  const watchers: { pattern: RegExp; resolve: (text: string) => void }[] = [];
  socket.on("data", (chunk: Buffer) => {
    text += chunk.toString("latin1");
    for (const watcher of watchers.splice(0)) {
      if (watcher.pattern.test(text)) {
        watcher.resolve(text);
      } else {
        watchers.push(watcher);
      }
    }
  });
  socket.on("error", () => undefined); // a reset after the answer is a close here
  const closed = new Promise<string>((resolve) => socket.once("close", () => resolve(text)));
  socket.write(data);
  return {
    socket,
    closed,
    received: (pattern) =>
      pattern.test(text)
        ? Promise.resolve(text)
        : new Promise((resolve) => watchers.push({ pattern, resolve })),
  };
}

function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
    }),
  ]);
}

/** The error body of an answer, whatever its framing (length or chunked). */
function errorOf(text: string): { code: string; message: string } {
  const body = /\{"error".*\}/s.exec(text)?.[0] ?? "{}";
  return (JSON.parse(body) as { error: { code: string; message: string } }).error;
}

async function instanceStatus(
  runlet: TestRunlet,
  name: string,
): Promise<{ coldStarts: number; lastExit: string | undefined }> {
  const fn = (await (await runlet.api(`/api/v1/functions/${name}`)).json()) as {
    instances: { coldStarts: number; lastExit?: string }[];
  };
  return {
    coldStarts: fn.instances.reduce((sum, s) => sum + s.coldStarts, 0),
    lastExit: fn.instances.find((s) => s.lastExit)?.lastExit,
  };
}

const functionTimeoutMs = 1000;

/** The partial requests of the attack, one per way a body reaches the router. */
const partialBodies: readonly {
  readonly path: string;
  readonly head: (host: string) => string;
  /** The lean front's sweep runs on fed time; node:http keeps its own (real) timers. */
  readonly fedTime: boolean;
}[] = [
  {
    // Plain shape, small body: the lean front reads it.
    path: "the lean front, its sweep on fed time",
    head: (host) =>
      `POST /function/shared HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 1000\r\n\r\n0123456789`,
    fedTime: true,
  },
  {
    // A repeated header sends it to node:http, which reads a small body whole.
    path: "node:http, a small body read whole",
    head: (host) =>
      `POST /function/shared HTTP/1.1\r\nHost: ${host}\r\nX-Repeated: 1\r\nX-Repeated: 2\r\nContent-Length: 1000\r\n\r\n0123456789`,
    fedTime: false,
  },
  {
    // Too large for the lean front: node:http streams it to the instance.
    path: "node:http, a streamed body",
    head: (host) =>
      `POST /function/shared HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 1000000\r\n\r\n0123456789`,
    fedTime: false,
  },
];

/** The lean front's read timeout under the default requestTimeoutMs: a minute. */
const leanReadTimeoutMs = 60_000;

describe("a caller that does not send the body it declared", () => {
  for (const { path, head, fedTime } of partialBodies) {
    it(`gets a 408 and costs the instance nothing (${path})`, async () => {
      const clock = new ManualClock();
      const runlet = await startTestRunlet(
        fedTime ? { gatewayClock: clock } : { requestTimeoutMs: 2 * functionTimeoutMs },
      );
      const deployed = await runlet.deploy(
        "shared",
        { "index.js": sharedInstance },
        { timeout: `${functionTimeoutMs}ms`, scale: { min: 1, max: 1, concurrency: 10 } },
      );
      expect(deployed.status).toBe(201);
      if (fedTime) {
        // Its calls time out as the shared function's would: one answered 504 shows that the
        // function's timeout has passed (in real time) since it was called.
        await runlet.deploy(
          "sleeper",
          { "index.js": `export default async () => new Promise(() => {});` },
          { timeout: `${functionTimeoutMs}ms` },
        );
      }
      const call = async (sub: string): Promise<string> => {
        const response = await fetch(`${runlet.url}/function/shared${sub}`);
        const body = (await response.json()) as { instance: string };
        expect(response.status, `${sub}: ${JSON.stringify(body)}`).toBe(200);
        return body.instance;
      };
      const instance = await call("/");
      const before = await instanceStatus(runlet, "shared");

      const started = Date.now();
      const attacker = rawRequest(runlet.url, head(new URL(runlet.url).host));
      let refused = false;
      const answered = attacker
        .received(/\{"error".*\}/s)
        .then((text) => text)
        .finally(() => (refused = true));
      // On fed time the read timeout passes when the test says, and only after the function's
      // timeout has passed in real time: the moment the instance used to die.
      const readTimeout = fedTime
        ? fetch(`${runlet.url}/function/sleeper`).then(async (timedOut) => {
            expect(timedOut.status).toBe(504);
            await clock.advance(leanReadTimeoutMs + 2 * sweepIntervalMs);
          })
        : Promise.resolve();
      // Legitimate calls keep the instance busy until the attacker is answered: one of them
      // is always in flight, also when the function's timeout has passed for the attacker.
      const instances = new Set<string>();
      let held = call("/hold");
      while (!refused && Date.now() - started < 20_000) {
        const next = call("/hold");
        instances.add(await held);
        held = next;
      }
      const text = await withDeadline(answered, 20_000, "the attacker's answer");
      const heldMs = Date.now() - started;
      await readTimeout;
      await call("/release");
      instances.add(await held);

      expect(text).toMatch(/^HTTP\/1.1 408 /);
      expect(errorOf(text).code).toBe("RUNLET_REQUEST_TIMEOUT");
      // The attack lasted past the function's timeout: the moment the instance used to die.
      expect(heldMs).toBeGreaterThanOrEqual(functionTimeoutMs);
      await withDeadline(attacker.closed, 10_000, "the attacker's connection to close");
      expect([...instances]).toEqual([instance]);
      expect(await call("/")).toBe(instance);
      expect(await instanceStatus(runlet, "shared")).toEqual(before);
    });
  }

  it("has the function's timeout start when its body is in (a slow, complete body runs)", async () => {
    const runlet = await startTestRunlet({ requestTimeoutMs: 30_000 });
    await runlet.deploy("shared", { "index.js": sharedInstance }, { timeout: "1s" });
    const attacker = rawRequest(
      runlet.url,
      `POST /function/shared HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\n0123456789`,
    );
    // Waits until the function's timeout would have passed had it started with the head: a
    // call of the same function, started after the head was sent, times out first.
    await runlet.deploy(
      "sleeper",
      { "index.js": `export default async () => new Promise(() => {});` },
      { timeout: "1s" },
    );
    const timedOut = await fetch(`${runlet.url}/function/sleeper`);
    expect(timedOut.status).toBe(504);
    attacker.socket.write("0123456789");
    const text = await withDeadline(attacker.received(/\}$/), 10_000, "the answer");
    expect(text).toMatch(/^HTTP\/1.1 200 /);
    expect(JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4))).toMatchObject({ bytes: 20 });
    attacker.socket.destroy();
  });
});

describe("a body over the limit", () => {
  const cases: readonly {
    readonly what: string;
    readonly head: (host: string) => string;
    /** Body bytes sent after the head, under the limit; the head declares far more. */
    readonly more?: boolean;
  }[] = [
    {
      what: "a function call on the lean front",
      head: (host) =>
        `POST /function/small HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 60000\r\n\r\n`,
      more: true,
    },
    {
      what: "a function call on node:http",
      head: (host) =>
        `POST /function/small HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 1073741824\r\n\r\n`,
      more: true,
    },
    {
      what: "a chunked function call on node:http",
      head: (host) =>
        `POST /function/small HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n${"a".repeat(2048)}\r\n`,
    },
    {
      what: "a package upload",
      head: (host) =>
        `POST /api/v1/packages HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${adminToken}\r\nContent-Type: application/gzip\r\nContent-Length: 1073741824\r\n\r\n`,
      more: true,
    },
    {
      what: "a chunked package upload",
      head: (host) =>
        `POST /api/v1/packages HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${adminToken}\r\nContent-Type: application/gzip\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n${"a".repeat(2048)}\r\n`,
    },
  ];
  for (const { what, head, more } of cases) {
    it(`is answered 413 and its connection closed without reading the rest (${what})`, async () => {
      const runlet = await startTestRunlet({ maxUploadBytes: 1024 });
      await runlet.deploy(
        "small",
        { "index.js": `export default async () => "never";` },
        { maxBody: "1Ki" },
      );
      const attacker = rawRequest(runlet.url, head(new URL(runlet.url).host));
      if (more) {
        attacker.socket.write(Buffer.alloc(1000, 97));
      }
      // The server must end the connection with its answer: not wait for, and read, the
      // rest of what the head declared.
      const text = await withDeadline(attacker.closed, 10_000, "the connection to close");
      expect(text).toMatch(/^HTTP\/1.1 413 /);
      expect(errorOf(text).code).toMatch(/^RUNLET_(BODY|PACKAGE)_TOO_LARGE$/);
      await eventually(async () => (await fetch(`${runlet.url}/healthz`)).ok, {
        what: "the gateway to answer",
      });
    });
  }
});
