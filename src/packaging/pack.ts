/**
 * Packs a function's source directory into a deterministic gzipped tar: sorted entries, no
 * owners, no timestamps — so the same tree always gives the same digest and an unchanged
 * redeploy is a no-op.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative, sep } from "node:path";
import { create } from "tar";
import { UserError } from "../errors.js";

/** Never part of a function package. */
const alwaysIgnored = new Set([".git", ".hg", ".svn", ".DS_Store", ".runlet"]);

/**
 * A tar link cache that never remembers a file: files with several hard links are packed as
 * regular files (the server refuses hard-link entries, and a source folder may well contain
 * them, e.g. an installed esbuild).
 */
class NoHardLinks extends Map<`${number}:${number}`, string> {
  override set(): this {
    return this;
  }
}

export interface PackedSource {
  readonly archive: Buffer;
  /** "sha256:<hex>" of the archive bytes. */
  readonly digest: string;
  readonly files: number;
}

export interface PackOptions {
  /** Keep the top-level `.runlet` folder (a built package's dependencies and compiled code). @default false */
  readonly includeBuildOutput?: boolean;
}

export async function packDirectory(dir: string, options: PackOptions = {}): Promise<PackedSource> {
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) {
    throw new UserError(
      "RUNLET_SOURCE_NOT_FOUND",
      `Source directory ${dir} does not exist or is not a directory; pass --source DIR (the folder with your handler).`,
    );
  }
  const listed = await listFiles(dir, options.includeBuildOutput ?? false);
  // An empty folder is a valid source (an exec function whose command is on the PATH):
  // pack the folder itself so the archive is not empty.
  const files = listed.length > 0 ? listed : ["."];
  const chunks: Buffer[] = [];
  const stream = create(
    {
      cwd: dir,
      gzip: { level: 6 },
      portable: true,
      noMtime: true,
      noDirRecurse: true,
      linkCache: new NoHardLinks(),
    },
    files,
  );
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    chunks.push(chunk);
  }
  const archive = Buffer.concat(chunks);
  return { archive, digest: digestOf(archive), files: listed.length };
}

export function digestOf(bytes: Buffer): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/**
 * Every regular file and symlink under `root`, relative and sorted (POSIX separators). Next
 * to a package.json, the top-level node_modules is left out: the server installs the
 * declared dependencies itself, and a local install (dev tools, a platform's binaries) would
 * only make the upload large.
 */
async function listFiles(root: string, includeBuildOutput: boolean): Promise<string[]> {
  const found: string[] = [];
  const skipNodeModules = !includeBuildOutput && existsSync(join(root, "package.json"));
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    for (const entry of entries) {
      const keep = includeBuildOutput && dir === root && entry.name === ".runlet";
      if (alwaysIgnored.has(entry.name) && !keep) {
        continue;
      }
      if (skipNodeModules && dir === root && entry.name === "node_modules") {
        continue;
      }
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        await walk(path);
      } else if (entry.isFile() || entry.isSymbolicLink()) {
        found.push(relative(root, path).split(sep).join("/"));
      }
    }
  };
  await walk(root);
  return found.sort();
}

/** The package of a function with no code of its own (a program on the PATH). */
export async function packEmptySource(): Promise<PackedSource> {
  const empty = await mkdtemp(join(tmpdir(), "runlet-empty-"));
  try {
    return await packDirectory(empty);
  } finally {
    await rm(empty, { recursive: true, force: true });
  }
}
