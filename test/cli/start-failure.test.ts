/**
 * Issue 13, item 9: `runlet up` whose start fails (a broken data dir, a full disk) exits
 * non-zero with the cause, instead of staying alive without listening. Runs the built binary.
 */
import { spawn } from "node:child_process";
import { execFileSync } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { binaryEnv, runletBin } from "../helpers/binary.js";
import { startTestRunlet, tempDir } from "../helpers/runlet.js";

interface Exit {
  readonly code: number | null;
  readonly stderr: string;
}

/** Runs `runlet up` on `dataDir`; fails the test if it is still running after the deadline. */
function up(dataDir: string, home: string): Promise<Exit> {
  const child = spawn(
    process.execPath,
    [runletBin, "up", "--port", "0", "--pool-size", "1", "--data-dir", dataDir],
    { env: binaryEnv({ HOME: home }), stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    const deadline = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`runlet up did not exit after its start failed; stderr:\n${stderr}`));
    }, 30_000);
    child.once("exit", (code) => {
      clearTimeout(deadline);
      resolve({ code, stderr });
    });
  });
}

/** A data dir a real start made, its database then damaged by `damage`. */
async function damagedDataDir(damage: (db: Database.Database) => void): Promise<string> {
  const dataDir = await tempDir("runlet-data-");
  const runlet = await startTestRunlet({ dataDir, poolSize: 1 });
  await runlet.close(0);
  const db = new Database(join(dataDir, "runlet.db"));
  damage(db);
  db.close();
  return dataDir;
}

describe("runlet up when the start fails", () => {
  it("exits non-zero with the cause when the database fails after instances have started", async () => {
    const home = await tempDir("runlet-home-");
    // Triggers load last, after the executor's warm pool has started its instances.
    const dataDir = await damagedDataDir((db) => db.exec("DROP TABLE triggers"));
    const exit = await up(dataDir, home);
    expect(exit.code).not.toBe(0);
    expect(exit.stderr).toContain("no such table: triggers");
  });

  it("exits non-zero with the cause when the data dir is a file", async () => {
    const home = await tempDir("runlet-home-");
    const file = join(await tempDir(), "not-a-dir");
    await writeFile(file, "x");
    const exit = await up(file, home);
    expect(exit.code).not.toBe(0);
    expect(exit.stderr).toContain(file);
  });

  it("exits non-zero with the cause when the data disk is full", async (context) => {
    if (process.getuid?.() !== 0) {
      context.skip(); // mounting a tmpfs needs root
    }
    const home = await tempDir("runlet-home-");
    const mountPoint = join(await tempDir(), "disk");
    await mkdir(mountPoint);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", mountPoint]);
    try {
      const exit = await up(join(mountPoint, "data"), home);
      expect(exit.code).not.toBe(0);
      expect(exit.stderr).toMatch(/disk is full|ENOSPC/);
    } finally {
      execFileSync("umount", ["-l", mountPoint]);
    }
  });
});
