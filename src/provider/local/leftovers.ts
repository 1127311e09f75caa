/**
 * What a platform killed without a chance to clean up leaves behind (issue 13, item 13): its
 * socket folder under the temp dir, its instances' folders under the data dir, and its
 * cgroups. Each is named after the process that made it, so the next start removes those of
 * processes that no longer run and leaves a live platform's alone.
 */
import { readdir, readFile, rm, rmdir } from "node:fs/promises";
import { join } from "node:path";

/** Whether `pid` is a running process (a zombie counts as gone). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Removes the entries of `dir` matching `pattern` (group 1: the owner's pid) whose owner is gone. */
export async function removeDeadOwners(dir: string, pattern: RegExp): Promise<string[]> {
  const entries = await readdir(dir).catch(() => [] as string[]);
  const removed: string[] = [];
  for (const name of entries) {
    const pid = Number(pattern.exec(name)?.[1]);
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || isAlive(pid)) {
      continue;
    }
    await rm(join(dir, name), { recursive: true, force: true, maxRetries: 3 }).catch(
      () => undefined,
    );
    removed.push(name);
  }
  return removed;
}

/**
 * Removes the instance cgroups a dead platform left under `parent` (one folder per
 * controller): kills what still runs in each, then removes the groups, innermost first.
 */
export async function removeDeadCgroups(parents: readonly string[]): Promise<void> {
  for (const parent of parents) {
    for (const name of await readdir(parent).catch(() => [] as string[])) {
      const pid = Number(/^runlet-(\d+)$/.exec(name)?.[1]);
      if (!Number.isInteger(pid) || pid === process.pid || isAlive(pid)) {
        continue;
      }
      const group = join(parent, name);
      const children = (await readdir(group, { withFileTypes: true }).catch(() => []))
        .filter((entry) => entry.isDirectory())
        .map((entry) => join(group, entry.name));
      for (const dir of [...children, group]) {
        await killMembers(dir);
        await removeGroup(dir);
      }
    }
  }
}

async function killMembers(group: string): Promise<void> {
  const pids = await readFile(join(group, "cgroup.procs"), "utf8").catch(() => "");
  for (const pid of pids.split("\n").filter(Boolean)) {
    try {
      process.kill(Number(pid), "SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

async function removeGroup(group: string): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt += 1) {
    try {
      await rmdir(group);
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT") {
        return;
      }
      // A group empties a moment after its last process is killed.
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}
