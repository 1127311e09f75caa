/**
 * The package index of a folder several gateway replicas share (a PersistentVolume in
 * Kubernetes mode): no database, the files are the index. A package is stored when its folder
 * (renamed into place whole, package-store.ts) holds its archive; when it was last uploaded or
 * used is the time of its `last-used` file, which every replica may set.
 */
import { existsSync, utimesSync, writeFileSync } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { hexOf, type PackageIndex } from "./package-store.js";

const markerName = "last-used";
const hexName = /^[a-f0-9]{64}$/;

export class DirectoryPackageIndex implements PackageIndex {
  readonly #root: string;
  /** Another replica may be writing a staging folder now: only old ones are leftovers. */
  readonly leftoverAgeMs: number;

  constructor(root: string, options: { readonly leftoverAgeMs?: number } = {}) {
    this.#root = root;
    this.leftoverAgeMs = options.leftoverAgeMs ?? 3600 * 1000;
  }

  has(digest: string): boolean {
    return existsSync(join(this.#root, hexOf(digest), "package.tar.gz"));
  }

  record(digest: string, _size: number, now: number): void {
    const marker = join(this.#root, hexOf(digest), markerName);
    writeFileSync(marker, "");
    utimesSync(marker, now / 1000, now / 1000);
  }

  touch(digests: Iterable<string>, now: number): void {
    for (const digest of digests) {
      const marker = join(this.#root, hexOf(digest), markerName);
      try {
        utimesSync(marker, now / 1000, now / 1000);
      } catch {
        // Not stored (or collected by another replica meanwhile): nothing to keep.
      }
    }
  }

  async olderThan(time: number): Promise<string[]> {
    const old: string[] = [];
    for (const name of await readdir(this.#root).catch(() => [])) {
      if (!hexName.test(name)) {
        continue;
      }
      const dir = join(this.#root, name);
      const info =
        (await stat(join(dir, markerName)).catch(() => undefined)) ??
        (await stat(dir).catch(() => undefined));
      if (info && info.mtimeMs < time) {
        old.push(`sha256:${name}`);
      }
    }
    return old;
  }

  forget(): void {
    // The folder is the record; collect() removes it.
  }
}
