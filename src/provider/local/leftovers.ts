/**
 * What a platform killed without a chance to clean up leaves behind (issue 13, item 13): its
 * socket folder under the temp dir, its instances' folders under the data dir, and its
 * cgroups. Each is named after the process that made it, so the next start removes those of
 * processes that no longer run and leaves a live platform's alone.
 */
import { readdir, rm } from "node:fs/promises";
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

/** Whether `name` (group 1 of `pattern`: its owner's pid) belongs to a process that is gone. */
export function isLeftover(name: string, pattern: RegExp): boolean {
  const pid = Number(pattern.exec(name)?.[1]);
  return Number.isInteger(pid) && pid > 0 && pid !== process.pid && !isAlive(pid);
}

/** Removes the entries of `dir` whose names `pattern` ties to a process that is gone. */
export async function removeDeadOwners(dir: string, pattern: RegExp): Promise<void> {
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (isLeftover(name, pattern)) {
      await rm(join(dir, name), { recursive: true, force: true, maxRetries: 3 }).catch(
        () => undefined,
      );
    }
  }
}
