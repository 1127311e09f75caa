/**
 * Scoped API tokens (issue 18) over real HTTP against a started platform: each role used as the
 * wrong tenant and the right one (403 naming the missing right, then 2xx), tokens kept only as
 * hashes, Basic auth with the token's name, revocation and expiry, and the CLI that makes them.
 */
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tokenDigest } from "../../src/auth/token-format.js";
import { runCli } from "../helpers/cli.js";
import { adminToken, startTestRunlet, tempDir, type TestRunlet } from "../helpers/runlet.js";

const hello = `export default async () => "hello"`;

async function makeToken(
  runlet: TestRunlet,
  body: Record<string, unknown>,
): Promise<{ token: string; name: string }> {
  const response = await runlet.api("/api/v1/tokens", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(response.status, await response.clone().text()).toBe(201);
  return (await response.json()) as { token: string; name: string };
}

function as(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

async function errorOf(response: Response): Promise<{ code: string; message: string }> {
  return ((await response.json()) as { error: { code: string; message: string } }).error;
}

describe("scoped tokens on the control API", () => {
  it("gives each role its rights and refuses the rest with a 403 that names the missing right", async () => {
    const runlet = await startTestRunlet({ sandbox: "none", poolSize: 0 });
    expect((await runlet.deploy("hello", { "index.js": hello })).status).toBe(201);
    const viewer = await makeToken(runlet, { name: "ci-view", role: "viewer" });
    const deployer = await makeToken(runlet, { name: "ci", role: "deployer", expires: "30d" });
    const invoker = await makeToken(runlet, { name: "caller", role: "invoker" });
    const other = await makeToken(runlet, { name: "team-b", namespace: "team-b", role: "admin" });
    expect(viewer.token).toMatch(/^rlt_[\w-]{43}$/);

    // A viewer reads, and may not deploy, remove, or manage tokens.
    expect(
      (await fetch(`${runlet.url}/api/v1/functions`, { headers: as(viewer.token) })).status,
    ).toBe(200);
    const deploy = await fetch(`${runlet.url}/api/v1/functions/hello`, {
      method: "DELETE",
      headers: as(viewer.token),
    });
    expect(deploy.status).toBe(403);
    expect(await errorOf(deploy)).toEqual({
      code: "RUNLET_FORBIDDEN",
      message:
        "Token ci-view (role viewer, namespace openfaas-fn) may not deploy: deploying needs role deployer or admin.",
    });
    const mint = await fetch(`${runlet.url}/api/v1/tokens`, {
      method: "POST",
      headers: { ...as(viewer.token), "content-type": "application/json" },
      body: JSON.stringify({ name: "mine", role: "admin" }),
    });
    expect(mint.status).toBe(403);
    expect((await errorOf(mint)).message).toContain("managing tokens needs role admin");

    // An invoker calls, and may not even read.
    const read = await fetch(`${runlet.url}/system/functions`, { headers: as(invoker.token) });
    expect(read.status).toBe(403);
    expect((await errorOf(read)).message).toBe(
      "Token caller (role invoker, namespace openfaas-fn) may not view: viewing needs role viewer, deployer or admin.",
    );

    // A deployer deploys (native and OpenFaaS routes) but may not make tokens.
    const scaled = await fetch(`${runlet.url}/api/v1/functions/hello/scale`, {
      method: "POST",
      headers: { ...as(deployer.token), "content-type": "application/json" },
      body: JSON.stringify({ max: 3 }),
    });
    expect(scaled.status).toBe(200);
    const secret = await fetch(`${runlet.url}/system/secrets`, {
      method: "POST",
      headers: { ...as(deployer.token), "content-type": "application/json" },
      body: JSON.stringify({ name: "db", value: "x", namespace: "openfaas-fn" }),
    });
    expect(secret.status).toBe(201);
    const escalate = await fetch(`${runlet.url}/api/v1/tokens`, {
      method: "POST",
      headers: { ...as(deployer.token), "content-type": "application/json" },
      body: JSON.stringify({ name: "root", role: "admin" }),
    });
    expect(escalate.status).toBe(403);

    // A token of another namespace gets nothing here, whatever its role, in query or body.
    for (const [path, init] of [
      ["/api/v1/functions", {}],
      ["/api/v1/functions?namespace=openfaas-fn", {}],
      [
        "/system/secrets",
        {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ name: "db2", value: "x", namespace: "openfaas-fn" }),
        },
      ],
    ] as const) {
      const response = await fetch(`${runlet.url}${path}`, {
        ...init,
        headers: { ...("headers" in init ? init.headers : {}), ...as(other.token) },
      });
      expect(response.status, path).toBe(403);
      const verb = path === "/system/secrets" ? "deploy" : "view";
      expect((await errorOf(response)).message, path).toContain(
        `may not ${verb} in namespace openfaas-fn: it acts only in namespace team-b`,
      );
    }
    // In its own namespace it manages tokens, and not in another.
    const own = await fetch(`${runlet.url}/api/v1/tokens`, {
      method: "POST",
      headers: { ...as(other.token), "content-type": "application/json" },
      body: JSON.stringify({ name: "team-b-ci", namespace: "team-b", role: "deployer" }),
    });
    expect(own.status).toBe(201);
    const foreign = await fetch(`${runlet.url}/api/v1/tokens`, {
      method: "POST",
      headers: { ...as(other.token), "content-type": "application/json" },
      body: JSON.stringify({ name: "sneaky", role: "admin" }),
    });
    expect(foreign.status).toBe(403);
    const listed = (await (
      await fetch(`${runlet.url}/api/v1/tokens`, { headers: as(other.token) })
    ).json()) as { name: string }[];
    expect(listed.map((t) => t.name).sort()).toEqual(["team-b", "team-b-ci"]);
    const revokeForeign = await fetch(`${runlet.url}/api/v1/tokens/ci`, {
      method: "DELETE",
      headers: as(other.token),
    });
    expect(revokeForeign.status).toBe(403);

    // The admin token is the superuser: it sees every namespace's tokens, never the tokens.
    const all = await (await runlet.api("/api/v1/tokens")).text();
    expect(
      JSON.parse(all)
        .map((t: { name: string }) => t.name)
        .sort(),
    ).toEqual(["caller", "ci", "ci-view", "team-b", "team-b-ci"]);
    expect(all).not.toContain("rlt_");
    expect(all).not.toContain(tokenDigest(deployer.token));
  });

  it("keeps only hashes, takes Basic auth with the token's name, and stops a revoked or expired token", async () => {
    const runlet = await startTestRunlet({ sandbox: "none", poolSize: 0 });
    const deployer = await makeToken(runlet, { name: "ci", role: "deployer" });
    const basic = (user: string, password: string): Record<string, string> => ({
      authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`,
    });
    expect(
      (await fetch(`${runlet.url}/system/functions`, { headers: basic("ci", deployer.token) }))
        .status,
    ).toBe(200);
    expect(
      (await fetch(`${runlet.url}/system/functions`, { headers: basic("admin", deployer.token) }))
        .status,
    ).toBe(401);
    expect(
      (await fetch(`${runlet.url}/system/functions`, { headers: basic("admin", adminToken) }))
        .status,
    ).toBe(200);

    // On disk: the digest, never the token.
    runlet.platform.logs.flush();
    for (const file of await readdir(runlet.dataDir)) {
      if (file.startsWith("runlet.db")) {
        const bytes = (await readFile(join(runlet.dataDir, file))).toString("latin1");
        expect(bytes.includes(deployer.token), file).toBe(false);
      }
    }
    expect(runlet.platform.tokens.get("ci")?.digest).toBe(tokenDigest(deployer.token));

    expect((await runlet.api("/api/v1/tokens/ci", { method: "DELETE" })).status).toBe(204);
    const revoked = await fetch(`${runlet.url}/system/functions`, { headers: as(deployer.token) });
    expect(revoked.status).toBe(401);
    expect((await runlet.api("/api/v1/tokens/ci", { method: "DELETE" })).status).toBe(404);

    await runlet.platform.tokens.create({
      name: "old",
      namespace: "openfaas-fn",
      role: "viewer",
      function: undefined,
      digest: tokenDigest(`rlt_${"a".repeat(43)}`),
      createdAt: Date.now() - 2000,
      createdBy: "admin",
      expiresAt: Date.now() - 1000,
    });
    const expired = await fetch(`${runlet.url}/system/functions`, {
      headers: as(`rlt_${"a".repeat(43)}`),
    });
    expect(expired.status).toBe(401);
    expect((await errorOf(expired)).message).toContain("token old expired at");

    const bad = await runlet.api("/api/v1/tokens", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "x", role: "root" }),
    });
    expect(bad.status).toBe(400);
    expect((await errorOf(bad)).message).toContain(
      "role must be one of admin, deployer, invoker, viewer",
    );
  });

  it("makes, lists and revokes tokens from the CLI, showing a token once", async () => {
    const runlet = await startTestRunlet({ sandbox: "none", poolSize: 0 });
    const cwd = await tempDir();
    const env = { RUNLET_GATEWAY: runlet.url, RUNLET_TOKEN: adminToken };
    const created = await runCli(
      ["token", "create", "ci", "--role", "viewer", "--expires", "30d"],
      { cwd, env },
    );
    expect(created.stderr).toBe("");
    expect(created.code).toBe(0);
    const token = /(rlt_[\w-]{43})/.exec(created.stdout)?.[1];
    expect(token).toBeDefined();
    expect(created.stdout).toContain("✔ token ci (role viewer, namespace openfaas-fn, expires 20");
    const listed = await runCli(["token", "list"], { cwd, env });
    expect(listed.stdout).toMatch(/ci\s+openfaas-fn\s+viewer\s+admin\s+20/);
    expect(listed.stdout).not.toContain("rlt_");
    // The viewer token, used by the CLI, cannot make tokens: the 403's message is shown.
    const refused = await runCli(["token", "create", "more", "--role", "admin"], {
      cwd,
      env: { ...env, RUNLET_TOKEN: token },
    });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      "Token ci (role viewer, namespace openfaas-fn) may not manage tokens",
    );
    expect((await runCli(["token", "revoke", "ci"], { cwd, env })).stdout).toContain(
      "✔ token ci revoked",
    );
    expect(runlet.platform.tokens.list()).toEqual([]);
  });
});
