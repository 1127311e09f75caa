/**
 * Issue 13, item 10: removing a function collects unused packages, but not one uploaded for a
 * deploy still to come, nor one a removed function used until the grace period has passed
 * (`faas-cli remove` then `deploy --image` with the same package).
 */
import { describe, expect, it } from "vitest";
import { packDirectory } from "../../src/packaging/pack.js";
import { startTestRunlet, writeSource, type TestRunlet } from "../helpers/runlet.js";

const hour = 3600 * 1000;

async function uploadSource(runlet: TestRunlet, text: string): Promise<string> {
  const packed = await packDirectory(
    await writeSource({ "index.js": `export default async () => ${JSON.stringify(text)};\n` }),
  );
  const response = await runlet.api("/api/v1/packages", {
    method: "POST",
    headers: { "content-type": "application/gzip" },
    body: packed.archive,
  });
  expect(response.status).toBe(201);
  return packed.digest;
}

function put(runlet: TestRunlet, name: string, digest: string): Promise<Response> {
  return runlet.api(`/api/v1/functions/${name}`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ runtime: "node", package: digest }),
  });
}

async function stored(runlet: TestRunlet, digest: string): Promise<boolean> {
  return (await runlet.api(`/api/v1/packages/${digest}`, { method: "HEAD" })).status === 200;
}

describe("package collection", () => {
  it("keeps an upload waiting for its deploy and a removed function's package for the grace period", async () => {
    let now = Date.parse("2030-01-01T00:00:00Z");
    // Instances run unsandboxed: this is about the store, not the sandbox.
    const runlet = await startTestRunlet({
      poolSize: 0,
      sandbox: "none",
      packages: { gcGraceMs: hour, now: () => now },
    });
    const kept = await uploadSource(runlet, "kept");
    expect((await put(runlet, "kept", kept)).status).toBe(201);
    const other = await uploadSource(runlet, "other");
    expect((await put(runlet, "other", other)).status).toBe(201);

    // Uploaded, not deployed yet, when another function is removed.
    now += 10 * 60 * 1000;
    const pending = await uploadSource(runlet, "pending");
    expect((await runlet.api("/api/v1/functions/other", { method: "DELETE" })).status).toBe(204);
    expect(await stored(runlet, pending)).toBe(true);
    const deployed = await put(runlet, "pending", pending);
    expect(deployed.status, await deployed.clone().text()).toBe(201);
    expect(await (await fetch(`${runlet.url}/function/pending`)).text()).toBe("pending");

    // Removed, then deployed again from the same package within the grace period.
    expect((await runlet.api("/api/v1/functions/pending", { method: "DELETE" })).status).toBe(204);
    now += 30 * 60 * 1000;
    expect((await runlet.api("/api/v1/functions/kept", { method: "DELETE" })).status).toBe(204);
    expect(await stored(runlet, pending)).toBe(true);
    expect((await put(runlet, "pending", pending)).status).toBe(201);
    expect((await put(runlet, "kept", kept)).status).toBe(201);

    // Past the grace period, what nothing uses is collected; what a revision uses stays.
    expect((await runlet.api("/api/v1/functions/pending", { method: "DELETE" })).status).toBe(204);
    now += 2 * hour;
    const scratch = await uploadSource(runlet, "scratch");
    expect((await put(runlet, "scratch", scratch)).status).toBe(201);
    expect((await runlet.api("/api/v1/functions/scratch", { method: "DELETE" })).status).toBe(204);
    expect(await stored(runlet, pending)).toBe(false);
    expect(await stored(runlet, other)).toBe(false);
    expect(await stored(runlet, scratch)).toBe(true);
    expect(await stored(runlet, kept)).toBe(true);
    expect(await (await fetch(`${runlet.url}/function/kept`)).text()).toBe("kept");
  });
});
