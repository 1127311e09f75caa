/**
 * Invoke rights apart from deploy rights (issue 18), over real HTTP against a started platform:
 * `auth: required` functions take invoker tokens of their namespace and their own invoke keys
 * (never needing the admin token) and refuse other roles, namespaces and functions with a 403;
 * `auth: signed` functions take only bodies signed with their secret; and no credential a call
 * came with reaches the function, whose code echoes its headers and environment back.
 */
import { describe, expect, it } from "vitest";
import { signBody } from "../../src/auth/signature.js";
import { runCli } from "../helpers/cli.js";
import { adminToken, startTestRunlet, tempDir, type TestRunlet } from "../helpers/runlet.js";

const echo = `export default async function (event) {
  return {
    statusCode: 200,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ headers: event.headers, env: process.env, body: String(event.body ?? "") }),
  };
}
`;

async function created(response: Response): Promise<{ token: string; name: string }> {
  expect(response.status, await response.clone().text()).toBe(201);
  return (await response.json()) as { token: string; name: string };
}

async function makeToken(runlet: TestRunlet, body: Record<string, unknown>): Promise<string> {
  return (
    await created(
      await runlet.api("/api/v1/tokens", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      }),
    )
  ).token;
}

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

async function messageOf(response: Response): Promise<string> {
  return ((await response.json()) as { error: { message: string } }).error.message;
}

describe("invoke rights", () => {
  it("lets invoker tokens and a function's own keys call auth: required functions, and nothing else", async () => {
    const runlet = await startTestRunlet({ sandbox: "none", poolSize: 0 });
    const spec = { auth: "required", triggers: [{ http: "POST /locked-route" }] };
    expect((await runlet.deploy("locked", { "index.js": echo }, spec)).status).toBe(201);
    expect((await runlet.deploy("other", { "index.js": echo }, { auth: "required" })).status).toBe(
      201,
    );
    const invoker = await makeToken(runlet, { name: "caller", role: "invoker" });
    const viewer = await makeToken(runlet, { name: "watcher", role: "viewer" });
    const foreign = await makeToken(runlet, {
      name: "b-caller",
      namespace: "team-b",
      role: "invoker",
    });
    const key = await created(
      await runlet.api("/api/v1/functions/locked/keys", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: "locked-hook" }),
      }),
    );
    const basicKey = `Basic ${Buffer.from(`locked-hook:${key.token}`).toString("base64")}`;
    const credentials = [invoker, key.token, adminToken, foreign, viewer];

    // Allowed, on the sync, async and route ways in; the function sees no credential.
    for (const authorization of [`Bearer ${invoker}`, `Bearer ${key.token}`, basicKey]) {
      for (const [path, status] of [
        ["/function/locked", 200],
        ["/locked-route", 200],
        ["/async-function/locked", 202],
      ] as const) {
        const response = await fetch(`${runlet.url}${path}`, {
          method: "POST",
          headers: { authorization, "x-trace": "t" },
          body: "payload",
        });
        const text = await response.text();
        expect(response.status, `${path} ${text}`).toBe(status);
        if (status === 200) {
          const seen = JSON.parse(text) as { headers: Record<string, string>; body: string };
          expect(seen.headers["x-trace"]).toBe("t");
          expect(seen.headers["authorization"]).toBeUndefined();
          expect(seen.body).toBe("payload");
          for (const credential of credentials) {
            expect(text.includes(credential), path).toBe(false);
          }
          expect(text).not.toContain("rlt_");
        }
      }
    }

    // Refused with the right that is missing.
    const asViewer = await fetch(`${runlet.url}/function/locked`, { headers: bearer(viewer) });
    expect(asViewer.status).toBe(403);
    expect(await messageOf(asViewer)).toBe(
      "Token watcher (role viewer, namespace openfaas-fn) may not invoke functions: invoking a function that needs a credential needs role invoker, deployer or admin.",
    );
    const asForeign = await fetch(`${runlet.url}/async-function/locked`, {
      method: "POST",
      headers: bearer(foreign),
    });
    expect(asForeign.status).toBe(403);
    expect(await messageOf(asForeign)).toContain(
      "may not invoke functions in namespace openfaas-fn: it acts only in namespace team-b",
    );
    const keyElsewhere = await fetch(`${runlet.url}/function/other`, {
      headers: bearer(key.token),
    });
    expect(keyElsewhere.status).toBe(403);
    expect(await messageOf(keyElsewhere)).toContain("it calls only function locked");
    // Calling is not deploying: an invoker and a key change nothing.
    for (const token of [invoker, key.token]) {
      const removal = await fetch(`${runlet.url}/api/v1/functions/locked`, {
        method: "DELETE",
        headers: bearer(token),
      });
      expect(removal.status).toBe(403);
    }
    // The refused async calls stored nothing; the three admitted ones are there.
    const calls = (await (await runlet.api("/api/v1/calls?function=locked")).json()) as unknown[];
    expect(calls).toHaveLength(3);

    // A removed function's keys go with it: the same name made again does not take them.
    expect((await runlet.api("/api/v1/functions/locked", { method: "DELETE" })).status).toBe(204);
    expect(runlet.platform.tokens.get("locked-hook")).toBeUndefined();
    expect((await runlet.deploy("locked", { "index.js": echo }, spec)).status).toBe(201);
    const stale = await fetch(`${runlet.url}/function/locked`, { headers: bearer(key.token) });
    expect(stale.status).toBe(401);
  });

  it("takes only bodies signed with the function's secret on auth: signed, sync, route and async", async () => {
    const runlet = await startTestRunlet({ sandbox: "none", poolSize: 0 });
    const secret = "webhook-shared-secret";
    expect(
      (
        await runlet.api("/api/v1/secrets/hook-secret", {
          method: "PUT",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ value: secret }),
        })
      ).status,
    ).toBe(201);
    const unsigned = await runlet.deploy("hook", { "index.js": echo }, { auth: "signed" });
    expect(unsigned.status).toBe(400);
    expect(await messageOf(unsigned)).toContain("auth: signed needs the secret");
    const missing = await runlet.deploy(
      "hook",
      { "index.js": echo },
      { auth: "signed", signature: { secret: "nope" } },
    );
    expect(missing.status).toBe(404);
    const deployed = await runlet.deploy(
      "hook",
      { "index.js": echo },
      { auth: "signed", signature: { secret: "hook-secret" }, triggers: [{ http: "POST /gh" }] },
    );
    expect(deployed.status).toBe(201);

    const body = JSON.stringify({ action: "opened" });
    for (const [path, okStatus] of [
      ["/function/hook", 200],
      ["/gh", 200],
      ["/async-function/hook", 202],
    ] as const) {
      const good = await fetch(`${runlet.url}${path}`, {
        method: "POST",
        headers: { "x-hub-signature-256": signBody(secret, body), "content-type": "text/plain" },
        body,
      });
      const text = await good.text();
      expect(good.status, `${path} ${text}`).toBe(okStatus);
      if (okStatus === 200) {
        expect((JSON.parse(text) as { body: string }).body).toBe(body);
        expect(text).not.toContain(secret);
      }
      const forged = await fetch(`${runlet.url}${path}`, {
        method: "POST",
        headers: { "x-hub-signature-256": signBody("guess", body) },
        body,
      });
      expect(forged.status, path).toBe(403);
      expect(await messageOf(forged)).toContain("does not match the body");
      // A signature of another body does not carry over.
      const replayed = await fetch(`${runlet.url}${path}`, {
        method: "POST",
        headers: { "x-hub-signature-256": signBody(secret, body) },
        body: `${body} `,
      });
      expect(replayed.status, path).toBe(403);
      const bare = await fetch(`${runlet.url}${path}`, { method: "POST", body });
      expect(bare.status, path).toBe(401);
      expect(await messageOf(bare)).toContain("send x-hub-signature-256: sha256=");
    }
    // The admin token is no signature.
    const admin = await fetch(`${runlet.url}/function/hook`, {
      method: "POST",
      headers: bearer(adminToken),
      body,
    });
    expect(admin.status).toBe(401);
  });

  it("makes an invoke key from the CLI and invokes with it, never holding the admin token", async () => {
    const runlet = await startTestRunlet({ sandbox: "none", poolSize: 0 });
    expect((await runlet.deploy("locked", { "index.js": echo }, { auth: "required" })).status).toBe(
      201,
    );
    const cwd = await tempDir();
    const env = { RUNLET_GATEWAY: runlet.url, RUNLET_TOKEN: adminToken };
    const made = await runCli(["function", "key", "create", "locked", "--name", "ci-key"], {
      cwd,
      env,
    });
    expect(made.stderr).toBe("");
    const key = /(rlt_[\w-]{43})/.exec(made.stdout)?.[1] ?? "";
    expect(key).not.toBe("");
    const listed = await runCli(["function", "key", "list", "locked"], { cwd, env });
    expect(listed.stdout).toContain("ci-key");
    const invoked = await runCli(["invoke", "locked", "-d", "hi"], {
      cwd,
      env: { RUNLET_GATEWAY: runlet.url, RUNLET_TOKEN: key },
    });
    expect(invoked.stderr).toBe("");
    expect(invoked.code).toBe(0);
    expect(JSON.parse(invoked.stdout).body).toBe("hi");
    const revoked = await runCli(["function", "key", "revoke", "locked", "ci-key"], { cwd, env });
    expect(revoked.code).toBe(0);
    const after = await fetch(`${runlet.url}/function/locked`, { headers: bearer(key) });
    expect(after.status).toBe(401);
  });
});
