// Builds the real test node's images as OCI archives, cached beside the node's binaries and rebuilt when what goes into them changes (issue 15).
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { addRepoCopies, type ImageLayer, type ImageSpec } from "./image-specs.js";
import { writeLayer, writeOciImage, type LayerFile, type OciImage } from "./oci-image.js";
import { Rootfs } from "./rootfs.js";

/** The cache root test/k8s/cluster/build.sh and node/build.sh use too. */
export function k8sCacheRoot(): string {
  return (
    process.env["RUNLET_K8S_CACHE"] ??
    path.join(process.env["XDG_CACHE_HOME"] ?? path.join(os.homedir(), ".cache"), "runlet", "k8s")
  );
}

export interface ImageBuild extends OciImage {
  readonly name: string;
  /** False when the archive came from the cache. */
  readonly built: boolean;
}

/**
 * Writes each image's archive unless one for exactly these inputs is cached. Layers are cached
 * on their own (`layers/`), keyed by every entry with each host file's size, mtime and inode
 * (cheap to read, and any edit or reinstall changes one of them); an archive is keyed by its
 * config and its layers' digests. Older files of the same layer or image are removed.
 */
export async function buildImages(
  specs: readonly ImageSpec[],
  cacheDir = path.join(k8sCacheRoot(), "images"),
): Promise<ImageBuild[]> {
  await mkdir(path.join(cacheDir, "layers"), { recursive: true });
  const layers = new Map<ImageLayer, Promise<LayerFile>>();
  // One image after another: the machine has two cores and the control plane is starting.
  const results: ImageBuild[] = [];
  for (const spec of specs) {
    const files: LayerFile[] = [];
    for (const layer of spec.layers) {
      let file = layers.get(layer);
      if (file === undefined) {
        file = buildLayer(layer.name, (rootfs) => layer.assemble(rootfs), cacheDir);
        layers.set(layer, file);
      }
      files.push(await file);
    }
    if (spec.copies.length > 0) {
      files.push(
        await buildLayer(`${spec.name}-files`, (rootfs) => addRepoCopies(rootfs, spec), cacheDir),
      );
    }
    results.push(await buildArchive(spec, files, cacheDir));
  }
  return results;
}

async function buildLayer(
  name: string,
  assemble: (rootfs: Rootfs) => Promise<void>,
  cacheDir: string,
): Promise<LayerFile> {
  const rootfs = new Rootfs();
  await assemble(rootfs);
  const key = await layerKey(rootfs);
  const dir = path.join(cacheDir, "layers");
  const file = path.join(dir, `${name}-${key}.tar`);
  const cached = await readRecord<LayerFile>(file);
  if (cached !== undefined) {
    return { ...cached, file };
  }
  const layer = await writeLayer(rootfs.entries, file);
  await writeRecord(file, layer);
  await removeOthers(dir, `${name}-`, path.basename(file));
  return layer;
}

async function buildArchive(
  spec: ImageSpec,
  layers: readonly LayerFile[],
  cacheDir: string,
): Promise<ImageBuild> {
  const key = createHash("sha256")
    .update(JSON.stringify({ reference: spec.reference, config: spec.config, format: 2 }))
    .update(layers.map((layer) => layer.digest).join(","))
    .digest("hex")
    .slice(0, 16);
  const archive = path.join(cacheDir, `${spec.name}-${key}.tar`);
  const cached = await readRecord<OciImage>(archive);
  if (cached !== undefined) {
    return { ...cached, archive, name: spec.name, built: false };
  }
  const image = await writeOciImage({
    reference: spec.reference,
    layers,
    config: spec.config,
    out: archive,
  });
  await writeRecord(archive, image);
  await removeOthers(cacheDir, `${spec.name}-`, path.basename(archive));
  return { ...image, name: spec.name, built: true };
}

async function layerKey(rootfs: Rootfs): Promise<string> {
  const hash = createHash("sha256").update("format 1");
  const entries = [...rootfs.entries].sort((a, b) => (a.path < b.path ? -1 : 1));
  const sizes = await Promise.all(
    entries.map((entry) => (entry.kind === "file" ? stat(entry.source) : undefined)),
  );
  for (const [i, entry] of entries.entries()) {
    hash.update(`\n${entry.kind} ${entry.path} ${String(entry.mode)} ${String(entry.uid ?? 0)}`);
    const info = sizes[i];
    if (entry.kind === "symlink") {
      hash.update(` -> ${entry.target}`);
    } else if (entry.kind === "data") {
      hash.update(" ").update(entry.data);
    } else if (entry.kind === "file" && info !== undefined) {
      hash.update(
        ` ${entry.source} ${String(info.size)} ${String(info.mtimeMs)} ${String(info.ino)}`,
      );
    }
  }
  return hash.digest("hex").slice(0, 16);
}

/** A cached file's facts, kept in a small JSON beside it (written after the file). */
async function readRecord<T>(file: string): Promise<T | undefined> {
  try {
    const record = JSON.parse(await readFile(`${file}.json`, "utf8")) as T;
    await stat(file);
    return record;
  } catch {
    return undefined;
  }
}

async function writeRecord(file: string, record: unknown): Promise<void> {
  const partial = `${file}.json.${String(process.pid)}`;
  await writeFile(partial, JSON.stringify(record));
  await rename(partial, `${file}.json`);
}

/** Removes older versions (`<prefix><other key>.tar` and its record) of a cached file. */
async function removeOthers(dir: string, prefix: string, keep: string): Promise<void> {
  for (const file of await readdir(dir)) {
    // Keys are hex: `<prefix><16 hex>.tar`; a longer name (another layer's) does not match.
    if (/^[0-9a-f]{16}\.tar/.test(file.slice(prefix.length)) && file.startsWith(prefix)) {
      if (!file.startsWith(keep)) {
        await rm(path.join(dir, file), { force: true });
      }
    }
  }
}
