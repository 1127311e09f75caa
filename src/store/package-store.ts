/**
 * Content-addressed function packages: the archive and its unpacked tree live under
 * `<data>/packages/<hex>`, indexed in SQLite (embedded) or by the files alone (a directory
 * several gateway replicas share, directory-package-index.ts). Writing is idempotent: the same
 * bytes give the same digest and are stored once; each upload is unpacked under a temporary
 * name and renamed into place, so no reader ever sees half a package. A tree is checked against
 * its archive before a revision runs it, and a tree found changed is replaced by the next upload
 * of the same bytes (issue 13, item 11).
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { UserError } from "../errors.js";
import { treeMismatch } from "../packaging/tree-check.js";
import { unpackArchive, type UnpackLimits, type UnpackProgress } from "../packaging/unpack.js";
import type { Db } from "./database.js";

export interface StoredPackage {
  readonly digest: string;
  readonly size: number;
  readonly created: boolean;
}

export interface PackageStoreOptions {
  /**
   * Unreferenced packages are collected only once this long has passed since they were last
   * uploaded or last used by a revision, so an upload for a deploy still to come survives.
   * @default 3600000 (1 hour)
   */
  readonly gcGraceMs?: number;
  /** Largest ratio of unpacked to uploaded size. @default 200 */
  readonly maxCompressionRatio?: number;
  /** The clock (tests move it). @default Date.now */
  readonly now?: () => number;
  /** Called after each decompressed chunk of an upload; unpacking waits for a returned promise. */
  readonly onUnpackProgress?: (progress: UnpackProgress) => Promise<void> | void;
}

export const defaultGcGraceMs = 3600 * 1000;

/** Which packages are stored and when each was last uploaded or used (for collection). */
export interface PackageIndex {
  has(digest: string): boolean;
  /** An upload was written into place just now. */
  record(digest: string, size: number, now: number): void;
  touch(digests: Iterable<string>, now: number): void;
  /** Digests last uploaded or used before `time`. */
  olderThan(time: number): Promise<string[]>;
  forget(digest: string): void;
  /**
   * How old a staging folder must be before it counts as left by a killed server: 0 when one
   * process owns the folder; longer when replicas share it (another may be writing it now).
   */
  readonly leftoverAgeMs: number;
}

/** The embedded index: the `packages` table of the SQLite database. */
export class SqlitePackageIndex implements PackageIndex {
  readonly #db: Db;
  readonly leftoverAgeMs = 0;

  constructor(db: Db) {
    this.#db = db;
  }

  has(digest: string): boolean {
    return this.#db.prepare("SELECT 1 FROM packages WHERE digest = ?").get(digest) !== undefined;
  }

  record(digest: string, size: number, now: number): void {
    // The created_at column holds when the package was last uploaded or used (see collect).
    this.#db
      .prepare("INSERT OR REPLACE INTO packages (digest, size, created_at) VALUES (?, ?, ?)")
      .run(digest, size, now);
  }

  touch(digests: Iterable<string>, now: number): void {
    const update = this.#db.prepare("UPDATE packages SET created_at = ? WHERE digest = ?");
    for (const digest of digests) {
      update.run(now, digest);
    }
  }

  olderThan(time: number): Promise<string[]> {
    return Promise.resolve(
      this.#db
        .prepare<[number], { digest: string }>("SELECT digest FROM packages WHERE created_at < ?")
        .all(time)
        .map((row) => row.digest),
    );
  }

  forget(digest: string): void {
    this.#db.prepare("DELETE FROM packages WHERE digest = ?").run(digest);
  }
}

export class PackageStore {
  readonly #index: PackageIndex;
  readonly #root: string;
  readonly #limits: UnpackLimits;
  readonly #options: PackageStoreOptions;
  readonly #now: () => number;
  /** Checks of a tree against its archive, done once per package in this process. */
  readonly #checked = new Map<string, Promise<void>>();
  /** Packages whose tree was found changed: not served until uploaded again. */
  readonly #corrupt = new Set<string>();
  /** Packages found changed and then replaced by an upload: their revisions need new instances. */
  readonly #replaced = new Set<string>();
  /** Uploads being written, so a second upload of the same bytes waits for the first. */
  readonly #writing = new Map<string, Promise<StoredPackage>>();

  constructor(
    index: PackageIndex,
    root: string,
    limits: UnpackLimits,
    options: PackageStoreOptions = {},
  ) {
    this.#index = index;
    this.#root = root;
    this.#limits = { maxCompressionRatio: options.maxCompressionRatio, ...limits };
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** Size and file-count limits every package is checked against. */
  get limits(): UnpackLimits {
    return this.#limits;
  }

  /**
   * Removes what a server killed mid-upload left: staging folders (`<hex>.tmp-*`) and trees
   * moved aside (`<hex>.old-*`). Called on open, before anything is uploaded; in a folder
   * replicas share, only the ones older than the index's leftoverAgeMs.
   */
  async removeLeftovers(): Promise<void> {
    const before = this.#now() - this.#index.leftoverAgeMs;
    for (const name of await readdir(this.#root).catch(() => [])) {
      if (name.includes(".tmp-") || name.includes(".old-")) {
        const path = join(this.#root, name);
        const age =
          this.#index.leftoverAgeMs === 0 ? undefined : await stat(path).catch(() => undefined);
        if (age === undefined || age.mtimeMs < before) {
          await rm(path, { recursive: true, force: true });
        }
      }
    }
  }

  /** Stored, and not found changed since. */
  has(digest: string): boolean {
    return (
      !this.#corrupt.has(digest) && this.#index.has(digest) && existsSync(this.treePath(digest))
    );
  }

  /** Stored, but its tree was found changed (and not uploaded again since). */
  corrupt(digest: string): boolean {
    return this.#corrupt.has(digest);
  }

  /**
   * Whether the package is stored and its tree matches its digest (checked now). A client asks
   * before it skips an upload, so a changed tree is uploaded again and so replaced. Counts as a
   * use for collection.
   */
  async intact(digest: string): Promise<boolean> {
    if (!this.has(digest)) {
      return false;
    }
    this.#touch([digest]);
    return this.verify(digest, { again: true }).then(
      () => true,
      () => false,
    );
  }

  /**
   * Checks the package's tree against its archive: once per package in this process, or now
   * when `again`. A mismatch throws RUNLET_PACKAGE_CORRUPT and the package counts as absent
   * until it is uploaded again.
   */
  verify(digest: string, options: { again?: boolean } = {}): Promise<void> {
    const known = this.#checked.get(digest);
    if (known && !options.again) {
      return known;
    }
    const check = this.#check(digest);
    // A failed check is remembered and read by later callers; it is not unhandled.
    check.catch(() => undefined);
    this.#checked.set(digest, check);
    return check;
  }

  /** True once after the package was found changed and replaced by an upload. */
  takeReplaced(digest: string): boolean {
    return this.#replaced.delete(digest);
  }

  /** Directory holding the unpacked files of a package. */
  treePath(digest: string): string {
    return join(this.#root, hexOf(digest), "tree");
  }

  /** The archive a package was uploaded as (what its digest is the sha256 of). */
  archivePath(digest: string): string {
    return join(this.#root, hexOf(digest), "package.tar.gz");
  }

  async put(archive: Buffer, expectedDigest?: string): Promise<StoredPackage> {
    const digest = await digestInSteps(archive);
    if (expectedDigest && expectedDigest !== digest) {
      throw new UserError(
        "RUNLET_INVALID_ARCHIVE",
        `The upload's digest is ${digest}, not the ${expectedDigest} it was sent as; the upload was corrupted, try again.`,
      );
    }
    const writing = this.#writing.get(digest);
    if (writing) {
      await writing.catch(() => undefined);
    }
    if (this.has(digest)) {
      this.#touch([digest]);
      return { digest, size: archive.length, created: false };
    }
    const write = this.#write(archive, digest);
    this.#writing.set(digest, write);
    try {
      return await write;
    } finally {
      this.#writing.delete(digest);
    }
  }

  /** Marks packages as used now: revisions that ran them are being removed. */
  release(digests: Iterable<string>): void {
    this.#touch(digests);
  }

  /**
   * Deletes packages no revision refers to that were neither uploaded nor used for the grace
   * period (issue 13, item 10: an upload waiting for its deploy is not collected).
   */
  async collect(referenced: Set<string>): Promise<void> {
    const before = this.#now() - (this.#options.gcGraceMs ?? defaultGcGraceMs);
    for (const digest of await this.#index.olderThan(before)) {
      if (!referenced.has(digest) && !this.#writing.has(digest)) {
        this.#index.forget(digest);
        this.#checked.delete(digest);
        this.#corrupt.delete(digest);
        await rm(join(this.#root, hexOf(digest)), { recursive: true, force: true });
      }
    }
  }

  async #write(archive: Buffer, digest: string): Promise<StoredPackage> {
    const dir = join(this.#root, hexOf(digest));
    const staging = `${dir}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
    await mkdir(staging, { recursive: true });
    try {
      await writeFile(join(staging, "package.tar.gz"), archive);
      await unpackArchive(archive, join(staging, "tree"), this.#limits, {
        onProgress: this.#options.onUnpackProgress,
      });
      await this.#moveIntoPlace(staging, dir, digest);
    } catch (error) {
      await rm(staging, { recursive: true, force: true });
      throw error;
    }
    this.#index.record(digest, archive.length, this.#now());
    if (this.#corrupt.delete(digest)) {
      this.#replaced.add(digest);
    }
    // Just unpacked from bytes that hash to the digest.
    this.#checked.set(digest, Promise.resolve());
    return { digest, size: archive.length, created: true };
  }

  /**
   * Renames the staged package to its digest's name. When that name is taken, another writer
   * (a replica sharing the folder) stored the same bytes meanwhile and its copy stays, unless
   * this process found that copy changed: then it is moved aside and replaced.
   */
  async #moveIntoPlace(staging: string, dir: string, digest: string): Promise<void> {
    try {
      await rename(staging, dir);
      return;
    } catch (error) {
      if (!isCode(error, "ENOTEMPTY") && !isCode(error, "EEXIST")) {
        throw error;
      }
    }
    if (!this.#corrupt.has(digest) && this.#index.has(digest)) {
      await rm(staging, { recursive: true, force: true });
      return;
    }
    const aside = `${dir}.old-${process.pid}-${randomBytes(4).toString("hex")}`;
    await rename(dir, aside);
    await rename(staging, dir);
    await rm(aside, { recursive: true, force: true });
  }

  async #check(digest: string): Promise<void> {
    const dir = join(this.#root, hexOf(digest));
    const mismatch = await treeMismatch(join(dir, "package.tar.gz"), join(dir, "tree"), digest);
    if (mismatch === undefined) {
      return;
    }
    this.#corrupt.add(digest);
    throw new UserError(
      "RUNLET_PACKAGE_CORRUPT",
      `Package ${digest} no longer matches its digest on this server (${mismatch}), so it is not run. Upload the function's source again (runlet deploy does) to replace it, then deploy.`,
    );
  }

  #touch(digests: Iterable<string>): void {
    this.#index.touch(digests, this.#now());
  }
}

/**
 * digestOf() in 4 MiB steps with a turn of the event loop between them: hashing a 100 MiB
 * upload at once would hold the gateway for a few hundred milliseconds (issue 13, item 7).
 */
async function digestInSteps(bytes: Buffer): Promise<string> {
  const step = 4 * 1024 * 1024;
  const hash = createHash("sha256");
  for (let offset = 0; offset < bytes.length; offset += step) {
    if (offset > 0) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    hash.update(bytes.subarray(offset, offset + step));
  }
  return `sha256:${hash.digest("hex")}`;
}

function isCode(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}

/** The hex part of a digest, checked (it names a folder). */
export function hexOf(digest: string): string {
  const match = /^sha256:([a-f0-9]{64})$/.exec(digest);
  if (!match?.[1]) {
    throw new UserError(
      "RUNLET_INVALID_REQUEST",
      `${digest} is not a package digest (sha256:<hex>)`,
    );
  }
  return match[1];
}
