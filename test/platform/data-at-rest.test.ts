/**
 * Credentials at rest (issue 13): an async call's credential headers never lie in the store
 * in plain text, the database files are the platform user's alone, and a data directory
 * others can read is made private at start.
 */
import { chmod, mkdir, readFile, readdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { eventually, startTestRunlet, tempDir, type TestRunlet } from "../helpers/runlet.js";

/** Says whether it got the credentials it expects, without echoing them. */
const checker = `export default async function (event) {
  return {
    authorized: event.headers.authorization === "Bearer fn-own-token",
    cookie: event.headers.cookie === "session=fn-cookie",
  };
}
`;

async function storeBytes(runlet: TestRunlet): Promise<string> {
  let text = "";
  for (const file of await readdir(runlet.dataDir)) {
    if (file.startsWith("runlet.db")) {
      text += (await readFile(join(runlet.dataDir, file))).toString("latin1");
    }
  }
  return text;
}

async function modeOf(path: string): Promise<string> {
  return ((await stat(path)).mode & 0o777).toString(8);
}

describe("credentials at rest", () => {
  it("keeps a function's own Authorization and Cookie of an async call sealed, and still sends them", async () => {
    const dataDir = await tempDir();
    // Stored by one platform that runs nothing…
    const first = await startTestRunlet({ dataDir, sandbox: "none", calls: { maxConcurrency: 0 } });
    expect((await first.deploy("checker", { "index.js": checker })).status).toBe(201);
    const accepted = await fetch(`${first.url}/async-function/checker`, {
      method: "POST",
      headers: { authorization: "Bearer fn-own-token", cookie: "session=fn-cookie" },
      body: "x",
    });
    expect(accepted.status).toBe(202);
    const id = accepted.headers.get("x-call-id") ?? "";
    await eventually(async () => ((await first.platform.calls.get(id)) ? true : undefined));
    const bytes = await storeBytes(first);
    expect(bytes).toContain(id);
    expect(bytes).not.toContain("fn-own-token");
    expect(bytes).not.toContain("fn-cookie");
    await first.close(1000);

    // …run by the next one, which opens them with the data dir's key.
    const second = await startTestRunlet({ dataDir, sandbox: "none" });
    const done = await eventually(async () => {
      const response = await second.api(`/api/v1/calls/${id}`);
      const text = await response.text();
      return text.includes('"succeeded"') ? text : undefined;
    });
    expect(JSON.parse(JSON.parse(done).result.body as string)).toEqual({
      authorized: true,
      cookie: true,
    });
    expect(done).not.toContain("fn-own-token");
    expect(done).not.toContain("fn-cookie");
    expect(await storeBytes(second)).not.toContain("fn-own-token");
  });

  it("makes runlet.db, -wal and -shm 0600, also when they were 0644 before", async () => {
    const dataDir = await tempDir();
    await mkdir(dataDir, { recursive: true });
    await writeFile(join(dataDir, "runlet.db"), "");
    await chmod(join(dataDir, "runlet.db"), 0o644);
    const runlet = await startTestRunlet({ dataDir, sandbox: "none" });
    expect((await runlet.deploy("checker", { "index.js": checker })).status).toBe(201);
    const files = (await readdir(dataDir)).filter((file) => file.startsWith("runlet.db"));
    expect(files.sort()).toEqual(["runlet.db", "runlet.db-shm", "runlet.db-wal"]);
    for (const file of files) {
      expect(await modeOf(join(dataDir, file)), file).toBe("600");
    }
  });

  it("makes a data dir that other users can read private at start, and says so", async () => {
    const dataDir = join(await tempDir(), "state");
    await mkdir(dataDir, { mode: 0o755 });
    await chmod(dataDir, 0o755);
    const runlet = await startTestRunlet({ dataDir, sandbox: "none" });
    expect(await modeOf(dataDir)).toBe("700");
    expect(runlet.platform.dataDir.notices).toEqual([
      `the data dir ${dataDir} was readable by other users (mode 0755); it is now 0700`,
    ]);
    await runlet.close(1000);
    // Private already: nothing to say the next time.
    const again = await startTestRunlet({ dataDir, sandbox: "none" });
    expect(again.platform.dataDir.notices).toEqual([]);
  });
});
