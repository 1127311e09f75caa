/**
 * Issue 13, item 13 (instances): a platform killed with SIGKILL while instances run leaves
 * its socket folder, its instances' folders and its cgroups behind; the next start removes
 * them, and leaves those of a platform that still runs alone.
 */
import { existsSync, readFileSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { startChildRunlet } from "../helpers/child-runlet.js";
import { eventually, startTestRunlet, tempDir } from "../helpers/runlet.js";

/** A real platform with two warm instances, which prints its pid and url. */
const serverScript = `
const { startRunlet } = await import(${JSON.stringify(resolve("src/gateway/start.ts"))});
const runlet = await startRunlet({ port: 0, adminToken: process.env.TOKEN, dataDir: process.env.DATA_DIR, poolSize: 2 });
console.log("url " + runlet.url);
`;

/** The cgroup folders (one per v1 controller, or the v2 one) named after `pid`. */
function cgroupsOf(pid: number): string[] {
  const found: string[] = [];
  for (const line of readFileSync(`/proc/${process.pid}/cgroup`, "utf8").split("\n")) {
    const [, controllers, path] = line.split(":");
    if (controllers === undefined || path === undefined) {
      continue;
    }
    const mounts =
      controllers === ""
        ? ["/sys/fs/cgroup"]
        : controllers
            .split(",")
            .filter((c) => ["memory", "pids", "cpu"].includes(c))
            .map((c) => `/sys/fs/cgroup/${c}`);
    for (const mount of mounts) {
      const dir = join(mount, path, `runlet-${pid}`);
      if (existsSync(dir)) {
        found.push(dir);
      }
    }
  }
  return found;
}

async function runDirsOf(pid: number): Promise<string[]> {
  return (await readdir(tmpdir())).filter((name) => name.startsWith(`runlet-${pid}-`));
}

describe("a platform killed while instances run", () => {
  it("leaves socket folders, instance folders and cgroups that the next start removes", async () => {
    const dataDir = await tempDir();
    const server = await startChildRunlet(serverScript, dataDir);
    const pid = server.pid;
    try {
      expect(server.url).toMatch(/^http:/);
      // The warm pool is up once its instances have their own folders.
      await eventually(
        async () =>
          (await readdir(join(dataDir, "run", String(pid))).catch(() => [])).length >= 2
            ? true
            : undefined,
        { timeoutMs: 30_000, what: "two warm instances" },
      );
    } finally {
      await server.kill();
    }
    expect(await runDirsOf(pid)).not.toEqual([]);
    expect(existsSync(join(dataDir, "run", String(pid)))).toBe(true);
    expect(cgroupsOf(pid)).not.toEqual([]);

    const runlet = await startTestRunlet({ dataDir, poolSize: 0 });
    expect(await runDirsOf(pid)).toEqual([]);
    expect(existsSync(join(dataDir, "run", String(pid)))).toBe(false);
    await eventually(() => (cgroupsOf(pid).length === 0 ? true : undefined), {
      what: "the dead platform's cgroups to go",
    });
    // This platform's own folders are kept while it runs.
    expect(await runDirsOf(process.pid)).not.toEqual([]);
    await runlet.close(2000);
  });
});
