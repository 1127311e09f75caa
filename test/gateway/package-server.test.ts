/**
 * The package port (Kubernetes mode's second listener, which function pods reach): only the
 * grant-checked archive route. What a hostile pod sends it is refused in the catalogue's
 * shape, 4xx, never an internal error, and nothing of the API answers there.
 */
import { request } from "undici";
import { describe, expect, it } from "vitest";
import { adminToken, startTestRunlet } from "../helpers/runlet.js";

describe("the package port", () => {
  it("refuses malformed requests, missing grants and API routes with 4xx error bodies", async () => {
    const runlet = await startTestRunlet({ poolSize: 0, sandbox: "none", packagesPort: 0 });
    const port = runlet.packageServer?.port;
    expect(port).toBeGreaterThan(0);
    const base = `http://127.0.0.1:${String(port)}`;
    const digest = `sha256:${"a".repeat(64)}`;
    const cases: { path: string; headers?: Record<string, string>; status: number }[] = [
      // A bad percent-encoding, and a parameter past the length limit: Fastify's own refusals.
      { path: "/api/v1/packages/%E0%A4%A/archive", status: 400 },
      { path: `/api/v1/packages/${"x".repeat(400)}/archive`, status: 414 },
      { path: `/api/v1/packages/${digest}/archive`, status: 401 },
      {
        path: `/api/v1/packages/${digest}/archive`,
        headers: { authorization: "Bearer forged.grant" },
        status: 401,
      },
      // The admin token opens nothing here: the API is on the other port.
      {
        path: "/api/v1/secrets",
        headers: { authorization: `Bearer ${adminToken}` },
        status: 404,
      },
    ];
    for (const c of cases) {
      const answer = await request(`${base}${c.path}`, { headers: c.headers ?? {} });
      const body = (await answer.body.json()) as { error?: { code?: string; message?: string } };
      expect(answer.statusCode, `${c.path}: ${JSON.stringify(body)}`).toBe(c.status);
      expect(body.error?.code).toMatch(/^RUNLET_/);
      expect(body.error?.message).toEqual(expect.any(String));
    }
  });
});
