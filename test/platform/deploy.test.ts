import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { create } from "tar";
import { describe, expect, it } from "vitest";
import { startRunlet } from "../../src/gateway/start.js";
import { adminToken, startTestRunlet, tempDir, withApi } from "../helpers/runlet.js";

interface ApiError {
  error: { code: string; message: string; file?: string; line?: number; problems?: string[] };
}

const ok = (text: string) => `export default async function () { return ${JSON.stringify(text)}; }`;

describe("deploy", () => {
  it("refuses a name that is not a DNS-1123 label", async () => {
    const runlet = await startTestRunlet();
    const response = await runlet.deploy("Bad_Name", { "index.js": ok("x") });
    expect(response.status).toBe(400);
    const body = (await response.json()) as ApiError;
    expect(body.error.code).toBe("RUNLET_INVALID_NAME");
    expect(body.error.message).toContain("lower-case letters");
  });

  it("fails a handler with a syntax error with file and line, and the previous revision keeps serving", async () => {
    const runlet = await startTestRunlet();
    expect((await runlet.deploy("app", { "index.js": ok("v1") })).status).toBe(201);
    const broken = await runlet.deploy("app", {
      "index.js": `const a = 1;\nexport default async function () {\n  return a +;\n}\n`,
    });
    expect(broken.status).toBe(400);
    const body = (await broken.json()) as ApiError;
    expect(body.error.code).toBe("RUNLET_HANDLER_SYNTAX");
    expect(body.error.file).toBe("index.js");
    expect(body.error.line).toBe(3);
    expect(body.error.message).toContain("index.js:3");
    expect(await (await fetch(`${runlet.url}/function/app`)).text()).toBe("v1");
    const revisions = (await (
      await runlet.api("/api/v1/functions/app/revisions")
    ).json()) as unknown[];
    expect(revisions).toHaveLength(1);
  });

  it("reports the line of a CommonJS syntax error too", async () => {
    const runlet = await startTestRunlet();
    const response = await runlet.deploy(
      "cjs",
      { "index.cjs": `module.exports = async () => {\n  return {;\n};\n` },
      { handler: "index.cjs" },
    );
    const body = (await response.json()) as ApiError;
    expect(body.error.code).toBe("RUNLET_HANDLER_SYNTAX");
    expect(body.error.line).toBe(2);
  });

  it("fails a handler without an exported function, and one that is missing", async () => {
    const runlet = await startTestRunlet();
    const noExport = await runlet.deploy("noexp", { "index.js": `export const answer = 42;\n` });
    expect(noExport.status).toBe(400);
    const body = (await noExport.json()) as ApiError;
    expect(body.error.code).toBe("RUNLET_HANDLER_NO_EXPORT");
    expect(body.error.message).toContain("export default async function");
    const missing = await runlet.deploy(
      "missing",
      { "main.js": ok("x") },
      { handler: "handler.js" },
    );
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as ApiError).error.code).toBe("RUNLET_HANDLER_NOT_FOUND");
    // Nothing half-deployed is left behind.
    expect((await runlet.api("/api/v1/functions/noexp")).status).toBe(404);
  });

  it("reports an exception thrown while loading, with its line", async () => {
    const runlet = await startTestRunlet();
    const response = await runlet.deploy("throws-at-load", {
      "index.js": `const x = 1;\nthrow new Error("no config");\nexport default async () => x;\n`,
    });
    const body = (await response.json()) as ApiError;
    expect(body.error.code).toBe("RUNLET_HANDLER_LOAD_FAILED");
    expect(body.error.line).toBe(2);
    expect(body.error.message).toContain("no config");
  });

  it("makes a redeploy of unchanged code a no-op and a change a new revision", async () => {
    const runlet = await startTestRunlet();
    const first = (await (await runlet.deploy("rev", { "index.js": ok("one") })).json()) as {
      revision: number;
      outcome: string;
    };
    expect(first).toMatchObject({ revision: 1, outcome: "created" });
    const again = (await (await runlet.deploy("rev", { "index.js": ok("one") })).json()) as {
      revision: number;
      outcome: string;
    };
    expect(again).toMatchObject({ revision: 1, outcome: "unchanged" });
    const changed = (await (await runlet.deploy("rev", { "index.js": ok("two") })).json()) as {
      revision: number;
      outcome: string;
    };
    expect(changed).toMatchObject({ revision: 2, outcome: "updated" });
    expect(await (await fetch(`${runlet.url}/function/rev`)).text()).toBe("two");
    const envChange = (await (
      await runlet.deploy("rev", { "index.js": ok("two") }, { env: { A: "1" } })
    ).json()) as { revision: number };
    expect(envChange.revision).toBe(3);
  });

  it("gives the function its environment", async () => {
    const runlet = await startTestRunlet();
    await runlet.deploy(
      "env",
      {
        "index.js": `export default async () => process.env.GREETING + " " + (process.env.RUNLET_ADMIN_TOKEN ?? "no-leak")`,
      },
      { env: { GREETING: "hi" } },
    );
    expect(await (await fetch(`${runlet.url}/function/env`)).text()).toBe("hi no-leak");
  });

  it("keeps every function across a restart", async () => {
    const dataDir = await tempDir();
    const first = withApi(await startRunlet({ dataDir, port: 0, adminToken }), dataDir);
    await first.deploy("survivor", { "index.js": ok("still here") });
    await first.close();
    const second = withApi(await startRunlet({ dataDir, port: 0 }), dataDir);
    try {
      // The token survives too: no preset this time, it is read from the data dir.
      expect(second.platform.adminToken).toBe(adminToken);
      expect(await (await fetch(`${second.url}/function/survivor`)).text()).toBe("still here");
    } finally {
      await second.close();
    }
  });

  it("refuses archives with paths that leave the package, listing each", async () => {
    const runlet = await startTestRunlet();
    const dir = await tempDir();
    const { writeFile, mkdir } = await import("node:fs/promises");
    await mkdir(join(dir, "pkg"));
    await writeFile(join(dir, "evil.js"), "pwned");
    await writeFile(join(dir, "pkg", "index.js"), ok("x"));
    const chunks: Buffer[] = [];
    // preservePaths keeps the "../" entry as written, as a hostile client would send it.
    for await (const chunk of create({ cwd: join(dir, "pkg"), gzip: true, preservePaths: true }, [
      "index.js",
      "../evil.js",
    ]) as AsyncIterable<Buffer>) {
      chunks.push(chunk);
    }
    const response = await runlet.api("/api/v1/packages", {
      method: "POST",
      headers: { "content-type": "application/gzip" },
      body: Buffer.concat(chunks),
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as ApiError;
    expect(body.error.code).toBe("RUNLET_INVALID_ARCHIVE");
    expect(body.error.message).toContain("../evil.js");
    const garbage = await runlet.api("/api/v1/packages", {
      method: "POST",
      headers: { "content-type": "application/gzip" },
      body: Buffer.from("not a tarball"),
    });
    expect(garbage.status).toBe(400);
  });

  it("refuses a package larger than the limit, saying the size and the limit", async () => {
    const runlet = await startTestRunlet({ maxPackageBytes: 1024 * 1024 });
    await expect(
      runlet.deploy("huge", { "index.js": ok("x"), "data.bin": "x".repeat(2 * 1024 * 1024) }),
    ).rejects.toThrow(
      /upload failed: 413 .*RUNLET_PACKAGE_TOO_LARGE.*unpacks to at least 2\.0 MiB \(2097152 bytes\); the limit is 1Mi/,
    );
  });
});

describe("secrets", () => {
  it("are stored encrypted and reach, as files, only the functions that name them", async () => {
    const runlet = await startTestRunlet();
    expect(
      (
        await runlet.api("/api/v1/secrets/api-key", {
          method: "PUT",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ value: "s3cr3t-value" }),
        })
      ).status,
    ).toBe(201);
    const reader = `import { readFileSync, readdirSync } from "node:fs";
    export default async (event, context) => ({ viaContext: context.secret("api-key") ?? null, files: readdirSync(context.secretsDir) });`;
    await runlet.deploy("with-secret", { "index.js": reader }, { secrets: ["api-key"] });
    await runlet.deploy("without-secret", { "index.js": reader });
    expect(await (await fetch(`${runlet.url}/function/with-secret`)).json()).toEqual({
      viaContext: "s3cr3t-value",
      files: ["api-key"],
    });
    expect(await (await fetch(`${runlet.url}/function/without-secret`)).json()).toEqual({
      viaContext: null,
      files: [],
    });
    const database = await readFile(join(runlet.dataDir, "runlet.db"));
    const wal = await readFile(join(runlet.dataDir, "runlet.db-wal")).catch(() => Buffer.alloc(0));
    expect(Buffer.concat([database, wal]).includes("s3cr3t-value")).toBe(false);
    const list = (await (await runlet.api("/api/v1/secrets")).json()) as { name: string }[];
    expect(list.map((s) => s.name)).toEqual(["api-key"]);
    expect(JSON.stringify(list)).not.toContain("s3cr3t");
    // A secret in use cannot be removed from under its function.
    expect((await runlet.api("/api/v1/secrets/api-key", { method: "DELETE" })).status).toBe(409);
  });

  it("must exist before a function names it", async () => {
    const runlet = await startTestRunlet();
    const response = await runlet.deploy(
      "needs",
      { "index.js": ok("x") },
      { secrets: ["missing-one"] },
    );
    expect(response.status).toBe(404);
    expect(((await response.json()) as ApiError).error.message).toContain("missing-one");
  });
});
