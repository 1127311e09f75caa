/** linkTree shows a tree elsewhere without copying it: same inodes, symlinks kept as links. */
import {
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readlink,
  rm,
  stat,
  symlink,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { linkTree } from "../../src/host/tree-link.js";

const made: string[] = [];

afterEach(async () => {
  await Promise.all(made.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

describe("linkTree", () => {
  it("hard-links every file of a nested tree and recreates its symlinks", async () => {
    const root = await mkdtemp(join(tmpdir(), "runlet-tree-link-"));
    made.push(root);
    const source = join(root, "source");
    const target = join(root, "target");
    await mkdir(join(source, "lib", "deep"), { recursive: true });
    await writeFile(join(source, "index.js"), "top");
    await writeFile(join(source, "lib", "deep", "inner.js"), "inner");
    await symlink("lib/deep/inner.js", join(source, "alias.js"));

    await linkTree(source, target);

    for (const file of ["index.js", join("lib", "deep", "inner.js")]) {
      const [from, to] = await Promise.all([stat(join(source, file)), stat(join(target, file))]);
      expect(to.ino).toBe(from.ino);
    }
    expect((await lstat(join(target, "alias.js"))).isSymbolicLink()).toBe(true);
    expect(await readlink(join(target, "alias.js"))).toBe("lib/deep/inner.js");
    expect(await readFile(join(target, "alias.js"), "utf8")).toBe("inner");
  });
});
