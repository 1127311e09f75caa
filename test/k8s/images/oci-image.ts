// Writes image layers from rootfs listings, and OCI image layouts as tar archives from them (issue 15), for `ctr images import`.
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { rename, rm, stat } from "node:fs/promises";
import { finished } from "node:stream/promises";
import type { RootfsEntry } from "./rootfs.js";
import { TarWriter } from "./tar-writer.js";

/** The parts of an OCI image config (`config` in the image config JSON) the tests use. */
export interface ImageRuntimeConfig {
  readonly entrypoint: readonly string[];
  readonly cmd?: readonly string[];
  /** `uid:gid`, numeric, so that Kubernetes can check runAsNonRoot. */
  readonly user: string;
  readonly env: readonly string[];
  readonly workingDir: string;
  /** e.g. `8888/tcp` */
  readonly exposedPorts: readonly string[];
  readonly labels?: Readonly<Record<string, string>>;
}

/** A layer written to a file: an uncompressed tar, named in the image by its digest. */
export interface LayerFile {
  readonly file: string;
  /** `sha256:<hex>` of the file: both the blob digest and the diff id, as it is not compressed. */
  readonly digest: string;
  readonly size: number;
}

export interface OciImageOptions {
  /** Fully qualified, with a tag that is not `latest`, e.g. `runlet.local/runtime-node:0.1.0`. */
  readonly reference: string;
  /** Bottom first. */
  readonly layers: readonly LayerFile[];
  readonly config: ImageRuntimeConfig;
  /** The archive to write; it appears only once complete. */
  readonly out: string;
}

export interface OciImage {
  readonly reference: string;
  readonly archive: string;
  /** sha256 digest of the manifest: what containerd reports as the image's digest. */
  readonly manifestDigest: string;
}

const LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar";
const CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json";
const MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json";

/**
 * Writes `entries` as a layer tar. Uncompressed (a valid OCI layer media type): layers only
 * ever go to a containerd on the same machine, and gzip would cost seconds per start for
 * nothing. Sorted, owners numeric, mtimes 0: the same entries always give the same digest.
 */
export async function writeLayer(entries: readonly RootfsEntry[], out: string): Promise<LayerFile> {
  // Another test process may write the same layer at the same time: each writes its own
  // scratch file, and the last rename wins with identical bytes.
  const partial = `${out}.${String(process.pid)}.partial`;
  try {
    const stream = createWriteStream(partial);
    const tar = new TarWriter(stream);
    const seen = new Set<string>();
    for (const entry of [...entries].sort((a, b) => compare(a.path, b.path))) {
      if (seen.has(entry.path)) {
        throw new Error(`the rootfs lists ${entry.path} twice`);
      }
      seen.add(entry.path);
      const header = { path: entry.path, mode: entry.mode, uid: entry.uid, gid: entry.gid };
      switch (entry.kind) {
        case "directory":
          await tar.directory(header);
          break;
        case "symlink":
          await tar.symlink(header, entry.target);
          break;
        case "data":
          await tar.data(header, entry.data);
          break;
        case "file":
          await tar.file(header, entry.source, (await stat(entry.source)).size);
          break;
      }
    }
    await tar.finish();
    stream.end();
    await finished(stream);
    await rename(partial, out);
    return { file: out, digest: tar.digest(), size: tar.size };
  } finally {
    await rm(partial, { force: true });
  }
}

/** Writes the OCI image layout (index, manifest, config and the layers) as one tar archive. */
export async function writeOciImage(options: OciImageOptions): Promise<OciImage> {
  const tag = options.reference.slice(options.reference.lastIndexOf(":") + 1);
  if (!options.reference.includes("/") || tag === "latest" || tag.includes("/")) {
    throw new Error(
      `image reference ${options.reference} must be fully qualified and tagged with something other than latest`,
    );
  }
  const config = jsonBlob({
    created: "1970-01-01T00:00:00Z",
    architecture: "amd64",
    os: "linux",
    config: {
      Entrypoint: options.config.entrypoint,
      ...(options.config.cmd === undefined ? {} : { Cmd: options.config.cmd }),
      User: options.config.user,
      Env: options.config.env,
      WorkingDir: options.config.workingDir,
      ExposedPorts: Object.fromEntries(options.config.exposedPorts.map((p) => [p, {}])),
      Labels: options.config.labels ?? {},
    },
    rootfs: { type: "layers", diff_ids: options.layers.map((layer) => layer.digest) },
    history: options.layers.map(() => ({
      created: "1970-01-01T00:00:00Z",
      created_by: "test/k8s/images",
    })),
  });
  const manifest = jsonBlob({
    schemaVersion: 2,
    mediaType: MANIFEST_MEDIA_TYPE,
    config: { mediaType: CONFIG_MEDIA_TYPE, digest: config.digest, size: config.data.length },
    layers: options.layers.map((layer) => ({
      mediaType: LAYER_MEDIA_TYPE,
      digest: layer.digest,
      size: layer.size,
    })),
  });
  const index = jsonBlob({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [
      {
        mediaType: MANIFEST_MEDIA_TYPE,
        digest: manifest.digest,
        size: manifest.data.length,
        platform: { architecture: "amd64", os: "linux" },
        annotations: {
          // containerd names the imported image by this one.
          "io.containerd.image.name": options.reference,
          "org.opencontainers.image.ref.name": tag,
        },
      },
    ],
  });

  const partial = `${options.out}.${String(process.pid)}.partial`;
  try {
    const out = createWriteStream(partial);
    const tar = new TarWriter(out);
    const blobPath = (digest: string): string => `blobs/sha256/${digest.slice("sha256:".length)}`;
    await tar.data(
      { path: "oci-layout", mode: 0o644 },
      Buffer.from('{"imageLayoutVersion":"1.0.0"}'),
    );
    await tar.data({ path: "index.json", mode: 0o644 }, index.data);
    await tar.directory({ path: "blobs", mode: 0o755 });
    await tar.directory({ path: "blobs/sha256", mode: 0o755 });
    await tar.data({ path: blobPath(config.digest), mode: 0o644 }, config.data);
    await tar.data({ path: blobPath(manifest.digest), mode: 0o644 }, manifest.data);
    const written = new Set<string>();
    for (const layer of options.layers) {
      if (!written.has(layer.digest)) {
        written.add(layer.digest);
        await tar.file({ path: blobPath(layer.digest), mode: 0o644 }, layer.file, layer.size);
      }
    }
    await tar.finish();
    out.end();
    await finished(out);
    await rename(partial, options.out);
  } finally {
    await rm(partial, { force: true });
  }
  return { reference: options.reference, archive: options.out, manifestDigest: manifest.digest };
}

function jsonBlob(value: unknown): { data: Buffer; digest: string } {
  const data = Buffer.from(JSON.stringify(value));
  return { data, digest: `sha256:${createHash("sha256").update(data).digest("hex")}` };
}

/** Byte order, so parents come before their children and the order never depends on locale. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
