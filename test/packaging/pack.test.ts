import { link, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { list } from "tar";
import { describe, expect, it } from "vitest";
import { packDirectory } from "../../src/packaging/pack.js";
import { unpackArchive } from "../../src/packaging/unpack.js";
import { tempDir, writeSource } from "../helpers/runlet.js";

const limits = { maxUnpackedBytes: 10 * 1024 * 1024, maxFiles: 1000 };

async function entries(archive: Buffer): Promise<Array<{ path: string; type: string }>> {
  const found: Array<{ path: string; type: string }> = [];
  const dir = await tempDir();
  const file = join(dir, "package.tar.gz");
  await writeFile(file, archive);
  await list({ file, onReadEntry: (entry) => found.push({ path: entry.path, type: entry.type }) });
  return found;
}

describe("packDirectory", () => {
  it("packs hard-linked files as regular files the server accepts", async () => {
    const source = await writeSource({ "index.js": "export default () => 'hi';\n" });
    await mkdir(join(source, "bin"));
    await link(join(source, "index.js"), join(source, "bin", "copy.js"));

    const packed = await packDirectory(source);

    expect(await entries(packed.archive)).toEqual([
      { path: "bin/copy.js", type: "File" },
      { path: "index.js", type: "File" },
    ]);
    await expect(unpackArchive(packed.archive, await tempDir(), limits)).resolves.toEqual({
      files: 2,
      bytes: 2 * "export default () => 'hi';\n".length,
    });
  });

  it("leaves a local node_modules out next to a package.json (the server installs dependencies)", async () => {
    const source = await writeSource({
      "index.js": "export default () => 'hi';\n",
      "package.json": '{"type":"module"}\n',
      "node_modules/tsx/index.js": "tool\n",
      "lib/node_modules/kept.js": "not the top-level one\n",
    });

    const packed = await packDirectory(source);

    expect((await entries(packed.archive)).map((entry) => entry.path)).toEqual([
      "index.js",
      "lib/node_modules/kept.js",
      "package.json",
    ]);
  });

  it("keeps node_modules when there is no package.json (vendored modules)", async () => {
    const source = await writeSource({
      "index.js": "export default () => 'hi';\n",
      "node_modules/vendored/index.js": "module.exports = 1;\n",
    });

    const packed = await packDirectory(source);

    expect((await entries(packed.archive)).map((entry) => entry.path)).toEqual([
      "index.js",
      "node_modules/vendored/index.js",
    ]);
  });
});

describe("packDirectory of an empty folder", () => {
  it("gives an archive the server accepts (an exec command needs no files)", async () => {
    const source = await tempDir();

    const packed = await packDirectory(source);

    expect(packed.files).toBe(0);
    await expect(unpackArchive(packed.archive, await tempDir(), limits)).resolves.toEqual({
      files: 0,
      bytes: 0,
    });
  });
});
