/**
 * No platform credential reaches a function (issue 13): a function that echoes and logs its
 * headers and environment is called with the admin token in every form a client sends it, on
 * every way into a function, and the token is looked for in everything the function could
 * have seen or left behind. A function's own Authorization still reaches it.
 */
import { readFile, readdir } from "node:fs/promises";
import { createServer, request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { headers as natsHeaders } from "nats";
import { describe, expect, it, onTestFinished } from "vitest";
import { startTestNats } from "../helpers/nats.js";
import { adminToken, eventually, startTestRunlet, type TestRunlet } from "../helpers/runlet.js";

const echo = `export default async function (event) {
  console.log("headers " + JSON.stringify(event.headers));
  return {
    statusCode: 200,
    headers: { "content-type": "application/json", "x-seen-authorization": event.headers.authorization ?? "none" },
    body: JSON.stringify({ headers: event.headers, env: process.env }),
  };
}
`;

const basic = (user: string): string =>
  `Basic ${Buffer.from(`${user}:${adminToken}`).toString("base64")}`;

/** Every spelling of the admin token a client may put in Authorization. */
const platformAuthorizations = [
  `Bearer ${adminToken}`,
  `bearer   ${adminToken}`,
  basic("admin"),
  basic("someone"),
  adminToken,
  `Token ${adminToken}`,
];

/** The token and its Basic forms, as they would appear in any text or file. */
const tokenForms = [adminToken, basic("admin").slice(6), basic("someone").slice(6)];

function expectNoToken(text: string, where: string): void {
  for (const form of tokenForms) {
    expect(text.includes(form), `${where} holds ${form}`).toBe(false);
  }
}

async function expectNoTokenAnywhere(runlet: TestRunlet, names: string[]): Promise<void> {
  runlet.platform.logs.flush();
  for (const name of names) {
    const logs = await runlet.api(`/api/v1/functions/${name}/logs?tail=1000`);
    expect(logs.status).toBe(200);
    expectNoToken(await logs.text(), `logs of ${name}`);
  }
  for (const file of await readdir(runlet.dataDir)) {
    if (file.startsWith("runlet.db")) {
      expectNoToken((await readFile(join(runlet.dataDir, file))).toString("latin1"), file);
    }
  }
}

async function callbackReceiver(): Promise<{ url: string; bodies: string[] }> {
  const bodies: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      bodies.push(JSON.stringify(req.headers) + Buffer.concat(chunks).toString());
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, bodies };
}

/** A chunked POST: node:http reads it (the lean front takes only declared lengths). */
function chunkedPost(url: string, authorization: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: "POST", headers: { authorization, "transfer-encoding": "chunked" } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => resolve(Buffer.concat(chunks).toString()));
      },
    );
    req.on("error", reject);
    req.write("part one,");
    req.end("part two");
  });
}

describe("platform credentials never reach a function", () => {
  it("strips the admin token on sync, chunked, OpenFaaS, route and auth-required calls", async () => {
    const runlet = await startTestRunlet({ sandbox: "none" });
    expect(
      (await runlet.deploy("echo", { "index.js": echo }, { triggers: [{ http: "ANY /hooks/*" }] }))
        .status,
    ).toBe(201);
    expect((await runlet.deploy("locked", { "index.js": echo }, { auth: "required" })).status).toBe(
      201,
    );
    for (const authorization of platformAuthorizations) {
      const answers = [
        // The lean front's path.
        await fetch(`${runlet.url}/function/echo`, { headers: { authorization } }),
        // The OpenFaaS form of the name.
        await fetch(`${runlet.url}/function/echo.openfaas-fn/sub`, {
          method: "POST",
          headers: { authorization },
          body: "x",
        }),
        // An HTTP trigger route.
        await fetch(`${runlet.url}/hooks/a`, { method: "PUT", headers: { authorization } }),
        // A function that needs the token: the token lets the call in, and stops there.
        ...(authorization === `Bearer ${adminToken}` || authorization === basic("admin")
          ? [await fetch(`${runlet.url}/function/locked`, { headers: { authorization } })]
          : []),
      ];
      for (const answer of answers) {
        expect(answer.status, authorization).toBe(200);
        expect(answer.headers.get("x-seen-authorization")).toBe("none");
        expectNoToken(await answer.text(), `answer to ${authorization}`);
      }
      // node:http's path (a chunked body).
      expectNoToken(await chunkedPost(`${runlet.url}/function/echo`, authorization), "chunked");
    }
    // Proxy-Authorization is for one hop only, never the function's.
    const proxied = await fetch(`${runlet.url}/function/echo`, {
      headers: { "proxy-authorization": `Bearer ${adminToken}` },
    });
    expectNoToken(await proxied.text(), "proxy-authorization");
    await expectNoTokenAnywhere(runlet, ["echo", "locked"]);
  });

  it("keeps it out of async calls: the call, its record, its callback and the database", async () => {
    const runlet = await startTestRunlet({
      sandbox: "none",
      calls: { callbackAllow: ["127.0.0.1/32"] },
    });
    expect((await runlet.deploy("echo", { "index.js": echo })).status).toBe(201);
    const hook = await callbackReceiver();
    const ids: string[] = [];
    for (const authorization of platformAuthorizations) {
      const response = await fetch(`${runlet.url}/async-function/echo`, {
        method: "POST",
        headers: { authorization, "x-callback-url": hook.url },
        body: "x",
      });
      expect(response.status).toBe(202);
      ids.push(response.headers.get("x-call-id") ?? "");
    }
    await eventually(
      async () => {
        const calls = await Promise.all(ids.map((id) => runlet.platform.calls.get(id)));
        return calls.every((call) => call?.callback?.state === "delivered") ? true : undefined;
      },
      { what: "every callback" },
    );
    for (const id of ids) {
      const record = await runlet.api(`/api/v1/calls/${id}`);
      const text = await record.text();
      expect(JSON.parse(text)).toMatchObject({ state: "succeeded" });
      expectNoToken(text, `GET /api/v1/calls/${id}`);
    }
    for (const body of hook.bodies) {
      expectNoToken(body, "a callback");
    }
    await expectNoTokenAnywhere(runlet, ["echo"]);
  });

  it("keeps it out of calls from NATS messages", async () => {
    const nats = await startTestNats();
    const runlet = await startTestRunlet({ sandbox: "none", natsUrl: nats.url });
    expect(
      (await runlet.deploy("echo", { "index.js": echo }, { triggers: [{ nats: "jobs.echo" }] }))
        .status,
    ).toBe(201);
    const client = await nats.connect();
    const sent = natsHeaders();
    sent.set("Authorization", `Bearer ${adminToken}`);
    const reply = await eventually(
      async () => {
        try {
          return await client.request("jobs.echo", "x", { headers: sent, timeout: 2000 });
        } catch {
          return undefined; // the subscription is not up yet
        }
      },
      { what: "a reply from the NATS trigger" },
    );
    const text = new TextDecoder().decode(reply.data);
    expect(text).toContain("headers");
    expectNoToken(text, "the reply");
    await expectNoTokenAnywhere(runlet, ["echo"]);
  });

  it("passes a function's own Authorization on, sync and async", async () => {
    const runlet = await startTestRunlet({ sandbox: "none" });
    expect((await runlet.deploy("echo", { "index.js": echo })).status).toBe(201);
    const sync = await fetch(`${runlet.url}/function/echo`, {
      headers: { authorization: "Bearer fn-own-token" },
    });
    expect(sync.headers.get("x-seen-authorization")).toBe("Bearer fn-own-token");
    const response = await fetch(`${runlet.url}/async-function/echo`, {
      method: "POST",
      headers: { authorization: "Bearer fn-own-token" },
      body: "x",
    });
    const id = response.headers.get("x-call-id") ?? "";
    const done = await eventually(async () => {
      const call = await runlet.platform.calls.get(id);
      return call?.state === "succeeded" ? call : undefined;
    });
    expect(done.result?.headers["x-seen-authorization"]).toBe("Bearer fn-own-token");
  });
});
