/**
 * Checks and unpacks an uploaded package archive in one streamed pass (issue 13, items 3 and 7):
 * the gzip is inflated off the event loop in bounded chunks, and decompression stops as soon as
 * the unpacked size, the file count or the compression ratio passes its limit, so a bomb costs
 * at most the limit in disk writes and a chunk in memory. Entries are written as they come;
 * symbolic links are created only at the end, once every link of the archive is known and each
 * one is shown to resolve (through other links) inside the package. Every problem with the
 * entries is reported at once.
 */
import { createWriteStream, type WriteStream } from "node:fs";
import { link, mkdir, symlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Readable, Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { Parser, type ReadEntry } from "tar";
import { UserError } from "../errors.js";
import { formatSize, humanSize } from "../spec/units.js";

export interface UnpackLimits {
  /** Largest total size of the files once unpacked. */
  readonly maxUnpackedBytes: number;
  readonly maxFiles: number;
  /**
   * Largest ratio of decompressed to uploaded bytes, checked once more than
   * `ratioFloorBytes` are decompressed (so small packages never meet it). @default 200
   */
  readonly maxCompressionRatio?: number;
}

/** How far decompression has got: what a progress hook sees after each chunk. */
export interface UnpackProgress {
  /** Uploaded (compressed) bytes fed to the decompressor so far. */
  readonly compressedBytes: number;
  /** Tar bytes decompressed so far (headers included). */
  readonly decompressedBytes: number;
}

export interface UnpackOptions {
  /** Called after each decompressed chunk; decompression waits for a returned promise. */
  readonly onProgress?: (progress: UnpackProgress) => Promise<void> | void;
}

export interface UnpackedTree {
  /** Entries other than folders. */
  readonly files: number;
  /** Sum of the entries' sizes. */
  readonly bytes: number;
}

export const defaultMaxCompressionRatio = 200;
/** Below this many decompressed bytes the ratio is not checked. */
export const ratioFloorBytes = 1024 * 1024;
/** Uploaded bytes handed to the decompressor at a time. */
const inputChunkBytes = 64 * 1024;
/** Tar framing allowed beyond the entries' data: a header and padding per entry, end blocks. */
const framingPerEntry = 1536;
const framingSlack = 1024 * 1024;
const maxPathChars = 1024;
/** How many folders deep an entry may be. */
const maxPathDepth = 64;
const maxLinkHops = 40;

const fileTypes = new Set(["File", "OldFile", "ContiguousFile"]);
/** File-system errors an entry's own shape causes (duplicates, a file used as a folder, …). */
const entryErrors = new Set(["EEXIST", "ENOTDIR", "EISDIR", "ENAMETOOLONG", "ELOOP", "ENOENT"]);

/**
 * Checks `archive` (a .tar.gz, or a plain .tar) and unpacks it into `dest` (created). Throws a
 * UserError (400/413) for anything refused; `dest` may then hold part of the tree, and the
 * caller removes it.
 */
export async function unpackArchive(
  archive: Buffer,
  dest: string,
  limits: UnpackLimits,
  options: UnpackOptions = {},
): Promise<UnpackedTree> {
  const maxRatio = limits.maxCompressionRatio ?? defaultMaxCompressionRatio;
  const gzipped = archive[0] === 0x1f && archive[1] === 0x8b;
  const problems: string[] = [];
  const writes: Promise<void>[] = [];
  /** Files being written, closed when unpacking stops early. */
  const open = new Set<WriteStream>();
  /** Each file's write, so a hard link to it waits until it exists. */
  const fileWrites = new Map<string, Promise<void>>();
  /** Paths (normalized, relative) of everything but symbolic links, by kind. */
  const dirs = new Set<string>([""]);
  const files = new Set<string>();
  const hardLinks = new Map<string, string>();
  const symlinks = new Map<string, string>();
  let entries = 0;
  let declared = 0;
  let compressed = 0;
  let decompressed = 0;
  let stop: UserError | undefined;

  await mkdir(dest, { recursive: true });

  function* input(): Generator<Buffer> {
    for (let offset = 0; offset < archive.length; offset += inputChunkBytes) {
      const chunk = archive.subarray(offset, offset + inputChunkBytes);
      compressed += chunk.length;
      yield chunk;
    }
  }

  const meter = new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      if (decompressed === 0 && startsCompressed(chunk)) {
        callback(invalid("the archive is compressed twice; upload one .tar.gz"));
        return;
      }
      decompressed += chunk.length;
      const framing = framingSlack + framingPerEntry * (entries + 1);
      if (decompressed > limits.maxUnpackedBytes + framing) {
        callback(tooLarge(decompressed, limits.maxUnpackedBytes));
        return;
      }
      if (gzipped && decompressed > ratioFloorBytes && decompressed > maxRatio * compressed) {
        callback(tooCompressed(compressed, decompressed, maxRatio));
        return;
      }
      const waited = options.onProgress?.({
        compressedBytes: compressed,
        decompressedBytes: decompressed,
      });
      if (waited) {
        waited.then(
          () => callback(null, chunk),
          (error: unknown) => callback(error as Error),
        );
      } else {
        callback(null, chunk);
      }
    },
  });

  const fail = (error: UserError): void => {
    stop ??= error;
    meter.destroy(error);
  };

  const onEntry = (entry: ReadEntry): void => {
    if (stop) {
      entry.resume();
      return;
    }
    entries += 1;
    declared += entry.size;
    if (entries > limits.maxFiles) {
      fail(
        new UserError(
          "RUNLET_PACKAGE_TOO_LARGE",
          `The package has more than ${limits.maxFiles} files, the limit.`,
        ),
      );
      entry.resume();
      return;
    }
    if (declared > limits.maxUnpackedBytes) {
      fail(tooLarge(declared, limits.maxUnpackedBytes));
      entry.resume();
      return;
    }
    const path = entryPath(entry.path);
    if (typeof path !== "string") {
      problems.push(`${entry.path}: ${path.problem}`);
      entry.resume();
      return;
    }
    const shown = path === "" ? "." : path;
    if (path === "" && entry.type !== "Directory") {
      problems.push(`${entry.path}: only a folder can be the package root`);
      entry.resume();
      return;
    }
    if (entry.type === "Directory") {
      dirs.add(path);
      writes.push(onDisk(shown, problems, () => mkdir(join(dest, path), { recursive: true })));
      entry.resume();
    } else if (fileTypes.has(entry.type)) {
      files.add(path);
      const mode = ((entry.mode ?? 0o644) & 0o111) !== 0 ? 0o755 : 0o644;
      const written = onDisk(shown, problems, () =>
        writeEntry(entry, join(dest, path), mode, open),
      );
      fileWrites.set(path, written);
      writes.push(written);
    } else if (entry.type === "SymbolicLink") {
      const target = entry.linkpath ?? "";
      const problem = linkTargetProblem(target);
      if (problem) {
        problems.push(`${shown}: symbolic link to ${target} ${problem}`);
      } else {
        symlinks.set(path, target);
      }
      entry.resume();
    } else if (entry.type === "Link") {
      // A hard link names another entry of the archive, which must be a file written before it.
      const target = entryPath(entry.linkpath ?? "");
      if (typeof target !== "string" || !files.has(target)) {
        problems.push(
          `${shown}: hard link to ${entry.linkpath ?? ""} does not name a file earlier in the archive`,
        );
      } else {
        files.add(path);
        hardLinks.set(path, target);
        writes.push(
          onDisk(shown, problems, async () => {
            await fileWrites.get(target);
            await mkdir(dirname(join(dest, path)), { recursive: true });
            await link(join(dest, target), join(dest, path));
          }),
        );
      }
      entry.resume();
    } else {
      problems.push(
        `${shown}: ${entry.type} entries are not allowed (only files, folders and links)`,
      );
      entry.resume();
    }
  };

  // strict: a damaged header or checksum is an error, not a warning. Parser must never inflate
  // on its own (it would do so synchronously, on the event loop): brotli and zstd are off, and a
  // second gzip layer is refused above.
  const parser = new Parser({ strict: true, brotli: false, zstd: false, onReadEntry: onEntry });
  try {
    const source = Readable.from(input());
    await (gzipped
      ? pipeline(source, createGunzip({ chunkSize: 64 * 1024 }), meter, parser)
      : pipeline(source, meter, parser));
  } catch (error) {
    for (const out of open) {
      out.destroy();
    }
    await Promise.allSettled(writes);
    if (stop) {
      throw stop;
    }
    if (error instanceof UserError) {
      throw error;
    }
    throw invalid(`it is not a valid .tar.gz archive (${errorText(error)})`);
  }
  await Promise.all(writes);
  if (entries === 0) {
    problems.push("the archive is empty (or not a tar archive)");
  }
  problems.push(...structureProblems(dirs, files, hardLinks, symlinks));
  if (problems.length === 0) {
    for (const [path, target] of symlinks) {
      await onDisk(path, problems, async () => {
        await mkdir(dirname(join(dest, path)), { recursive: true });
        await symlink(target, join(dest, path));
      });
    }
  }
  if (problems.length > 0) {
    throw new UserError(
      "RUNLET_INVALID_ARCHIVE",
      `The package archive was refused:\n${problems.map((p) => `  - ${p}`).join("\n")}`,
      { details: { problems } },
    );
  }
  return { files: files.size + symlinks.size, bytes: declared };
}

/** The normalized relative path of an entry ("" is the root), or why it is refused. */
export function entryPath(raw: string): string | { problem: string } {
  if (raw.includes("\0")) {
    return { problem: "the path contains a NUL character" };
  }
  if (raw.length > maxPathChars) {
    return { problem: `the path is longer than ${maxPathChars} characters` };
  }
  if (raw.startsWith("/") || /^[A-Za-z]:/.test(raw)) {
    return { problem: "absolute paths are not allowed" };
  }
  const parts = raw.split("/").filter((part) => part !== "" && part !== ".");
  if (parts.includes("..")) {
    return { problem: 'the path leaves the package ("..")' };
  }
  // Deep trees cost the unpack, the tree check and every later walk of the package (issue 13).
  if (parts.length > maxPathDepth) {
    return { problem: `the path is nested deeper than ${maxPathDepth} folders` };
  }
  return parts.join("/");
}

function linkTargetProblem(target: string): string | undefined {
  if (target === "" || target.includes("\0") || target.length > maxPathChars) {
    return "is not a valid link target";
  }
  if (target.startsWith("/")) {
    return "points outside the package (absolute link)";
  }
  return undefined;
}

/**
 * What is wrong with the archive as a whole: an entry placed under a symbolic link (it would be
 * written wherever the link points), a link that is also a file or folder, and symbolic links
 * whose target, resolved component by component through the archive's other links the way the
 * kernel resolves it, leaves the package or never ends.
 */
function structureProblems(
  dirs: ReadonlySet<string>,
  files: ReadonlySet<string>,
  hardLinks: ReadonlyMap<string, string>,
  symlinks: ReadonlyMap<string, string>,
): string[] {
  const problems: string[] = [];
  const throughLink = (path: string): string | undefined => {
    const parts = path.split("/");
    for (let i = 1; i < parts.length; i += 1) {
      const prefix = parts.slice(0, i).join("/");
      if (symlinks.has(prefix)) {
        return prefix;
      }
    }
    return undefined;
  };
  for (const path of [...dirs, ...files, ...symlinks.keys()]) {
    const link = path === "" ? undefined : throughLink(path);
    if (link !== undefined) {
      problems.push(`${path}: is inside ${link}, a symbolic link`);
    }
  }
  for (const [path, target] of hardLinks) {
    const link = throughLink(target);
    if (link !== undefined) {
      problems.push(`${path}: hard link to ${target} goes through ${link}, a symbolic link`);
    }
  }
  for (const [path, target] of symlinks) {
    if (dirs.has(path) || files.has(path)) {
      problems.push(`${path}: is both a symbolic link and a file or folder`);
      continue;
    }
    const outcome = resolveLink(path, symlinks);
    if (outcome !== "inside") {
      problems.push(
        outcome === "loop"
          ? `${path}: symbolic link to ${target} never resolves (more than ${maxLinkHops} links)`
          : `${path}: symbolic link to ${target} resolves outside the package`,
      );
    }
  }
  return problems;
}

/** Resolves the link at `path` as the kernel would, with the package root as the top. */
function resolveLink(
  path: string,
  symlinks: ReadonlyMap<string, string>,
): "inside" | "outside" | "loop" {
  const stack = path.split("/").slice(0, -1);
  let pending = (symlinks.get(path) ?? "").split("/");
  let hops = 0;
  while (pending.length > 0) {
    const part = pending.shift();
    if (part === undefined || part === "" || part === ".") {
      continue;
    }
    if (part === "..") {
      if (stack.length === 0) {
        return "outside";
      }
      stack.pop();
      continue;
    }
    stack.push(part);
    const target = symlinks.get(stack.join("/"));
    if (target !== undefined) {
      hops += 1;
      if (hops > maxLinkHops) {
        return "loop";
      }
      if (target.startsWith("/")) {
        return "outside";
      }
      stack.pop();
      pending = [...target.split("/"), ...pending];
    }
  }
  return "inside";
}

async function writeEntry(
  entry: ReadEntry,
  file: string,
  mode: number,
  open: Set<WriteStream>,
): Promise<void> {
  try {
    await mkdir(dirname(file), { recursive: true });
  } catch (error) {
    entry.resume();
    throw error;
  }
  await new Promise<void>((resolve, reject) => {
    // "wx": never replace or follow what is already there.
    const out = createWriteStream(file, { flags: "wx", mode });
    open.add(out);
    out.on("error", (error) => {
      entry.resume();
      reject(error);
    });
    out.on("close", () => {
      open.delete(out);
      resolve();
    });
    entry.on("error", (error: unknown) => {
      out.destroy();
      reject(error);
    });
    entry.pipe(out);
  });
}

/** Runs a write; an error the entry's own shape caused becomes a problem, any other is ours. */
async function onDisk(path: string, problems: string[], write: () => Promise<unknown>) {
  try {
    await write();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== undefined && entryErrors.has(code)) {
      problems.push(`${path}: cannot be unpacked (${code}: a duplicate or conflicting entry)`);
      return;
    }
    throw error;
  }
}

function startsCompressed(chunk: Buffer): boolean {
  return (
    (chunk[0] === 0x1f && chunk[1] === 0x8b) ||
    (chunk[0] === 0x28 && chunk[1] === 0xb5 && chunk[2] === 0x2f && chunk[3] === 0xfd)
  );
}

function invalid(why: string): UserError {
  return new UserError("RUNLET_INVALID_ARCHIVE", `The package archive was refused: ${why}.`);
}

function tooLarge(bytes: number, limit: number): UserError {
  return new UserError(
    "RUNLET_PACKAGE_TOO_LARGE",
    `The package unpacks to at least ${humanSize(bytes)} (${bytes} bytes); the limit is ${formatSize(limit)}. Leave build output and large data out of the source folder.`,
    { details: { limitBytes: limit } },
  );
}

function tooCompressed(compressed: number, decompressed: number, ratio: number): UserError {
  return new UserError(
    "RUNLET_PACKAGE_TOO_COMPRESSED",
    `The package unpacks to more than ${ratio} times its uploaded size (${decompressed} bytes from the first ${compressed}); such archives are refused. Leave large generated or repetitive data out of the source folder.`,
    { details: { maxCompressionRatio: ratio } },
  );
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
