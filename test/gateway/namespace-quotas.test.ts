/**
 * Namespace quotas (issue 18) over real HTTP: a namespace past its quota of functions cannot
 * deploy another, past its instances or memory its functions get no new instance (429 naming
 * the quota) while another namespace's keep working, and only the admin token sets quotas.
 */
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import {
  adminToken,
  eventually,
  startTestRunlet,
  tempDir,
  type TestRunlet,
} from "../helpers/runlet.js";

const says = (text: string) => `export default async () => ${JSON.stringify(text)};\n`;

async function errorOf(response: Response): Promise<{ code: string; message: string }> {
  return ((await response.json()) as { error: { code: string; message: string } }).error;
}

async function setQuota(
  runlet: TestRunlet,
  namespace: string,
  quota: Record<string, unknown>,
): Promise<unknown> {
  const response = await runlet.api(`/api/v1/namespaces/${namespace}/quota`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(quota),
  });
  expect(response.status, await response.clone().text()).toBe(200);
  return response.json();
}

describe("namespace quotas", () => {
  it("refuses a function past the namespace's quota of functions, and lets its own redeploy", async () => {
    const runlet = await startTestRunlet({ sandbox: "none", poolSize: 0 });
    await setQuota(runlet, "team-a", { functions: 1 });
    expect((await runlet.deploy("one?namespace=team-a", { "index.js": says("1") })).status).toBe(
      201,
    );
    const second = await runlet.deploy("two?namespace=team-a", { "index.js": says("2") });
    expect(second.status).toBe(403);
    expect(await errorOf(second)).toEqual({
      code: "RUNLET_QUOTA_EXCEEDED",
      message:
        "Namespace team-a has 1 functions, its quota of 1; remove one (runlet remove NAME -n team-a) or ask an admin to raise the quota (runlet namespace quota team-a --functions N).",
    });
    expect((await runlet.deploy("one?namespace=team-a", { "index.js": says("1b") })).status).toBe(
      200,
    );
    // Another namespace is not held by team-a's quota.
    expect((await runlet.deploy("two?namespace=team-b", { "index.js": says("2") })).status).toBe(
      201,
    );
  });

  it("starts no instance past a namespace's instances or memory, while another namespace's start", async () => {
    const runlet = await startTestRunlet({ sandbox: "none", poolSize: 0 });
    const spec = { scale: { idleTimeout: "1s" }, memory: "128Mi" };
    for (const address of ["a1?namespace=team-a", "a2?namespace=team-a", "b1?namespace=team-b"]) {
      expect((await runlet.deploy(address, { "index.js": says(address) }, spec)).status).toBe(201);
    }
    // The deploy's own instances stop once idle: then the namespace holds none.
    await eventually(
      async () => {
        const view = (await (await runlet.api("/api/v1/namespaces/team-a")).json()) as {
          usage: { instances: number };
        };
        return view.usage.instances === 0;
      },
      { timeoutMs: 20_000, what: "team-a's instances to go idle" },
    );
    expect(await setQuota(runlet, "team-a", { instances: 1 })).toEqual({
      name: "team-a",
      usage: { functions: 2, instances: 0, memory: "0" },
      quota: { instances: 1 },
    });
    expect((await fetch(`${runlet.url}/function/a1.team-a`)).status).toBe(200);
    const refused = await fetch(`${runlet.url}/function/a2.team-a`);
    expect(refused.status).toBe(429);
    expect(await errorOf(refused)).toEqual({
      code: "RUNLET_QUOTA_EXCEEDED",
      message:
        "Namespace team-a holds 1 instances, its quota of 1; a2.team-a gets an instance when one of the namespace's goes idle. Retry later, or ask an admin to raise the quota (runlet namespace quota team-a ...).",
    });
    expect((await fetch(`${runlet.url}/function/b1.team-b`)).status).toBe(200);
    // When a1's instance goes idle, a2 gets one.
    await eventually(
      async () => (await fetch(`${runlet.url}/function/a2.team-a`)).status === 200 || undefined,
      { timeoutMs: 20_000, intervalMs: 250, what: "a2 to get an instance" },
    );

    // Memory: 200 MiB holds one 128 MiB instance, not two.
    await runlet.api("/api/v1/namespaces/team-a/quota", { method: "DELETE" });
    await setQuota(runlet, "team-a", { memory: "200Mi" });
    await eventually(
      async () => (await fetch(`${runlet.url}/function/a1.team-a`)).status === 429 || undefined,
      { timeoutMs: 5_000, intervalMs: 100, what: "a1 to be refused while a2 holds the memory" },
    );
    const byMemory = await fetch(`${runlet.url}/function/a1.team-a`);
    expect(byMemory.status).toBe(429);
    expect((await errorOf(byMemory)).message).toMatch(
      /^Namespace team-a holds 128 MiB of memory, and a1.team-a needs 128 MiB more than its quota of 200 MiB leaves;/,
    );
  });

  it("lets only the admin token set quotas; a namespace's admin reads its own", async () => {
    const runlet = await startTestRunlet({ sandbox: "none", poolSize: 0 });
    const made = await runlet.api("/api/v1/tokens", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "boss-a", namespace: "team-a", role: "admin" }),
    });
    const { token } = (await made.json()) as { token: string };
    const as = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    const raise = await fetch(`${runlet.url}/api/v1/namespaces/team-a/quota`, {
      method: "PUT",
      headers: as,
      body: JSON.stringify({ instances: 100 }),
    });
    expect(raise.status).toBe(403);
    expect((await errorOf(raise)).message).toContain("it needs the admin token");
    expect((await fetch(`${runlet.url}/api/v1/namespaces/team-a`, { headers: as })).status).toBe(
      200,
    );
    expect((await fetch(`${runlet.url}/api/v1/namespaces/team-b`, { headers: as })).status).toBe(
      403,
    );
    const bad = await runlet.api("/api/v1/namespaces/team-a/quota", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ memory: "lots" }),
    });
    expect(bad.status).toBe(400);

    // The CLI: set, list, clear.
    const env = { RUNLET_GATEWAY: runlet.url, RUNLET_TOKEN: adminToken, HOME: await tempDir() };
    const cwd = await tempDir();
    const set = await runCli(
      ["namespace", "quota", "team-a", "--functions", "5", "--memory", "1Gi"],
      { cwd, env },
    );
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toBe("✔ namespace team-a: functions 0/5, instances 0, memory 0/1Gi\n");
    const listed = await runCli(["namespace", "list"], { cwd, env });
    expect(listed.stdout).toMatch(/team-a\s+0\/5\s+0\s+0\/1Gi/);
    expect(listed.stdout).toMatch(/openfaas-fn\s+0\s+0\s+0/);
    const cleared = await runCli(["namespace", "quota", "team-a", "--clear"], { cwd, env });
    expect(cleared.stdout).toBe("✔ namespace team-a has no quota\n");
  });
});
