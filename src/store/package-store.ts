/**
 * Content-addressed function packages: the archive and its unpacked tree live under
 * `<data>/packages/<hex>`, indexed in SQLite. Writing is idempotent: the same bytes give the
 * same digest and are stored once.
 */
import { existsSync } from "node:fs";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { UserError } from "../errors.js";
import { digestOf } from "../packaging/pack.js";
import { checkArchive, unpackArchive, type UnpackLimits } from "../packaging/unpack.js";
import type { Db } from "./database.js";

export interface StoredPackage {
  readonly digest: string;
  readonly size: number;
  readonly created: boolean;
}

export class PackageStore {
  readonly #db: Db;
  readonly #root: string;
  readonly #limits: UnpackLimits;

  constructor(db: Db, root: string, limits: UnpackLimits) {
    this.#db = db;
    this.#root = root;
    this.#limits = limits;
  }

  /** Size and file-count limits every package is checked against. */
  get limits(): UnpackLimits {
    return this.#limits;
  }

  has(digest: string): boolean {
    return (
      this.#db.prepare("SELECT 1 FROM packages WHERE digest = ?").get(digest) !== undefined &&
      existsSync(this.treePath(digest))
    );
  }

  /** Directory holding the unpacked files of a package. */
  treePath(digest: string): string {
    return join(this.#root, hexOf(digest), "tree");
  }

  async put(archive: Buffer, expectedDigest?: string): Promise<StoredPackage> {
    const digest = digestOf(archive);
    if (expectedDigest && expectedDigest !== digest) {
      throw new UserError(
        "RUNLET_INVALID_ARCHIVE",
        `The upload's digest is ${digest}, not the ${expectedDigest} it was sent as; the upload was corrupted, try again.`,
      );
    }
    if (this.has(digest)) {
      return { digest, size: archive.length, created: false };
    }
    await checkArchive(archive, this.#limits);
    const dir = join(this.#root, hexOf(digest));
    const staging = `${dir}.tmp-${process.pid}-${Date.now()}`;
    await rm(staging, { recursive: true, force: true });
    await mkdir(staging, { recursive: true });
    try {
      await writeFile(join(staging, "package.tar.gz"), archive);
      await unpackArchive(archive, join(staging, "tree"));
      await rm(dir, { recursive: true, force: true });
      await rename(staging, dir);
    } catch (error) {
      await rm(staging, { recursive: true, force: true });
      throw error;
    }
    this.#db
      .prepare("INSERT OR REPLACE INTO packages (digest, size, created_at) VALUES (?, ?, ?)")
      .run(digest, archive.length, Date.now());
    return { digest, size: archive.length, created: true };
  }

  /** Deletes packages no revision refers to. */
  async collect(referenced: Set<string>): Promise<void> {
    const all = this.#db.prepare<[], { digest: string }>("SELECT digest FROM packages").all();
    for (const { digest } of all) {
      if (!referenced.has(digest)) {
        this.#db.prepare("DELETE FROM packages WHERE digest = ?").run(digest);
        await rm(join(this.#root, hexOf(digest)), { recursive: true, force: true });
      }
    }
  }
}

function hexOf(digest: string): string {
  const match = /^sha256:([a-f0-9]{64})$/.exec(digest);
  if (!match?.[1]) {
    throw new UserError(
      "RUNLET_INVALID_REQUEST",
      `${digest} is not a package digest (sha256:<hex>)`,
    );
  }
  return match[1];
}
