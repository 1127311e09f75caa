/**
 * GET /api/v1/packages/:digest/archive, the route pods fetch their packages from: it serves the
 * archive only for a valid, unexpired package grant issued for that digest, and refuses every
 * other credential (none, the admin token, a forged, malformed or expired grant, a grant for
 * another package) with the error shape, before it tells whether the package exists.
 */
import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { packDirectory } from "../../src/packaging/pack.js";
import { PackageGrants } from "../../src/packaging/package-grant.js";
import type { ProviderContext } from "../../src/provider/types.js";
import { TcpProcessProvider } from "../provider/contract/tcp-process-provider.js";
import { adminToken, startTestRunlet, writeSource } from "../helpers/runlet.js";

async function upload(runlet: Awaited<ReturnType<typeof startTestRunlet>>, text: string) {
  const packed = await packDirectory(await writeSource({ "index.js": text }));
  const stored = await runlet.api("/api/v1/packages", {
    method: "POST",
    headers: { "content-type": "application/gzip" },
    body: packed.archive,
  });
  expect(stored.status).toBe(201);
  return packed;
}

describe("the package archive route", () => {
  it("serves a package's archive for its grant, and refuses every other credential", async () => {
    const key = randomBytes(32);
    const runlet = await startTestRunlet({
      packageGrants: { key, gatewayUrl: "http://gateway.example" },
    });
    const one = await upload(runlet, "export default async () => 1;");
    const two = await upload(runlet, "export default async () => 2;");
    const grants = new PackageGrants({ key });
    const fetchArchive = (digest: string, authorization?: string) =>
      fetch(`${runlet.url}/api/v1/packages/${digest}/archive`, {
        headers: authorization === undefined ? {} : { authorization },
      });

    const granted = await fetchArchive(
      one.digest,
      `Bearer ${grants.issue(one.digest, "pod-a").token}`,
    );
    expect(granted.status).toBe(200);
    expect(granted.headers.get("content-type")).toBe("application/gzip");
    const bytes = Buffer.from(await granted.arrayBuffer());
    expect(`sha256:${createHash("sha256").update(bytes).digest("hex")}`).toBe(one.digest);

    const refusals: [string, string | undefined, number, string][] = [
      ["no credential", undefined, 401, "needs a grant"],
      ["the admin token", `Bearer ${adminToken}`, 401, "not a token the platform issued"],
      [
        "a grant signed with another key",
        `Bearer ${new PackageGrants({ key: randomBytes(32) }).issue(one.digest, "pod-a").token}`,
        401,
        "signature does not match",
      ],
      [
        "a grant whose claims were changed",
        `Bearer ${Buffer.from(JSON.stringify({ d: one.digest, i: "pod-a", e: Date.now() + 3_600_000 })).toString("base64url")}.${grants.issue(one.digest, "pod-a").token.split(".")[1] ?? ""}`,
        401,
        "signature does not match",
      ],
      [
        "an expired grant",
        `Bearer ${new PackageGrants({ key, now: () => Date.now() - 120_000 }).issue(one.digest, "pod-a").token}`,
        401,
        "has expired",
      ],
      [
        "a grant for another package",
        `Bearer ${grants.issue(two.digest, "pod-a").token}`,
        403,
        "for another package",
      ],
    ];
    for (const [what, authorization, status, words] of refusals) {
      const refused = await fetchArchive(one.digest, authorization);
      expect(refused.status, what).toBe(status);
      const body = (await refused.json()) as { error: { code: string; message: string } };
      expect(body.error.code, what).toBe(
        status === 401 ? "RUNLET_UNAUTHORIZED" : "RUNLET_FORBIDDEN",
      );
      expect(body.error.message, what).toContain(words);
    }

    // A valid grant for a package that is not stored: 404, told only to a grant holder.
    const missing = `sha256:${"a".repeat(64)}`;
    expect((await fetchArchive(missing)).status).toBe(401);
    const notStored = await fetchArchive(missing, `Bearer ${grants.issue(missing, "pod-a").token}`);
    expect(notStored.status).toBe(404);
  });

  it("gives its provider grants for the gateway's URL that the route accepts", async () => {
    let context: ProviderContext | undefined;
    const runlet = await startTestRunlet({
      packageGrants: { key: randomBytes(32), gatewayUrl: "http://gateway.example/" },
      provider: (given) => {
        context = given;
        return TcpProcessProvider.create(given);
      },
    });
    const packed = await upload(runlet, "export default async () => 3;");
    const grant = await context?.packages.grant?.(packed.digest, "pod-b");
    expect(grant?.digest).toBe(packed.digest);
    expect(grant?.url).toBe(`http://gateway.example/api/v1/packages/${packed.digest}/archive`);
    expect(grant?.expiresAt).toBeGreaterThan(Date.now());
    const answer = await fetch(`${runlet.url}/api/v1/packages/${packed.digest}/archive`, {
      headers: { authorization: `Bearer ${grant?.token ?? ""}` },
    });
    expect(answer.status).toBe(200);
  });

  it("issues no grant that opens a package when the platform has no grant key", async () => {
    const runlet = await startTestRunlet();
    const packed = await upload(runlet, "export default async () => 4;");
    const stranger = new PackageGrants({ key: randomBytes(32) }).issue(packed.digest, "pod-c");
    const answer = await fetch(`${runlet.url}/api/v1/packages/${packed.digest}/archive`, {
      headers: { authorization: `Bearer ${stranger.token}` },
    });
    expect(answer.status).toBe(401);
  });
});
