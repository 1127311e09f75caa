/**
 * A runtime that fetches its own package (a pod's, docs/runtime-protocol.md "Fetching the
 * package"): it loads a package fetched with a grant and checked against its digest, writes the
 * secret values it was sent as 0400 files, and refuses, with a clear error and nothing written
 * outside its package directory, a package whose digest does not match or whose entries would
 * escape or abuse it. Each attack is a real archive served over real HTTP to each runtime.
 */
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, stat } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packDirectory } from "../../src/packaging/pack.js";
import { tarGz, type TarEntry } from "../provider/kubernetes/tar-fixtures.js";
import { tempDir, writeSource } from "../helpers/runlet.js";
import { runtimeNames, startRuntimeProcess, type RuntimeName } from "./runtime-process.js";

const token = "grant-for-the-test";
const archives = new Map<string, Buffer>();
let server: Server;
let base = "";

beforeAll(async () => {
  server = createServer((request, response) => {
    const archive = archives.get(request.url ?? "");
    if (request.headers.authorization !== `Bearer ${token}`) {
      response.writeHead(401, { "content-type": "application/json" });
      response.end(JSON.stringify({ error: { code: "RUNLET_UNAUTHORIZED", message: "no grant" } }));
      return;
    }
    if (!archive) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { "content-type": "application/gzip" }).end(archive);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  base = typeof address === "object" && address ? `http://127.0.0.1:${address.port}` : "";
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

function serve(archive: Buffer, digest: string): string {
  const path = `/packages/${digest}`;
  archives.set(path, archive);
  return `${base}${path}`;
}

const functions: Record<RuntimeName, { files: Record<string, string>; spec: object }> = {
  node: {
    files: {
      "index.mjs": `import { readFileSync, statSync } from "node:fs";
export default async (event, context) => ({ secret: context.secret("token"), mode: (statSync(context.secretsDir + "/token").mode & 0o777).toString(8), lib: readFileSync("lib/data.txt", "utf8") });`,
      "lib/data.txt": "from the package",
    },
    spec: { handler: "index.mjs" },
  },
  exec: {
    files: { "lib/data.txt": "from the package" },
    spec: {
      handler: "",
      mode: "stdio",
      command:
        'printf "%s|%s|%s" "$(cat "$RUNLET_SECRETS_DIR/token")" "$(stat -c %a "$RUNLET_SECRETS_DIR/token")" "$(cat lib/data.txt)"',
    },
  },
  python: {
    files: {
      "handler.py": `import os
def handle(event, context):
    path = os.path.join(os.environ.get("RUNLET_SECRETS_DIR", ""), "token")
    return {"secret": context.secret("token"), "lib": open("lib/data.txt").read()}
`,
      "lib/data.txt": "from the package",
    },
    spec: { handler: "handler.py" },
  },
};

/** Hostile archives, each with the words its refusal must say. */
const hostile: { name: string; entries: TarEntry[]; refusal: RegExp; escapes?: string }[] = [
  {
    name: "a path that climbs out",
    entries: [{ name: "../evil.txt", type: "file", body: "pwned" }],
    refusal: /leaves the package/,
    escapes: "evil.txt",
  },
  {
    name: "an absolute path",
    entries: [{ name: "/tmp/runlet-absolute-evil.txt", type: "file", body: "pwned" }],
    refusal: /absolute path/,
  },
  {
    name: "a symbolic link out of the package",
    entries: [{ name: "out", type: "symlink", linkName: "../../.." }],
    refusal: /points outside the package/,
  },
  {
    name: "a link that escapes through another link",
    entries: [
      { name: "here", type: "symlink", linkName: "." },
      { name: "up", type: "symlink", linkName: "here/../escape" },
    ],
    refusal: /points outside the package/,
  },
  {
    name: "a file written through a link",
    entries: [
      { name: "dir", type: "symlink", linkName: "sub" },
      { name: "dir/evil.txt", type: "file", body: "pwned" },
    ],
    refusal: /goes through the link dir/,
  },
  {
    name: "a hard link",
    entries: [{ name: "passwd", type: "hardlink", linkName: "/etc/passwd" }],
    refusal: /hard link/,
  },
  {
    name: "a device file",
    entries: [{ name: "disk", type: "chardev" }],
    refusal: /device file/,
  },
];

describe.each(runtimeNames)("the %s runtime fetching its package", (name) => {
  async function specializeWith(
    packageField: Record<string, unknown>,
    extra: Record<string, unknown> = {},
  ): Promise<{ status: number; body: { error?: { code: string; message: string } } }> {
    const runtime = await startRuntimeProcess(name, { transport: "tcp" });
    const work = await tempDir("runlet-fetch-work-");
    const answer = await runtime.call("/v2/specialize", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        name: "fetched",
        revision: "1",
        env: {},
        timeoutMs: 10_000,
        concurrency: 2,
        packagePath: join(work, "package"),
        secretsDir: join(work, "secrets"),
        fissionDir: join(work, "fission"),
        package: packageField,
        ...functions[name].spec,
        ...extra,
      }),
    });
    lastWork = work;
    lastRuntime = runtime;
    return {
      status: answer.status,
      body: JSON.parse(answer.body) as { error?: { code: string; message: string } },
    };
  }
  let lastWork = "";
  let lastRuntime: Awaited<ReturnType<typeof startRuntimeProcess>> | undefined;

  it("loads a package fetched with its grant, and writes the secrets as 0400 files", async () => {
    const packed = await packDirectory(await writeSource(functions[name].files));
    const raw = Buffer.from([0xff, 0x00, 0x80, 0x0a]);
    const answer = await specializeWith(
      { url: serve(packed.archive, packed.digest), token, digest: packed.digest },
      {
        secretFiles: { token: Buffer.from("s3cret").toString("base64") },
        fissionFiles: {
          "secrets/default/db/raw": raw.toString("base64"),
          "configs/default/settings/mode": Buffer.from("fast").toString("base64"),
        },
      },
    );
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const mode = (await stat(join(lastWork, "secrets", "token"))).mode & 0o777;
    expect(mode).toBe(0o400);
    // Bytes as they were, not read as text on the way.
    expect(await readFile(join(lastWork, "fission", "secrets", "default", "db", "raw"))).toEqual(
      raw,
    );
    expect(
      await readFile(join(lastWork, "fission", "configs", "default", "settings", "mode"), "utf8"),
    ).toBe("fast");
    const called = await lastRuntime?.call("/", { headers: { "x-call-id": "call-1" } });
    expect(called?.status).toBe(200);
    expect(called?.body).toContain("s3cret");
    expect(called?.body).toContain("from the package");
    // Only the package and the secrets: the downloaded archive is gone.
    expect((await readdir(lastWork)).sort()).toEqual(["fission", "package", "secrets"]);
  });

  it("refuses a secret file whose path leaves its tree", async () => {
    const packed = await packDirectory(await writeSource(functions[name].files));
    for (const path of ["secrets/default/../../escape", "other/default/db/key", "secrets/db"]) {
      const answer = await specializeWith(
        { url: serve(packed.archive, packed.digest), token, digest: packed.digest },
        { fissionFiles: { [path]: Buffer.from("x").toString("base64") } },
      );
      expect(answer.status, path).toBe(422);
      expect(answer.body.error?.message).toMatch(/not a valid secret name/);
    }
    expect(await readdir(lastWork)).not.toContain("escape");
  });

  it("refuses a package whose bytes do not match the digest asked for", async () => {
    const packed = await packDirectory(await writeSource(functions[name].files));
    const other = `sha256:${"0".repeat(64)}`;
    const answer = await specializeWith({
      url: serve(packed.archive, other),
      token,
      digest: other,
    });
    expect(answer.status).toBe(422);
    expect(answer.body.error?.code).toBe("RUNLET_PACKAGE_REFUSED");
    expect(answer.body.error?.message).toMatch(
      /digest is sha256:[0-9a-f]{64}, not the sha256:0+ asked for/,
    );
  });

  it("says so when the platform refuses the grant", async () => {
    const packed = await packDirectory(await writeSource(functions[name].files));
    const answer = await specializeWith({
      url: serve(packed.archive, packed.digest),
      token: "not-the-grant",
      digest: packed.digest,
    });
    expect(answer.status).toBe(422);
    expect(answer.body.error?.message).toContain("answered 401: no grant");
  });

  it.each(hostile)("refuses a package with $name", async ({ entries, refusal, escapes }) => {
    const { archive, digest } = tarGz(entries);
    const answer = await specializeWith({ url: serve(archive, digest), token, digest });
    expect(answer.status, JSON.stringify(answer.body)).toBe(422);
    expect(answer.body.error?.code).toBe("RUNLET_PACKAGE_REFUSED");
    expect(answer.body.error?.message).toMatch(refusal);
    if (escapes) {
      expect(existsSync(join(lastWork, escapes))).toBe(false);
    }
    expect(existsSync("/tmp/runlet-absolute-evil.txt")).toBe(false);
  });

  it("refuses a package that unpacks past its limit (a decompression bomb), writing at most the limit", async () => {
    const { archive, digest } = tarGz([
      { name: "zeros.bin", type: "file", body: Buffer.alloc(8 * 1024 * 1024) },
    ]);
    expect(archive.length).toBeLessThan(64 * 1024);
    await mkdir(join(await tempDir(), "unused"), { recursive: true });
    const answer = await specializeWith({
      url: serve(archive, digest),
      token,
      digest,
      maxUnpackedBytes: 1024 * 1024,
    });
    expect(answer.status).toBe(422);
    expect(answer.body.error?.message).toMatch(/unpacks to more than 1048576 bytes/);
    expect(existsSync(join(lastWork, "package", "zeros.bin"))).toBe(false);
  });
});
