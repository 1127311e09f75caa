/**
 * `runlet invoke` sends the token only to functions that need it (issue 13): a public
 * function is somebody's code, and it never gets the admin token from the CLI.
 */
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it, onTestFinished } from "vitest";
import { runCli } from "../helpers/cli.js";
import { adminToken, startTestRunlet, tempDir } from "../helpers/runlet.js";

const echo = `export default async function (event) {
  return { statusCode: 200, headers: { "content-type": "application/json" }, body: JSON.stringify(event.headers) };
}
`;

/** A stand-in gateway on loopback: says which functions need auth, records what calls carry. */
async function recordingGateway(): Promise<{
  url: string;
  calls: Map<string, IncomingHttpHeaders>;
}> {
  const calls = new Map<string, IncomingHttpHeaders>();
  const server = createServer((req, res) => {
    req.resume();
    const url = req.url ?? "";
    const described = /^\/api\/v1\/functions\/(\w+)$/.exec(url);
    if (described) {
      const auth = described[1] === "locked" ? "required" : "public";
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ name: described[1], config: { auth } }));
      return;
    }
    calls.set(url.split("?")[0] ?? url, req.headers);
    const async = url.startsWith("/async-function/");
    res.writeHead(async ? 202 : 200, { "content-type": "application/json" });
    res.end(async ? JSON.stringify({ callId: "c-1" }) : "{}");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls };
}

describe("runlet invoke and the admin token", () => {
  it("sends the token with calls to auth: required functions only, sync and async", async () => {
    const gateway = await recordingGateway();
    const cwd = await tempDir("runlet-cli-");
    const env = { RUNLET_GATEWAY: gateway.url, RUNLET_TOKEN: adminToken };
    for (const argv of [
      ["invoke", "open"],
      ["invoke", "open", "--async", "--data", "x"],
      ["invoke", "locked"],
      ["invoke", "locked", "--async", "--data", "x"],
    ]) {
      const result = await runCli(argv, { cwd, env });
      expect(result.code, `${argv.join(" ")}: ${result.stderr}`).toBe(0);
    }
    expect(gateway.calls.get("/function/open")?.authorization).toBeUndefined();
    expect(gateway.calls.get("/async-function/open")?.authorization).toBeUndefined();
    expect(gateway.calls.get("/function/locked")?.authorization).toBe(`Bearer ${adminToken}`);
    expect(gateway.calls.get("/async-function/locked")?.authorization).toBe(`Bearer ${adminToken}`);
  });

  it("keeps the token from a public function, calls a locked one, and keeps the caller's own header", async () => {
    const runlet = await startTestRunlet({ sandbox: "none" });
    expect((await runlet.deploy("open", { "index.js": echo })).status).toBe(201);
    expect((await runlet.deploy("locked", { "index.js": echo }, { auth: "required" })).status).toBe(
      201,
    );
    const cwd = await tempDir("runlet-cli-");
    const env = { RUNLET_GATEWAY: runlet.url, RUNLET_TOKEN: adminToken };
    const open = await runCli(["invoke", "open"], { cwd, env });
    expect(open.code).toBe(0);
    expect(open.stdout).not.toContain(adminToken);
    expect((JSON.parse(open.stdout) as IncomingHttpHeaders).authorization).toBeUndefined();

    const locked = await runCli(["invoke", "locked"], { cwd, env });
    expect(locked.code, locked.stderr).toBe(0);
    expect(locked.stdout).not.toContain(adminToken);

    const own = await runCli(["invoke", "open", "-H", "Authorization: Bearer fn-own-token"], {
      cwd,
      env,
    });
    expect((JSON.parse(own.stdout) as IncomingHttpHeaders).authorization).toBe(
      "Bearer fn-own-token",
    );
  });
});
