// Reads back a written OCI image archive (config and the files of its layers), so tests can check what it really holds.
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { extract, list } from "tar";

export interface ImageContents {
  readonly reference: string | undefined;
  /** The `config` object of the image config JSON (Entrypoint, User, ExposedPorts, ...). */
  readonly config: Record<string, unknown>;
  /** Regular files of all layers: path (no leading slash) → sha256 hex and mode. */
  readonly files: ReadonlyMap<string, { readonly sha256: string; readonly mode: number }>;
  /** Every path in any layer, of any type. */
  readonly paths: ReadonlySet<string>;
}

/** Parses an archive written by writeOciImage (one manifest). */
export async function readImageArchive(archive: string): Promise<ImageContents> {
  const scratch = await mkdtemp(path.join(os.tmpdir(), "runlet-image-read-"));
  try {
    const small = new Map<string, Buffer>();
    // Small JSON blobs stay in memory; the layer is hashed entry by entry in a second pass.
    await list({
      file: archive,
      onReadEntry: (entry) => {
        const chunks: Buffer[] = [];
        entry.on("data", (chunk: Buffer) => {
          if (entry.size < 1 << 20) {
            chunks.push(chunk);
          }
        });
        entry.on("end", () => {
          if (entry.size < 1 << 20) {
            small.set(entry.path, Buffer.concat(chunks));
          }
        });
      },
    });
    const index: unknown = JSON.parse(requireBlob(small, "index.json").toString());
    const manifestDigest = digestOf(index, ["manifests", 0, "digest"]);
    const manifest: unknown = JSON.parse(requireBlob(small, blobPath(manifestDigest)).toString());
    const config: unknown = JSON.parse(
      requireBlob(small, blobPath(digestOf(manifest, ["config", "digest"]))).toString(),
    );
    const files = new Map<string, { sha256: string; mode: number }>();
    const paths = new Set<string>();
    const layers = readPath(manifest, ["layers"]);
    const count = Array.isArray(layers) ? layers.length : 0;
    // Bottom layer first, so a file of an upper layer replaces the one below.
    for (let i = 0; i < count; i++) {
      const layerPath = blobPath(digestOf(manifest, ["layers", i, "digest"]));
      await extract({ file: archive, cwd: scratch, filter: (p) => p === layerPath });
      await list({
        file: path.join(scratch, layerPath),
        onReadEntry: (entry) => {
          const name = entry.path.replace(/\/$/, "");
          paths.add(name);
          if (entry.type === "File") {
            const hash = createHash("sha256");
            entry.on("data", (chunk: Buffer) => hash.update(chunk));
            entry.on("end", () =>
              files.set(name, { sha256: hash.digest("hex"), mode: entry.mode ?? 0 }),
            );
          }
        },
      });
    }
    const annotations = readPath(index, ["manifests", 0, "annotations"]);
    const reference =
      typeof annotations === "object" && annotations !== null
        ? (annotations as Record<string, unknown>)["io.containerd.image.name"]
        : undefined;
    const imageConfig = readPath(config, ["config"]);
    return {
      reference: typeof reference === "string" ? reference : undefined,
      config:
        typeof imageConfig === "object" && imageConfig !== null
          ? (imageConfig as Record<string, unknown>)
          : {},
      files,
      paths,
    };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** sha256 hex of a file, for comparing an image's copy with the repo's. */
export async function sha256Of(file: string): Promise<string> {
  return createHash("sha256")
    .update(await readFile(file))
    .digest("hex");
}

function blobPath(digest: string): string {
  return `blobs/sha256/${digest.replace(/^sha256:/, "")}`;
}

function requireBlob(blobs: Map<string, Buffer>, name: string): Buffer {
  const blob = blobs.get(name);
  if (blob === undefined) {
    throw new Error(`the image archive has no ${name}`);
  }
  return blob;
}

function digestOf(value: unknown, keys: readonly (string | number)[]): string {
  const digest = readPath(value, keys);
  if (typeof digest !== "string" || !digest.startsWith("sha256:")) {
    throw new Error(`no digest at ${keys.join(".")}`);
  }
  return digest;
}

function readPath(value: unknown, keys: readonly (string | number)[]): unknown {
  let current = value;
  for (const key of keys) {
    if (typeof current !== "object" || current === null) {
      return undefined;
    }
    current = (current as Record<string | number, unknown>)[key];
  }
  return current;
}
