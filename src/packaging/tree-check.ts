/**
 * Checks an unpacked package tree against the archive it came from (issue 13, item 11): the
 * stored archive must still hash to the package's digest, and the tree must hold exactly the
 * archive's entries — the same bytes in every file, the same target in every link, nothing
 * added. File modes and times are not compared.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, open, readdir, readlink } from "node:fs/promises";
import { join } from "node:path";
import { Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { Parser, type ReadEntry } from "tar";
import { entryPath } from "./unpack.js";

type Expected =
  | { readonly kind: "dir" }
  | { readonly kind: "file"; sha256: string }
  | { readonly kind: "link"; readonly target: string };

/** What differs between `tree` and the archive `archiveFile` of `digest`; undefined when nothing. */
export async function treeMismatch(
  archiveFile: string,
  tree: string,
  digest: string,
): Promise<string | undefined> {
  const expected = await archiveEntries(archiveFile, digest);
  if (typeof expected === "string") {
    return expected;
  }
  const seen = new Set<string>();
  const walk = async (dir: string, prefix: string): Promise<string | undefined> => {
    const listed = await readdir(dir, { withFileTypes: true }).catch(() => undefined);
    if (!listed) {
      return `${prefix === "" ? "the package folder" : prefix} cannot be read`;
    }
    for (const entry of listed) {
      const path = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
      const host = join(dir, entry.name);
      const want = expected.get(path);
      seen.add(path);
      if (!want) {
        return `${path} is not in the uploaded archive`;
      }
      const info = await lstat(host);
      if (want.kind === "dir") {
        if (!info.isDirectory()) {
          return `${path} is no longer a folder`;
        }
        const inner = await walk(host, path);
        if (inner) {
          return inner;
        }
      } else if (want.kind === "link") {
        if (!info.isSymbolicLink() || (await readlink(host)) !== want.target) {
          return `${path} is no longer the link it was uploaded as`;
        }
      } else if (!info.isFile() || (await fileHash(host)) !== want.sha256) {
        return `${path} differs from the uploaded file`;
      }
    }
    return undefined;
  };
  const found = await walk(tree, "");
  if (found) {
    return found;
  }
  for (const path of expected.keys()) {
    if (path !== "" && !seen.has(path)) {
      return `${path} is missing`;
    }
  }
  return undefined;
}

/** The archive's entries with their content hashes, or why the archive itself is not right. */
async function archiveEntries(
  archiveFile: string,
  digest: string,
): Promise<Map<string, Expected> | string> {
  const gzipped = await startsWithGzip(archiveFile);
  if (gzipped === undefined) {
    return "the stored archive is missing";
  }
  const expected = new Map<string, Expected>([["", { kind: "dir" }]]);
  const hardLinks: Array<[string, string]> = [];
  const hashing: Promise<void>[] = [];
  const addParents = (path: string): void => {
    const parts = path.split("/");
    for (let i = 1; i < parts.length; i += 1) {
      expected.set(parts.slice(0, i).join("/"), { kind: "dir" });
    }
  };
  const onEntry = (entry: ReadEntry): void => {
    const path = entryPath(entry.path);
    if (typeof path !== "string") {
      entry.resume();
      return;
    }
    addParents(path);
    if (entry.type === "Directory") {
      expected.set(path, { kind: "dir" });
      entry.resume();
    } else if (entry.type === "SymbolicLink") {
      expected.set(path, { kind: "link", target: entry.linkpath ?? "" });
      entry.resume();
    } else if (entry.type === "Link") {
      const target = entryPath(entry.linkpath ?? "");
      if (typeof target === "string") {
        hardLinks.push([path, target]);
      }
      entry.resume();
    } else {
      const hash = createHash("sha256");
      const file: Expected = { kind: "file", sha256: "" };
      expected.set(path, file);
      hashing.push(
        new Promise((resolve, reject) => {
          entry.on("data", (chunk: Buffer) => hash.update(chunk));
          entry.on("end", () => {
            file.sha256 = hash.digest("hex");
            resolve();
          });
          entry.on("error", reject);
        }),
      );
    }
  };
  const archiveHash = createHash("sha256");
  const hashArchive = new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      archiveHash.update(chunk);
      callback(null, chunk);
    },
  });
  try {
    const parser = new Parser({ strict: true, brotli: false, zstd: false, onReadEntry: onEntry });
    const source = createReadStream(archiveFile);
    await (gzipped
      ? pipeline(source, hashArchive, createGunzip(), parser)
      : pipeline(source, hashArchive, parser));
    await Promise.all(hashing);
  } catch {
    return "the stored archive cannot be read";
  }
  if (`sha256:${archiveHash.digest("hex")}` !== digest) {
    return "the stored archive does not hash to the digest";
  }
  for (const [path, target] of hardLinks) {
    const file = expected.get(target);
    if (file?.kind === "file") {
      expected.set(path, { kind: "file", sha256: file.sha256 });
    }
  }
  return expected;
}

async function startsWithGzip(file: string): Promise<boolean | undefined> {
  const handle = await open(file, "r").catch(() => undefined);
  if (!handle) {
    return undefined;
  }
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await handle.read(head, 0, 2, 0);
    return bytesRead === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    await handle.close();
  }
}

async function fileHash(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    hash.update(chunk);
  }
  return hash.digest("hex");
}
