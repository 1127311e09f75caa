// The package store on a folder that several gateway replicas share: no database, uploads renamed into place whole, one replica's upload in progress left alone by another's start.
import { existsSync } from "node:fs";
import { mkdir, readdir, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { packDirectory } from "../../src/packaging/pack.js";
import { DirectoryPackageIndex } from "../../src/store/directory-package-index.js";
import { PackageStore } from "../../src/store/package-store.js";
import { tempDir, writeSource } from "../helpers/runlet.js";

const limits = { maxUnpackedBytes: 16 * 2 ** 20, maxFiles: 1000 };

function replica(root: string, options: { gcGraceMs?: number } = {}): PackageStore {
  return new PackageStore(new DirectoryPackageIndex(root), root, limits, options);
}

async function pack(text: string): Promise<{ archive: Buffer; digest: string }> {
  const packed = await packDirectory(await writeSource({ "index.js": text }));
  return { archive: Buffer.from(packed.archive), digest: packed.digest };
}

describe("package store on a shared folder", () => {
  it("stores the same upload from two replicas at once as one package both serve", async () => {
    const root = await tempDir();
    const [a, b] = [replica(root), replica(root)];
    const { archive, digest } = await pack("export default async () => 1;");
    const stored = await Promise.all([a.put(archive), b.put(archive), a.put(archive)]);
    expect(stored.map((s) => s.digest)).toEqual([digest, digest, digest]);
    for (const store of [a, b]) {
      expect(store.has(digest)).toBe(true);
      await expect(store.verify(digest, { again: true })).resolves.toBeUndefined();
    }
    // Nothing half-written is left: one folder, named by the digest.
    expect(await readdir(root)).toEqual([digest.slice("sha256:".length)]);
  });

  it("sees what another replica uploaded, and refuses a tree changed behind its back", async () => {
    const root = await tempDir();
    const [a, b] = [replica(root), replica(root)];
    const { archive, digest } = await pack("export default async () => 2;");
    await a.put(archive);
    expect(b.has(digest)).toBe(true);
    await writeFile(join(b.treePath(digest), "index.js"), "export default async () => 'evil';");
    await expect(b.verify(digest, { again: true })).rejects.toThrow(/no longer matches its digest/);
    expect(b.has(digest)).toBe(false);
    // An upload of the same bytes through the replica that found it changed replaces it.
    expect((await b.put(archive)).created).toBe(true);
    await expect(a.verify(digest, { again: true })).resolves.toBeUndefined();
  });

  it("leaves another replica's upload in progress alone on start, and removes an old leftover", async () => {
    const root = await tempDir();
    const fresh = join(root, `${"c".repeat(64)}.tmp-1-aaaa`);
    const old = join(root, `${"d".repeat(64)}.tmp-2-bbbb`);
    await mkdir(fresh);
    await mkdir(old);
    const twoHoursAgo = (Date.now() - 2 * 3600 * 1000) / 1000;
    await utimes(old, twoHoursAgo, twoHoursAgo);
    await replica(root).removeLeftovers();
    expect(existsSync(fresh)).toBe(true);
    expect(existsSync(old)).toBe(false);
  });

  it("collects unreferenced packages past the grace period, counting uses by any replica", async () => {
    const root = await tempDir();
    let now = Date.now();
    const clock = { now: () => now };
    const a = new PackageStore(new DirectoryPackageIndex(root), root, limits, {
      gcGraceMs: 1000,
      now: clock.now,
    });
    const b = new PackageStore(new DirectoryPackageIndex(root), root, limits, {
      gcGraceMs: 1000,
      now: clock.now,
    });
    const kept = await pack("export default async () => 'kept';");
    const used = await pack("export default async () => 'used';");
    const dropped = await pack("export default async () => 'dropped';");
    for (const p of [kept, used, dropped]) {
      await a.put(p.archive);
    }
    now += 5000;
    // Replica b used one of them just now (a client asked whether it is intact).
    expect(await b.intact(used.digest)).toBe(true);
    await a.collect(new Set([kept.digest]));
    expect(a.has(kept.digest)).toBe(true);
    expect(a.has(used.digest)).toBe(true);
    expect(a.has(dropped.digest)).toBe(false);
    expect(b.has(dropped.digest)).toBe(false);
  });
});
