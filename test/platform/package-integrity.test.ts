/**
 * Issue 13, item 11: a package's tree is checked against its digest when a revision loads it
 * (once per package per server start) and on every deploy of the same package; a changed tree
 * is refused with RUNLET_PACKAGE_CORRUPT, and uploading the same source again replaces it.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { packDirectory } from "../../src/packaging/pack.js";
import { startTestRunlet, writeSource, type TestRunlet } from "../helpers/runlet.js";

interface ErrorBody {
  error: { code: string; message: string };
}

// Instances run unsandboxed: this is about the store, not the sandbox.
const options = { poolSize: 0, sandbox: "none" } as const;

function put(runlet: TestRunlet, digest: string): Promise<Response> {
  return runlet.api("/api/v1/functions/fn", {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ runtime: "node", package: digest, auth: "public" }),
  });
}

function upload(runlet: TestRunlet, archive: Buffer): Promise<Response> {
  return runlet.api("/api/v1/packages", {
    method: "POST",
    headers: { "content-type": "application/gzip" },
    body: archive,
  });
}

describe("tampered packages", () => {
  it("are refused at the next start and on a same-package deploy, and an upload of the source repairs them", async () => {
    const packed = await packDirectory(
      await writeSource({ "index.js": `export default async () => "good";\n` }),
    );
    const first = await startTestRunlet(options);
    expect((await upload(first, packed.archive)).status).toBe(201);
    expect((await put(first, packed.digest)).status).toBe(201);
    expect(await (await fetch(`${first.url}/function/fn`)).text()).toBe("good");
    const tree = first.platform.packages.treePath(packed.digest);
    await first.close(2000);

    // Someone with write access to the data dir swaps the code.
    await writeFile(join(tree, "index.js"), `export default async () => "evil";\n`);

    const second = await startTestRunlet({ ...options, dataDir: first.dataDir });
    const call = await fetch(`${second.url}/function/fn`);
    const callText = await call.text();
    expect(call.status).toBe(500);
    expect(callText).not.toContain("evil");
    expect((JSON.parse(callText) as ErrorBody).error.code).toBe("RUNLET_PACKAGE_CORRUPT");
    expect(callText).not.toContain(first.dataDir);

    const redeploy = await put(second, packed.digest);
    const redeployBody = (await redeploy.json()) as ErrorBody;
    expect(redeploy.status).toBe(500);
    expect(redeployBody.error.code).toBe("RUNLET_PACKAGE_CORRUPT");
    expect(redeployBody.error.message).toContain("index.js differs from the uploaded file");
    expect(redeployBody.error.message).toContain("Upload the function's source again");
    // A client that asks before uploading is told to upload.
    expect((await second.api(`/api/v1/packages/${packed.digest}`, { method: "HEAD" })).status).toBe(
      404,
    );

    const repaired = await upload(second, packed.archive);
    expect(repaired.status).toBe(201);
    const again = await put(second, packed.digest);
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ outcome: "updated", revision: 2 });
    expect(await (await fetch(`${second.url}/function/fn`)).text()).toBe("good");

    // Checked again on every deploy of the same package, not only once per start.
    await writeFile(join(tree, "added.js"), "export const x = 1;\n");
    const tamperedAgain = await put(second, packed.digest);
    expect(tamperedAgain.status).toBe(500);
    expect(((await tamperedAgain.json()) as ErrorBody).error.message).toContain(
      "added.js is not in the uploaded archive",
    );
    expect(await (await fetch(`${second.url}/function/fn`)).text()).toBe("good");
  });

  it("an unchanged deploy of an intact package stays a no-op", async () => {
    const runlet = await startTestRunlet(options);
    const packed = await packDirectory(
      await writeSource({ "index.js": `export default async () => "same";\n` }),
    );
    expect((await upload(runlet, packed.archive)).status).toBe(201);
    expect((await put(runlet, packed.digest)).status).toBe(201);
    const again = await put(runlet, packed.digest);
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ outcome: "unchanged", revision: 1 });
  });
});
