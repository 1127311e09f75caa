// Assembles an image's root filesystem as a list of entries (issue 15): host programs with the libraries they load, repo files, a minimal /etc.
import { execFile } from "node:child_process";
import { lstat, readdir, readlink } from "node:fs/promises";
import * as path from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

interface EntryBase {
  /** Path in the image, relative (no leading slash). */
  readonly path: string;
  readonly mode: number;
  readonly uid?: number;
  readonly gid?: number;
}

export type RootfsEntry =
  | (EntryBase & { readonly kind: "directory" })
  | (EntryBase & { readonly kind: "file"; readonly source: string })
  | (EntryBase & { readonly kind: "data"; readonly data: Buffer })
  | (EntryBase & { readonly kind: "symlink"; readonly target: string });

/**
 * Entries keyed by their path in the image. Parent directories are added as needed, with the
 * host's modes where the path mirrors the host and 0755 otherwise.
 */
export class Rootfs {
  readonly #entries = new Map<string, RootfsEntry>();

  get entries(): readonly RootfsEntry[] {
    return [...this.#entries.values()];
  }

  /** Host files the image takes its content from, for the cache key. */
  get sources(): readonly string[] {
    return this.entries.flatMap((e) => (e.kind === "file" ? [e.source] : []));
  }

  has(imagePath: string): boolean {
    return this.#entries.has(relative(imagePath));
  }

  directory(imagePath: string, mode = 0o755, owner?: { uid: number; gid: number }): void {
    this.#parents(imagePath);
    this.#put({ kind: "directory", path: relative(imagePath), mode, ...owner });
  }

  data(imagePath: string, data: string | Buffer, mode = 0o644): void {
    this.#parents(imagePath);
    this.#put({
      kind: "data",
      path: relative(imagePath),
      mode,
      data: typeof data === "string" ? Buffer.from(data) : data,
    });
  }

  /**
   * A host path at the same path in the image, every symlink on the way included (so a
   * merged-/usr layout and library version links come along as they are on the host).
   */
  async mirrorHostPath(hostPath: string): Promise<void> {
    const parts = path.resolve(hostPath).split("/").filter(Boolean);
    let current = "/";
    for (const [index, part] of parts.entries()) {
      const next = path.join(current, part);
      const info = await lstat(next);
      if (info.isSymbolicLink()) {
        const target = await readlink(next);
        this.#put({ kind: "symlink", path: relative(next), mode: 0o777, target });
        const resolved = path.resolve(current, target);
        // Follow the link, then go on below where it leads.
        await this.mirrorHostPath(resolved);
        const rest = parts.slice(index + 1);
        if (rest.length > 0) {
          await this.mirrorHostPath(path.join(resolved, ...rest));
        }
        return;
      }
      if (info.isDirectory()) {
        if (!this.#entries.has(relative(next))) {
          this.#put({ kind: "directory", path: relative(next), mode: info.mode & 0o7777 });
        }
      } else if (info.isFile()) {
        this.#put({ kind: "file", path: relative(next), mode: info.mode & 0o7777, source: next });
      } else {
        throw new Error(`${next} is neither a file, a directory nor a symlink`);
      }
      current = next;
    }
  }

  /** A host program at its own path, with every shared library the dynamic linker loads for it. */
  async hostProgram(hostPath: string): Promise<void> {
    await this.mirrorHostPath(hostPath);
    await this.librariesOf([hostPath]);
  }

  /** The shared libraries `files` (programs, Python modules, Node addons) load. */
  async librariesOf(files: readonly string[]): Promise<void> {
    for (const library of await sharedLibraries(files)) {
      await this.mirrorHostPath(library);
    }
  }

  /**
   * A host directory tree (e.g. a runtime's sources) at `imageDir`. `skip` names entries to
   * leave out anywhere in the tree (e.g. `__pycache__`). Symlinks are kept as links.
   */
  async tree(
    hostDir: string,
    imageDir: string,
    skip: ReadonlySet<string> = new Set(),
  ): Promise<void> {
    this.directory(imageDir);
    for (const entry of await readdir(hostDir, { withFileTypes: true })) {
      if (skip.has(entry.name)) {
        continue;
      }
      const from = path.join(hostDir, entry.name);
      const to = path.posix.join(imageDir, entry.name);
      if (entry.isDirectory()) {
        await this.tree(from, to, skip);
      } else if (entry.isSymbolicLink()) {
        this.#put({
          kind: "symlink",
          path: relative(to),
          mode: 0o777,
          target: await readlink(from),
        });
      } else if (entry.isFile()) {
        const info = await lstat(from);
        // Readable by the image's unprivileged user whatever the checkout's umask was.
        const mode = info.mode & 0o111 ? 0o755 : 0o644;
        this.#put({ kind: "file", path: relative(to), mode, source: from });
      }
    }
  }

  /** A single host file at a path of the image's choosing. */
  async file(hostPath: string, imagePath: string, mode?: number): Promise<void> {
    this.#parents(imagePath);
    const info = await lstat(hostPath);
    this.#put({
      kind: "file",
      path: relative(imagePath),
      mode: mode ?? (info.mode & 0o111 ? 0o755 : 0o644),
      source: hostPath,
    });
  }

  #parents(imagePath: string): void {
    const parts = relative(imagePath).split("/");
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join("/");
      if (!this.#entries.has(dir)) {
        this.#put({ kind: "directory", path: dir, mode: 0o755 });
      }
    }
  }

  #put(entry: RootfsEntry): void {
    const existing = this.#entries.get(entry.path);
    if (existing !== undefined && existing.kind !== entry.kind) {
      throw new Error(`${entry.path} is both a ${existing.kind} and a ${entry.kind} in the image`);
    }
    this.#entries.set(entry.path, entry);
  }
}

/**
 * What `ldd` says the dynamic linker loads for each of `programs` (the loader included), all
 * in one list; nothing for static ones. One ldd for them all: a Python has dozens of modules.
 */
export async function sharedLibraries(programs: readonly string[]): Promise<string[]> {
  if (programs.length === 0) {
    return [];
  }
  let stdout: string;
  try {
    ({ stdout } = await execFileAsync("ldd", [...programs], { maxBuffer: 16 * 1024 * 1024 }));
  } catch (error) {
    // ldd exits 1 when any of them is static ("not a dynamic executable"); the rest is listed.
    if (isRecord(error) && typeof error["stdout"] === "string" && error["code"] === 1) {
      stdout = error["stdout"];
    } else {
      throw new Error(`ldd ${programs.join(" ")} failed`, { cause: error });
    }
  }
  const libraries = new Set<string>();
  for (const line of stdout.split("\n")) {
    if (/=> not found/.test(line)) {
      throw new Error(`ldd: a library is missing: ${line.trim()}`);
    }
    // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
    const match = /=>\s*(\/\S+)/.exec(line) ?? /^\s+(\/\S+)\s+\(/.exec(line);
    if (match?.[1] !== undefined) {
      libraries.add(match[1]);
    }
  }
  return [...libraries];
}

function relative(imagePath: string): string {
  const normalized = path.posix.normalize(imagePath).replace(/^\/+/, "").replace(/\/+$/, "");
  if (normalized === "" || normalized.startsWith("..")) {
    throw new Error(`${imagePath} is not a path inside the image`);
  }
  return normalized;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}
