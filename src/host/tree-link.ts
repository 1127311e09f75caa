/**
 * Mirrors a directory tree into another place on the host with hard links (copies where a
 * link cannot be made), so a package or a dependency tree is shown without being copied.
 */
import { copyFile, link, mkdir, readdir, readlink, symlink } from "node:fs/promises";
import { join } from "node:path";

/**
 * Makes `source` visible at `target` (an instance's function directory, a build's work
 * tree): hard links when it is on the same filesystem (no copy), copies otherwise. Whoever
 * shows it to a sandbox mounts it read-only, so the shared inodes are never written.
 */
export async function linkTree(source: string, target: string): Promise<void> {
  await mkdir(target, { recursive: true });
  for (const entry of await readdir(source, { withFileTypes: true })) {
    const from = join(source, entry.name);
    const to = join(target, entry.name);
    if (entry.isDirectory()) {
      await linkTree(from, to);
    } else if (entry.isSymbolicLink()) {
      await symlink(await readlink(from), to);
    } else if (entry.isFile()) {
      await link(from, to).catch(async (error: NodeJS.ErrnoException) => {
        if (error.code === "EXDEV" || error.code === "EPERM" || error.code === "EMLINK") {
          await copyFile(from, to);
          return;
        }
        throw error;
      });
    }
  }
}
