/**
 * Checks and unpacks an uploaded package archive. Everything is checked before anything is
 * written: paths that leave the package (absolute, "..", links pointing out), special files,
 * and the unpacked size against the limit. Every problem is reported at once.
 */
import { mkdir } from "node:fs/promises";
import { posix } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Parser, extract, type ReadEntry } from "tar";
import { UserError } from "../errors.js";
import { formatSize, humanSize } from "../spec/units.js";

export interface UnpackLimits {
  /** Largest total size of the files once unpacked. */
  readonly maxUnpackedBytes: number;
  readonly maxFiles: number;
}

const allowedTypes = new Set(["File", "OldFile", "ContiguousFile", "Directory", "SymbolicLink"]);

export async function checkArchive(archive: Buffer, limits: UnpackLimits): Promise<void> {
  const problems: string[] = [];
  let total = 0;
  let files = 0;
  const parser = new Parser({
    onReadEntry: (entry: ReadEntry) => {
      files += 1;
      total += entry.size;
      const problem = entryProblem(entry);
      if (problem) {
        problems.push(problem);
      }
      entry.resume();
    },
  });
  try {
    await pipeline(Readable.from([archive]), parser);
  } catch (error) {
    throw new UserError(
      "RUNLET_INVALID_ARCHIVE",
      `The package is not a valid .tar.gz archive (${error instanceof Error ? error.message : String(error)}).`,
    );
  }
  if (files === 0) {
    problems.push("the archive is empty (or not a tar archive)");
  }
  if (problems.length > 0) {
    throw new UserError(
      "RUNLET_INVALID_ARCHIVE",
      `The package archive was refused:\n${problems.map((p) => `  - ${p}`).join("\n")}`,
      { details: { problems } },
    );
  }
  if (total > limits.maxUnpackedBytes) {
    throw new UserError(
      "RUNLET_PACKAGE_TOO_LARGE",
      `The package unpacks to ${humanSize(total)} (${total} bytes); the limit is ${formatSize(limits.maxUnpackedBytes)}. Leave build output and large data out of the source folder.`,
    );
  }
  if (files > limits.maxFiles) {
    throw new UserError(
      "RUNLET_PACKAGE_TOO_LARGE",
      `The package has ${files} files; the limit is ${limits.maxFiles}.`,
    );
  }
}

function entryProblem(entry: ReadEntry): string | undefined {
  const path = entry.path;
  if (!allowedTypes.has(entry.type)) {
    return `${path}: ${entry.type} entries are not allowed`;
  }
  if (path.startsWith("/") || /^[A-Za-z]:/.test(path)) {
    return `${path}: absolute paths are not allowed`;
  }
  const normal = posix.normalize(path);
  if (normal === ".." || normal.startsWith("../") || path.split("/").includes("..")) {
    return `${path}: the path leaves the package ("..")`;
  }
  if (entry.type === "SymbolicLink") {
    const target = entry.linkpath ?? "";
    const resolved = posix.normalize(posix.join(posix.dirname(normal), target));
    if (target.startsWith("/") || resolved === ".." || resolved.startsWith("../")) {
      return `${path}: symbolic link to ${target} points outside the package`;
    }
  }
  return undefined;
}

/** Unpacks a checked archive into `dest` (created). Call checkArchive first. */
export async function unpackArchive(archive: Buffer, dest: string): Promise<void> {
  await mkdir(dest, { recursive: true });
  await pipeline(
    Readable.from([archive]),
    extract({ cwd: dest, strict: true, preserveOwner: false, noMtime: true }),
  );
}
