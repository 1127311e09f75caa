/**
 * `runlet up` as a user runs it (issue 13): it makes a data dir other users can read private
 * and says so, and delivers async callbacks to loopback only when --callback-allow (or
 * RUNLET_CALLBACK_ALLOW) allows it.
 */
import { chmod, mkdir, stat } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { packDirectory } from "../../src/packaging/pack.js";
import { startServer, type RunningServer } from "../helpers/binary.js";
import { adminToken, eventually, tempDir, writeSource } from "../helpers/runlet.js";

async function deployJob(server: RunningServer): Promise<void> {
  const auth = { authorization: `Bearer ${adminToken}` };
  const packed = await packDirectory(
    await writeSource({ "index.js": "export default async () => 'done'" }),
  );
  const upload = await fetch(`${server.url}/api/v1/packages`, {
    method: "POST",
    headers: { ...auth, "content-type": "application/gzip" },
    body: packed.archive,
  });
  expect(upload.status).toBeLessThan(300);
  const deployed = await fetch(`${server.url}/api/v1/functions/job`, {
    method: "PUT",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify({ runtime: "node", package: packed.digest }),
  });
  expect(deployed.status).toBe(201);
}

async function hookServer(): Promise<{ url: string; hits: () => number }> {
  let hits = 0;
  const server = createServer((req, res) => {
    req.resume();
    hits += 1;
    res.writeHead(200).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    hits: () => hits,
  };
}

describe("runlet up and what it keeps private", () => {
  it("fixes a world-readable data dir with a warning, and takes --callback-allow", async () => {
    const dataDir = join(await tempDir("runlet-data-"), "state");
    await mkdir(dataDir, { mode: 0o755 });
    await chmod(dataDir, 0o755);
    const env = { HOME: await tempDir("runlet-home-"), RUNLET_ADMIN_TOKEN: adminToken };
    const base = ["--port", "0", "--no-sandbox", "--pool-size", "0", "--data-dir", dataDir];
    const server = await startServer([...base, "--callback-allow", "127.0.0.1/32"], env);
    const warning = `Warning: the data dir ${dataDir} was readable by other users (mode 0755); it is now 07`;
    // On stderr, which may arrive after stdout's last line.
    await eventually(() => (server.output().includes(warning) ? true : undefined), {
      what: "the warning",
    });
    // Nobody else may read or write it (searching it may stay open to sandbox uids).
    expect((await stat(dataDir)).mode & 0o066).toBe(0);
    await deployJob(server);
    const hook = await hookServer();
    const accepted = await fetch(`${server.url}/async-function/job`, {
      method: "POST",
      headers: { "x-callback-url": hook.url },
      body: "x",
    });
    expect(accepted.status).toBe(202);
    await eventually(() => (hook.hits() > 0 ? true : undefined), { what: "the callback" });
    server.child.kill("SIGTERM");
    await server.exited;

    // Without the allow-list, the same URL is refused when the call is made.
    const strict = await startServer(base, env);
    expect(strict.output()).not.toContain("Warning: the data dir");
    const refused = await fetch(`${strict.url}/async-function/job`, {
      method: "POST",
      headers: { "x-callback-url": hook.url },
      body: "x",
    });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toContain(
      "127.0.0.1 is a loopback address",
    );
    strict.child.kill("SIGTERM");
    await strict.exited;

    // The variable works as the flag does.
    const viaEnv = await startServer(base, { ...env, RUNLET_CALLBACK_ALLOW: "127.0.0.0/8" });
    const allowed = await fetch(`${viaEnv.url}/async-function/job`, {
      method: "POST",
      headers: { "x-callback-url": hook.url },
      body: "x",
    });
    expect(allowed.status).toBe(202);
  });
});
