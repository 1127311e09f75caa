/**
 * Mirrors a directory tree into another place on the host with hard links (copies where a
 * link cannot be made), so a package or a dependency tree is shown without being copied.
 */
import {
  copyFileSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  symlinkSync,
  type Dirent,
} from "node:fs";
import { join } from "node:path";
import { setImmediate as nextTurn } from "node:timers/promises";

/**
 * File system calls made in one go before the event loop gets a turn. Each is a few
 * microseconds done here, where the same call through the thread pool costs two thread
 * hand-offs, each a wake-up that waits its turn on a busy machine: linking a small package
 * into a warm-pool instance took 0.4-22 ms that way, most of a cold start (docs/benchmarks.md).
 * A tree of thousands of files (a build's node_modules) still lets other work run between
 * steps.
 */
const callsPerStep = 64;

/**
 * Makes `source` visible at `target` (an instance's function directory, a build's work
 * tree): hard links when it is on the same filesystem (no copy), copies otherwise. Whoever
 * shows it to a sandbox mounts it read-only, so the shared inodes are never written.
 */
export async function linkTree(source: string, target: string): Promise<void> {
  const budget = { left: callsPerStep };
  const spend = async (): Promise<void> => {
    budget.left -= 1;
    if (budget.left <= 0) {
      budget.left = callsPerStep;
      await nextTurn();
    }
  };
  await linkDirectory(source, target, spend);
}

async function linkDirectory(
  source: string,
  target: string,
  spend: () => Promise<void>,
): Promise<void> {
  mkdirSync(target, { recursive: true });
  const entries: Dirent[] = readdirSync(source, { withFileTypes: true });
  await spend();
  for (const entry of entries) {
    const from = join(source, entry.name);
    const to = join(target, entry.name);
    if (entry.isDirectory()) {
      await linkDirectory(from, to, spend);
      continue;
    }
    if (entry.isSymbolicLink()) {
      symlinkSync(readlinkSync(from), to);
    } else if (entry.isFile()) {
      try {
        linkSync(from, to);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== "EXDEV" && code !== "EPERM" && code !== "EMLINK") {
          throw error;
        }
        copyFileSync(from, to);
      }
    }
    await spend();
  }
}
