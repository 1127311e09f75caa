/**
 * The audit log (issue 18) over real HTTP: every control action is recorded with who, which
 * token, namespace, action, object, result and time, refusals included; admins read it (a
 * namespace's admin only its namespace), it is kept across a restart, and an entry edited in
 * the database breaks the hash chain where it was changed.
 */
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { startRunlet } from "../../src/gateway/start.js";
import { runCli } from "../helpers/cli.js";
import { adminToken, startTestRunlet, tempDir, withApi } from "../helpers/runlet.js";

interface Entry {
  seq: number;
  time: string;
  actor: string;
  namespace: string;
  action: string;
  object: string;
  result: string;
  status: number;
}

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

describe("audit log", () => {
  it("records who did what, refusals too, keeps it across a restart, and shows an edited entry", async () => {
    const dataDir = await tempDir();
    const first = withApi(
      await startRunlet({ port: 0, adminToken, dataDir, sandbox: "none", poolSize: 0 }),
      dataDir,
    );
    const started = Date.now();
    let closed = false;
    try {
      expect(
        (await first.deploy("hello", { "index.js": "export default () => 'hi'" })).status,
      ).toBe(201);
      const made = await first.api("/api/v1/tokens", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: "ci", role: "viewer" }),
      });
      const viewer = ((await made.json()) as { token: string }).token;
      const refused = await fetch(`${first.url}/api/v1/functions/hello`, {
        method: "DELETE",
        headers: bearer(viewer),
      });
      expect(refused.status).toBe(403);
      const anonymous = await fetch(`${first.url}/api/v1/secrets/x`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ value: "v" }),
      });
      expect(anonymous.status).toBe(401);
      // A read that is let in is not recorded; one refused is.
      expect(
        (await fetch(`${first.url}/api/v1/functions`, { headers: bearer(viewer) })).status,
      ).toBe(200);
      expect((await fetch(`${first.url}/api/v1/audit`, { headers: bearer(viewer) })).status).toBe(
        403,
      );
      await first.close(2000);
      closed = true;
    } finally {
      if (!closed) {
        await first.close(2000);
      }
    }

    // A second start on the same data dir keeps every entry.
    const runlet = await startTestRunlet({ dataDir, sandbox: "none", poolSize: 0 });
    const entries = (await (await runlet.api("/api/v1/audit")).json()) as Entry[];
    const brief = entries.map((e) => [e.actor, e.namespace, e.action, e.object, e.status]);
    expect(brief).toEqual([
      ["admin", "openfaas-fn", "POST /api/v1/packages", "packages", 201],
      ["admin", "openfaas-fn", "PUT /api/v1/functions/:name", "functions hello", 201],
      ["admin", "openfaas-fn", "POST /api/v1/tokens", "tokens ci", 201],
      ["ci", "openfaas-fn", "DELETE /api/v1/functions/:name", "functions hello", 403],
      ["anonymous", "openfaas-fn", "PUT /api/v1/secrets/:name", "secrets x", 401],
      ["ci", "openfaas-fn", "GET /api/v1/audit", "audit", 403],
    ]);
    expect(entries[3]?.result).toBe(
      "403: Token ci (role viewer, namespace openfaas-fn) may not deploy: deploying needs role deployer or admin.",
    );
    expect(entries[2]?.result).toBe("ok");
    for (const entry of entries) {
      expect(Date.parse(entry.time)).toBeGreaterThanOrEqual(started - 1000);
    }
    expect(JSON.stringify(entries)).not.toContain("rlt_");
    const since = (await (
      await runlet.api(`/api/v1/audit?since=${new Date(Date.now() + 60_000).toISOString()}`)
    ).json()) as Entry[];
    expect(since).toEqual([]);

    // A namespace's admin reads its own namespace's entries only.
    const teamAdmin = (
      (await (
        await runlet.api("/api/v1/tokens", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ name: "b-admin", namespace: "team-b", role: "admin" }),
        })
      ).json()) as { token: string }
    ).token;
    const own = await fetch(`${runlet.url}/api/v1/audit`, { headers: bearer(teamAdmin) });
    expect(own.status).toBe(200);
    const ownEntries = (await own.json()) as Entry[];
    expect(ownEntries.map((e) => [e.namespace, e.object])).toEqual([["team-b", "tokens b-admin"]]);
    const peek = await fetch(`${runlet.url}/api/v1/audit?namespace=openfaas-fn`, {
      headers: bearer(teamAdmin),
    });
    expect(peek.status).toBe(403);

    const cwd = await tempDir();
    const env = { RUNLET_GATEWAY: runlet.url, RUNLET_TOKEN: adminToken };
    const shown = await runCli(["audit", "--since", "1h"], { cwd, env });
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(
      /ci\s+openfaas-fn\s+DELETE \/api\/v1\/functions\/:name\s+functions hello\s+403: Token ci/,
    );
    const intact = await runCli(["audit", "--verify"], { cwd, env });
    expect(intact.stdout).toContain("✔ audit log intact:");
    expect(intact.code).toBe(0);

    // Someone with the database file changes what entry 4 says: the chain breaks there.
    const db = new Database(join(dataDir, "runlet.db"));
    db.prepare("UPDATE audit_log SET result = 'ok', status = 204 WHERE seq = 4").run();
    db.close();
    const verify = (await (await runlet.api("/api/v1/audit/verify")).json()) as {
      ok: boolean;
      brokenAt: number;
      reason: string;
    };
    expect(verify).toMatchObject({
      ok: false,
      brokenAt: 4,
      reason: "entry 4 was changed after it was written",
    });
    const broken = await runCli(["audit", "--verify"], { cwd, env });
    expect(broken.code).toBe(1);
    expect(broken.stdout).toContain("✘ audit log broken at entry 4");
    // Verifying is the admin token's: a namespace admin may not.
    expect(
      (await fetch(`${runlet.url}/api/v1/audit/verify`, { headers: bearer(teamAdmin) })).status,
    ).toBe(403);
  });
});
