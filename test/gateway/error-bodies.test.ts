/**
 * Issue 13, item 15: every error the gateway answers has the `{"error":{"code","message"}}`
 * shape with a code from the catalogue (src/errors.ts) and its status, whoever raised it:
 * Runlet, Fastify, node:http's parser; 4xx for the caller's mistakes.
 */
import { mkdir, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { create } from "tar";
import { describe, expect, it } from "vitest";
import { statusOf, type ErrorCode } from "../../src/errors.js";
import { adminToken, eventually, startTestRunlet, tempDir, withApi } from "../helpers/runlet.js";
import { startRunlet } from "../../src/gateway/start.js";

const auth = { authorization: `Bearer ${adminToken}` };

/** The answer's error, checked for the shape and against the catalogue. */
async function expectError(
  response: Response,
  status: number,
): Promise<{ code: string; message: string }> {
  const text = await response.text();
  expect(response.status, text).toBe(status);
  const body = JSON.parse(text) as { error: { code: unknown; message: unknown } };
  expect(typeof body.error).toBe("object");
  expect(typeof body.error.code).toBe("string");
  expect(typeof body.error.message).toBe("string");
  const code = body.error.code as ErrorCode;
  expect(statusOf(code), `${code} answered with ${status}`).toBe(status);
  return { code, message: body.error.message as string };
}

/** Sends raw bytes; resolves with what came back once the server closed the connection. */
function raw(url: string, data: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let text = "";
    socket.on("data", (chunk: Buffer) => (text += chunk.toString("latin1")));
    socket.on("error", reject);
    socket.on("close", () => resolve(text));
    socket.write(data);
  });
}

describe("error bodies", () => {
  it("has Fastify's own errors in the catalogue's shape: bad URL, long parameter, media type, JSON, 404", async () => {
    const runlet = await startTestRunlet();
    const badUrl = await fetch(`${runlet.url}/api/v1/functions/%E0%A4%A`, { headers: auth });
    expect((await expectError(badUrl, 400)).code).toBe("RUNLET_INVALID_REQUEST");
    const long = await fetch(`${runlet.url}/api/v1/functions/${"a".repeat(200)}`, {
      headers: auth,
    });
    expect((await expectError(long, 414)).code).toBe("RUNLET_URI_TOO_LONG");
    const media = await fetch(`${runlet.url}/api/v1/functions/x`, {
      method: "PUT",
      headers: { ...auth, "content-type": "text/x-unknown" },
      body: "x",
    });
    expect((await expectError(media, 415)).code).toBe("RUNLET_UNSUPPORTED_MEDIA_TYPE");
    const json = await fetch(`${runlet.url}/api/v1/functions/x`, {
      method: "PUT",
      headers: { ...auth, "content-type": "application/json" },
      body: "{not json",
    });
    expect((await expectError(json, 400)).code).toBe("RUNLET_INVALID_REQUEST");
    const missing = await fetch(`${runlet.url}/no/such/route`, { method: "DELETE" });
    expect((await expectError(missing, 404)).code).toBe("RUNLET_NOT_FOUND");
  });

  it("answers a request without Host with a 400 and a body, whichever front reads it", async () => {
    const runlet = await startTestRunlet();
    for (const request of [
      // The lean front's shape but for the missing Host.
      "POST /function/x HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi",
      // node:http's from the start.
      "GET /healthz HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ]) {
      const text = await raw(runlet.url, request);
      expect(text).toMatch(/^HTTP\/1.1 400 /);
      const body = /\{"error".*\}/s.exec(text)?.[0] ?? "";
      expect(JSON.parse(body)).toMatchObject({ error: { code: "RUNLET_INVALID_REQUEST" } });
    }
  });

  it("gives node:http's own refusals (a malformed head) an error body", async () => {
    const runlet = await startTestRunlet();
    const text = await raw(runlet.url, "GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n");
    expect(text).toMatch(/^HTTP\/1.1 400 /);
    expect(JSON.parse(/\{"error".*\}/s.exec(text)?.[0] ?? "")).toMatchObject({
      error: { code: "RUNLET_INVALID_REQUEST" },
    });
  });

  it("refuses a logs query with a bad tail or since with a 400 naming it", async () => {
    const runlet = await startTestRunlet();
    await runlet.deploy("logged", { "index.js": `export default async () => "ok";` });
    for (const [query, named] of [
      ["tail=abc", "tail"],
      ["tail=-5", "tail"],
      ["tail=1e300", "tail"],
      ["since=yesterday", "since"],
    ] as const) {
      const response = await runlet.api(`/api/v1/functions/logged/logs?${query}`);
      expect((await expectError(response, 400)).message).toContain(named);
    }
    const openfaas = await runlet.api(`/system/logs?name=logged&since=soon`);
    expect(openfaas.status).toBe(422);
    expect(((await openfaas.json()) as { error: { message: string } }).error.message).toContain(
      "since",
    );
    expect((await runlet.api(`/api/v1/functions/logged/logs?tail=5`)).status).toBe(200);
  });

  it("answers 400, not 500, to an archive the unpacker refuses (a file written through a link)", async () => {
    const runlet = await startTestRunlet();
    const through = await tempDir("runlet-archive-");
    await mkdir(join(through, "real"));
    await symlink("real", join(through, "link"));
    await writeFile(join(through, "index.js"), "export default async () => 1;");
    // A link inside the package, then a file written through it.
    const withLink = await tarOf(through, ["index.js", "link"]);
    await rm(join(through, "link"));
    await mkdir(join(through, "link"));
    await writeFile(join(through, "link", "f"), "x");
    const archives = {
      through: joinTars([withLink, await tarOf(through, ["link/f"])]),
    };
    for (const [what, bytes] of Object.entries(archives)) {
      const upload = await runlet.api("/api/v1/packages", {
        method: "POST",
        headers: { "content-type": "application/gzip" },
        body: bytes,
      });
      const { code } = await expectError(upload, 400);
      expect(code, what).toBe("RUNLET_INVALID_ARCHIVE");
    }
  });

  it("does not show a missing package folder's host path to a caller, and logs it", async () => {
    const dataDir = await tempDir();
    const first = withApi(await startRunlet({ port: 0, adminToken, dataDir }), dataDir);
    await first.deploy("gone", { "index.js": `export default async () => "ok";` });
    await first.close(2000);
    for (const dir of await readdir(join(dataDir, "packages"))) {
      await rm(join(dataDir, "packages", dir, "tree"), { recursive: true, force: true });
    }
    const runlet = await startTestRunlet({ dataDir });
    const logged: string[] = [];
    runlet.platform.events.on("backgroundError", (error: unknown) =>
      logged.push(error instanceof Error ? error.message : String(error)),
    );
    const response = await fetch(`${runlet.url}/function/gone`);
    const text = await response.text();
    expect(response.status).toBeGreaterThanOrEqual(500);
    const body = JSON.parse(text) as { error: { code: string; message: string } };
    expect(typeof body.error.code).toBe("string");
    expect(text).not.toContain(dataDir);
    expect(text).not.toMatch(/\/(tmp|run|home|var)\//);
    if (body.error.code === "RUNLET_UPSTREAM_FAILED") {
      await eventually(() => logged.some((line) => line.includes("gone")), {
        what: "the failure's detail in the log",
      });
    }
  });
});

/** The tar stream (not gzipped) of `entries` under `cwd`. */
async function tarOf(cwd: string, entries: string[]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of create({ cwd, portable: true }, entries)) {
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Tar streams joined into one .tar.gz: each one's end-of-archive blocks dropped but the last. */
function joinTars(tars: Buffer[]): Buffer {
  const parts = tars.map((tar, index) => {
    if (index === tars.length - 1) {
      return tar;
    }
    let end = tar.length;
    while (end >= 512 && tar.subarray(end - 512, end).every((byte) => byte === 0)) {
      end -= 512;
    }
    return tar.subarray(0, end);
  });
  return gzipSync(Buffer.concat(parts));
}
