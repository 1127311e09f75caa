/**
 * Async callbacks go only to addresses the policy allows (issue 13). Addresses off loopback
 * are judged by the pure policy alone; everything that opens a socket targets 127.0.0.0/8 or
 * ::1, and the servers a refused callback would have reached must receive nothing.
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it, onTestFinished } from "vitest";
import { CallbackAddressPolicy, parseAllowList } from "../../src/calls/callback-address.js";
import { callbackDispatcher, deliverCallback, type ResolveHost } from "../../src/calls/callback.js";
import { PlatformCredentials } from "../../src/router/credentials.js";
import type { DueCallback } from "../../src/store/call-store.js";
import { adminToken, eventually, startTestRunlet } from "../helpers/runlet.js";

interface Received {
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
}

/** A real HTTP server on `host`, port 0, recording every request; `answer` picks the reply. */
async function receiver(
  host = "127.0.0.1",
  answer: (res: ServerResponse) => void = (res) => res.writeHead(200).end(),
): Promise<{ port: number; received: Received[]; connections: () => number }> {
  const received: Received[] = [];
  let connections = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      received.push({ url: req.url ?? "", headers: req.headers });
      answer(res);
    });
  });
  server.on("connection", () => {
    connections += 1;
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return {
    port: (server.address() as AddressInfo).port,
    received,
    connections: () => connections,
  };
}

function due(url: string, headers: Record<string, string> = {}): DueCallback {
  return {
    id: "call-1",
    functionName: "fn",
    url,
    attempts: 0,
    state: "succeeded",
    statusCode: 200,
    durationMs: 1,
    result: { headers, body: Buffer.from("result"), size: 6, truncated: false },
  };
}

describe("the callback address policy", () => {
  const policy = new CallbackAddressPolicy();

  it("refuses loopback, private, link-local, CGNAT, unspecified, multicast and metadata addresses", () => {
    const refused: Record<string, string> = {
      "127.0.0.1": "loopback",
      "127.255.1.2": "loopback",
      "10.0.0.1": "private",
      "172.16.0.1": "private",
      "172.31.255.255": "private",
      "192.168.1.1": "private",
      "100.64.0.1": "carrier-grade NAT",
      "169.254.169.254": "cloud metadata",
      "169.254.1.1": "link-local",
      "0.0.0.0": "unspecified",
      "224.0.0.1": "multicast",
      "255.255.255.255": "broadcast",
      "240.0.0.1": "reserved",
      "::1": "loopback",
      "::": "unspecified",
      "::ffff:127.0.0.1": "loopback",
      "::ffff:7f00:1": "loopback",
      "::ffff:10.0.0.1": "private",
      "::ffff:169.254.169.254": "cloud metadata",
      "fc00::1": "unique local",
      "fd00:ec2::254": "unique local",
      "fe80::1": "link-local",
      "fe80::1%eth0": "link-local",
      "ff02::1": "multicast",
      "64:ff9b::7f00:1": "loopback",
      "64:ff9b::a9fe:a9fe": "cloud metadata",
      "2002:7f00:1::1": "loopback",
      "2002:c0a8:101::1": "private",
      // Numeric spellings of 127.0.0.1 that resolvers and URL parsers accept.
      "0x7f000001": "loopback",
      "2130706433": "loopback",
      "127.1": "loopback",
      "017700000001": "loopback",
      "0x7f.0.0.1": "loopback",
    };
    for (const [address, words] of Object.entries(refused)) {
      expect(policy.refusal(address), address).toContain(words);
    }
  });

  it("allows public unicast addresses, also through NAT64 and IPv4-mapped forms", () => {
    for (const address of [
      "8.8.8.8",
      "1.1.1.1",
      "93.184.216.34",
      "2606:4700:4700::1111",
      "::ffff:8.8.8.8",
      "64:ff9b::808:808",
    ]) {
      expect(policy.refusal(address), address).toBeUndefined();
    }
  });

  it("judges a URL by its literal host in every spelling, and leaves names for delivery", () => {
    for (const url of [
      "http://127.0.0.1:9/",
      "http://0x7f000001/",
      "http://2130706433/",
      "http://127.1/",
      "http://017700000001/",
      "http://[::1]/",
      "http://[::ffff:127.0.0.1]/",
      "https://[fd00::1]/",
      "http://[fe80::1]/",
      "http://169.254.169.254/latest/meta-data/",
      "http://10.0.0.1/",
    ]) {
      expect(policy.refusalOfUrl(new URL(url)), url).toBeDefined();
    }
    expect(policy.refusalOfUrl(new URL("https://example.com/hook"))).toBeUndefined();
    expect(policy.refusalOfUrl(new URL("http://localhost:9/"))).toBeUndefined();
  });

  it("allows what the allow-list names, and only that", () => {
    const allowing = new CallbackAddressPolicy(parseAllowList("127.0.0.1/32, 10.1.0.0/16 ::1"));
    expect(allowing.refusal("127.0.0.1")).toBeUndefined();
    expect(allowing.refusal("::ffff:127.0.0.1")).toBeUndefined();
    expect(allowing.refusal("10.1.200.3")).toBeUndefined();
    expect(allowing.refusal("::1")).toBeUndefined();
    expect(allowing.refusal("127.0.0.2")).toContain("loopback");
    expect(allowing.refusal("10.2.0.1")).toContain("private");
    expect(() => new CallbackAddressPolicy(["not-a-range"])).toThrow(/not an IP address or CIDR/);
  });
});

describe("callback delivery", () => {
  const credentials = new PlatformCredentials([adminToken]);

  it("connects to the address it checked: a name that re-resolves elsewhere cannot rebind", async () => {
    const target = await receiver("127.0.0.1");
    const policy = new CallbackAddressPolicy(["127.0.0.1/32"]);
    let lookups = 0;
    // First answer allowed; every later one a refused address. A check that resolved on its
    // own, before a connection that resolved again, would connect to 127.0.0.2.
    const resolve: ResolveHost = async () => {
      lookups += 1;
      return [{ address: lookups === 1 ? "127.0.0.1" : "127.0.0.2", family: 4 }];
    };
    const dispatcher = callbackDispatcher(policy, resolve);
    onTestFinished(() => dispatcher.destroy());
    const outcome = await deliverCallback(
      due(`http://rebind.test:${target.port}/hook`),
      AbortSignal.timeout(5000),
      { policy, dispatcher, credentials },
    );
    expect(outcome).toMatchObject({ delivered: true, refused: false, status: 200 });
    expect(lookups).toBe(1);
    expect(target.received).toHaveLength(1);
    // TLS and virtual hosts still see the name the URL gave.
    expect(target.received[0]?.headers.host).toBe(`rebind.test:${target.port}`);
  });

  it("refuses a name that resolves to a refused address before connecting", async () => {
    const target = await receiver("127.0.0.2");
    const policy = new CallbackAddressPolicy(["127.0.0.1/32"]);
    const dispatcher = callbackDispatcher(policy, async () => [
      { address: "127.0.0.1", family: 4 },
      { address: "127.0.0.2", family: 4 },
    ]);
    onTestFinished(() => dispatcher.destroy());
    const outcome = await deliverCallback(
      due(`http://mixed.test:${target.port}/hook`),
      AbortSignal.timeout(5000),
      { policy, dispatcher, credentials },
    );
    expect(outcome.delivered).toBe(false);
    expect(outcome.refused).toBe(true);
    expect(outcome.error).toContain("mixed.test resolves to 127.0.0.2 is a loopback address");
    expect(outcome.error).toContain("--callback-allow 127.0.0.2/32");
    expect(target.connections()).toBe(0);
  });

  it("does not follow a redirect, and sends no credential header to the target", async () => {
    const elsewhere = await receiver("127.0.0.1");
    const target = await receiver("127.0.0.1", (res) =>
      res.writeHead(302, { location: `http://127.0.0.1:${elsewhere.port}/stolen` }).end(),
    );
    const policy = new CallbackAddressPolicy(["127.0.0.1/32"]);
    const dispatcher = callbackDispatcher(policy);
    onTestFinished(() => dispatcher.destroy());
    const outcome = await deliverCallback(
      due(`http://127.0.0.1:${target.port}/hook`, {
        "content-type": "text/plain",
        authorization: "Bearer fn-own-token",
        "set-cookie": "session=fn-cookie",
        "x-leak": `Bearer ${adminToken}`,
      }),
      AbortSignal.timeout(5000),
      { policy, dispatcher, credentials },
    );
    expect(outcome).toMatchObject({ delivered: false, refused: false, status: 302 });
    expect(elsewhere.connections()).toBe(0);
    const headers = target.received[0]?.headers ?? {};
    expect(headers["content-type"]).toBe("text/plain");
    expect(headers["x-call-id"]).toBe("call-1");
    expect(JSON.stringify(headers)).not.toContain("fn-own-token");
    expect(JSON.stringify(headers)).not.toContain("fn-cookie");
    expect(JSON.stringify(headers)).not.toContain(adminToken);
  });
});

describe("callbacks through a real Runlet", () => {
  const handler = `export default async function (event) {
    return { statusCode: 200, headers: { authorization: event.headers.authorization ?? "none" }, body: "done" };
  }`;

  it("refuses a literal loopback callback URL in any spelling with a 400, storing nothing", async () => {
    const target = await receiver("127.0.0.1");
    const runlet = await startTestRunlet({ sandbox: "none" });
    expect((await runlet.deploy("job", { "index.js": handler })).status).toBe(201);
    for (const host of [
      "127.0.0.1",
      "0x7f000001",
      "2130706433",
      "127.1",
      "[::ffff:127.0.0.1]",
      "[::1]",
    ]) {
      const response = await fetch(`${runlet.url}/async-function/job`, {
        method: "POST",
        headers: { "x-callback-url": `http://${host}:${target.port}/hook` },
        body: "x",
      });
      expect(response.status, host).toBe(400);
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe("RUNLET_INVALID_REQUEST");
      expect(body.error.message).toContain("loopback address");
      expect(body.error.message).toContain("--callback-allow");
    }
    expect(await runlet.platform.calls.list()).toEqual([]);
    expect(target.connections()).toBe(0);
  });

  it("refuses at delivery a name that resolves to loopback, records why, and sends nothing", async () => {
    const target = await receiver("127.0.0.1");
    const runlet = await startTestRunlet({ sandbox: "none" });
    expect((await runlet.deploy("job", { "index.js": handler })).status).toBe(201);
    const response = await fetch(`${runlet.url}/async-function/job`, {
      method: "POST",
      headers: { "x-callback-url": `http://localhost:${target.port}/hook` },
      body: "x",
    });
    expect(response.status).toBe(202);
    const id = response.headers.get("x-call-id") ?? "";
    const call = await eventually(
      async () => {
        const current = (await (await runlet.api(`/api/v1/calls/${id}`)).json()) as {
          state: string;
          callback?: { state?: string; attempts: number; error?: string };
        };
        return current.callback?.state === "failed" ? current : undefined;
      },
      { what: "the callback to be given up" },
    );
    expect(call.state).toBe("succeeded");
    // Refused once, not retried: the address will not change its class.
    expect(call.callback?.attempts).toBe(1);
    expect(call.callback?.error).toMatch(
      /refused, nothing was sent: localhost resolves to .*loopback/,
    );
    expect(target.connections()).toBe(0);
  });

  it("delivers to an allowed address without the call's or the function's Authorization", async () => {
    const target = await receiver("127.0.0.1");
    const runlet = await startTestRunlet({
      sandbox: "none",
      calls: { callbackAllow: ["127.0.0.1/32"] },
    });
    expect((await runlet.deploy("job", { "index.js": handler })).status).toBe(201);
    const response = await fetch(`${runlet.url}/async-function/job`, {
      method: "POST",
      headers: {
        "x-callback-url": `http://127.0.0.1:${target.port}/hook`,
        authorization: "Bearer fn-own-token",
      },
      body: "x",
    });
    expect(response.status).toBe(202);
    await eventually(() => (target.received.length > 0 ? true : undefined), {
      what: "the callback",
    });
    const id = response.headers.get("x-call-id") ?? "";
    // The function got its own token (it echoed it in a response header)…
    expect((await runlet.platform.calls.get(id))?.result?.headers.authorization).toBe(
      "Bearer fn-own-token",
    );
    // …and the callback target got neither that header nor the token.
    expect(JSON.stringify(target.received[0]?.headers)).not.toContain("fn-own-token");
  });
});
