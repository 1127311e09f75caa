/**
 * Issue 13, item 3: archives whose links resolve outside the package (through other links, as
 * absolute or hard links) and special files are refused at upload, so no build tool or function
 * ever reads a host file through them.
 */
import { readdir, readlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { digestOf } from "../../src/packaging/pack.js";
import { tarGz, type TarEntry } from "../helpers/archive.js";
import { startTestRunlet, tempDir, type TestRunlet } from "../helpers/runlet.js";

interface ErrorBody {
  error: { code: string; message: string; problems?: string[] };
}

async function upload(runlet: TestRunlet, archive: Buffer): Promise<Response> {
  return runlet.api("/api/v1/packages", {
    method: "POST",
    headers: { "content-type": "application/gzip" },
    body: archive,
  });
}

/** Uploads `entries`, expects a 400 refusal, and checks nothing of it was stored. */
async function refused(runlet: TestRunlet, entries: TarEntry[]): Promise<ErrorBody["error"]> {
  const archive = tarGz(entries);
  const response = await upload(runlet, archive);
  const body = (await response.json()) as ErrorBody;
  expect(response.status, JSON.stringify(body)).toBe(400);
  expect(body.error.code).toBe("RUNLET_INVALID_ARCHIVE");
  const head = await runlet.api(`/api/v1/packages/${digestOf(archive)}`, { method: "HEAD" });
  expect(head.status).toBe(404);
  expect(await readdir(join(runlet.dataDir, "packages"))).toEqual([]);
  return body.error;
}

const handler: TarEntry = { path: "index.js", body: "export default () => 'hi';\n" };

describe("uploads with links that leave the package", () => {
  it("refuses a chain of links that climbs out through a link to '.', and no host line is shown", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    // A host file only the server should read; the chain below points requirements.txt at it.
    const secretDir = await tempDir();
    const secretFile = join(secretDir, "secret.txt");
    await writeFile(secretFile, "RUNLET-HOST-SECRET-LINE\n");
    const error = await refused(runlet, [
      handler,
      { path: "x", type: "SymbolicLink", linkpath: "." },
      // Checked as written this stays inside ("x/x/x/../../.." is "."); resolved, x is the
      // package root each time, so it climbs three levels out.
      { path: "esc", type: "SymbolicLink", linkpath: "x/x/x/../../.." },
      {
        path: "requirements.txt",
        type: "SymbolicLink",
        linkpath: `esc/esc/esc/esc/esc/esc/esc/esc${secretFile}`,
      },
    ]);
    expect(error.problems).toContainEqual(
      "esc: symbolic link to x/x/x/../../.. resolves outside the package",
    );
    expect(error.problems?.some((p) => p.startsWith("requirements.txt: "))).toBe(true);
    expect(error.problems?.some((p) => p.startsWith("x: "))).toBe(false);
    expect(JSON.stringify(error)).not.toContain("RUNLET-HOST-SECRET-LINE");
  });

  it("refuses absolute links, links through a chain that loops, and hard links out of the package", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    const error = await refused(runlet, [
      handler,
      { path: "abs", type: "SymbolicLink", linkpath: "/etc/shadow" },
      { path: "a", type: "SymbolicLink", linkpath: "b" },
      { path: "b", type: "SymbolicLink", linkpath: "a" },
      { path: "up", type: "SymbolicLink", linkpath: "lib/../.." },
      { path: "hard-up", type: "Link", linkpath: "../../etc/passwd" },
      { path: "hard-abs", type: "Link", linkpath: "/etc/passwd" },
      { path: "hard-missing", type: "Link", linkpath: "nothing-here.js" },
    ]);
    expect(error.problems).toEqual(
      expect.arrayContaining([
        "abs: symbolic link to /etc/shadow points outside the package (absolute link)",
        "a: symbolic link to b never resolves (more than 40 links)",
        "b: symbolic link to a never resolves (more than 40 links)",
        "up: symbolic link to lib/../.. resolves outside the package",
        "hard-up: hard link to ../../etc/passwd does not name a file earlier in the archive",
        "hard-abs: hard link to /etc/passwd does not name a file earlier in the archive",
        "hard-missing: hard link to nothing-here.js does not name a file earlier in the archive",
      ]),
    );
  });

  it("refuses files placed under a link (they would be written where it points)", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    const error = await refused(runlet, [
      handler,
      { path: "out", type: "SymbolicLink", linkpath: "lib" },
      { path: "out/evil.js", body: "1" },
      { path: "lib/real.js", body: "2" },
      { path: "hard", type: "Link", linkpath: "lib/real.js" },
      { path: "via", type: "Link", linkpath: "out/evil.js" },
    ]);
    expect(error.problems).toEqual(
      expect.arrayContaining([
        "out/evil.js: is inside out, a symbolic link",
        "via: hard link to out/evil.js goes through out, a symbolic link",
      ]),
    );
    expect(error.problems?.some((p) => p.startsWith("hard:"))).toBe(false);
  });

  it("refuses device, fifo and path-escaping entries", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    const error = await refused(runlet, [
      handler,
      { path: "null", type: "CharacterDevice" },
      { path: "disk", type: "BlockDevice" },
      { path: "pipe", type: "FIFO" },
      { path: "../outside.js", body: "1" },
      { path: "/etc/cron.d/x", body: "1" },
      { path: `${"d/".repeat(200)}deep.js`, body: "1" },
    ]);
    expect(error.problems).toEqual(
      expect.arrayContaining([
        "null: CharacterDevice entries are not allowed (only files, folders and links)",
        "disk: BlockDevice entries are not allowed (only files, folders and links)",
        "pipe: FIFO entries are not allowed (only files, folders and links)",
        '../outside.js: the path leaves the package ("..")',
        "/etc/cron.d/x: absolute paths are not allowed",
      ]),
    );
    // (the archive's header keeps only the first 255 characters of the deep path)
    expect(
      error.problems?.some((p) => /^(d\/)+d?: the path is nested deeper than 64 folders$/.test(p)),
    ).toBe(true);
  });

  it("accepts links that stay inside, through other links, and hard links to earlier files", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    const archive = tarGz([
      handler,
      { path: "lib/util.js", body: "export const x = 1;\n" },
      { path: "x", type: "SymbolicLink", linkpath: "." },
      { path: "same", type: "SymbolicLink", linkpath: "x/x/lib/../index.js" },
      { path: "lib/up", type: "SymbolicLink", linkpath: "../x/lib/util.js" },
      { path: "copy.js", type: "Link", linkpath: "lib/util.js" },
    ]);
    const response = await upload(runlet, archive);
    expect(response.status, await response.clone().text()).toBe(201);
    const tree = runlet.platform.packages.treePath(digestOf(archive));
    expect(await readlink(join(tree, "same"))).toBe("x/x/lib/../index.js");
    expect(await readlink(join(tree, "lib/up"))).toBe("../x/lib/util.js");
  });
});
