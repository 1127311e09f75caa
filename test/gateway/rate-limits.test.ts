/**
 * Rate limits (issue 18) over real HTTP: a function's `rateLimit` holds every way in to it and
 * a token's own `rate` holds what it sends, control API and calls alike; past either, a 429
 * with Retry-After, while other functions and tokens go on.
 */
import { describe, expect, it } from "vitest";
import { startTestRunlet } from "../helpers/runlet.js";

const hello = `export default async () => "hello"`;

describe("rate limits", () => {
  it("answers 429 with Retry-After past a function's limit, on sync, async and route calls", async () => {
    const runlet = await startTestRunlet({ sandbox: "none", poolSize: 0 });
    const spec = { rateLimit: "3/h", triggers: [{ http: "POST /limited" }] };
    expect((await runlet.deploy("limited", { "index.js": hello }, spec)).status).toBe(201);
    expect((await runlet.deploy("free", { "index.js": hello })).status).toBe(201);
    const bad = await runlet.deploy("bad", { "index.js": hello }, { rateLimit: "lots" });
    expect(bad.status).toBe(400);
    const statuses: number[] = [];
    for (const path of [
      "/function/limited",
      "/async-function/limited",
      "/limited",
      "/function/limited",
    ]) {
      const response = await fetch(`${runlet.url}${path}`, { method: "POST", body: "x" });
      statuses.push(response.status);
      if (response.status === 429) {
        expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(1000);
        const body = (await response.json()) as { error: { code: string; message: string } };
        expect(body.error.code).toBe("RUNLET_RATE_LIMITED");
        expect(body.error.message).toContain("Function limited is limited to 3 calls per 3600 s");
      } else {
        await response.text();
      }
    }
    // A burst of three passes (sync, async, route), the fourth waits.
    expect(statuses).toEqual([200, 202, 200, 429]);
    expect((await fetch(`${runlet.url}/function/free`)).status).toBe(200);
  });

  it("holds a token to its own rate on the control API and on calls, and not the others", async () => {
    const runlet = await startTestRunlet({ sandbox: "none", poolSize: 0 });
    expect(
      (await runlet.deploy("locked", { "index.js": hello }, { auth: "required" })).status,
    ).toBe(201);
    const made = await runlet.api("/api/v1/tokens", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "ci", role: "deployer", rate: "2/h" }),
    });
    expect(made.status).toBe(201);
    const token = ((await made.json()) as { token: string }).token;
    const auth = { authorization: `Bearer ${token}` };
    expect((await fetch(`${runlet.url}/api/v1/functions`, { headers: auth })).status).toBe(200);
    expect((await fetch(`${runlet.url}/function/locked`, { headers: auth })).status).toBe(200);
    const over = await fetch(`${runlet.url}/api/v1/functions`, { headers: auth });
    expect(over.status).toBe(429);
    expect(over.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(((await over.json()) as { error: { message: string } }).error.message).toContain(
      "Token ci is limited to 2/h",
    );
    const call = await fetch(`${runlet.url}/function/locked`, { headers: auth });
    expect(call.status).toBe(429);
    expect(call.headers.get("retry-after")).toMatch(/^\d+$/);
    // The admin token has no limit of its own.
    for (let i = 0; i < 3; i += 1) {
      expect((await runlet.api("/api/v1/functions")).status).toBe(200);
    }
  });
});
