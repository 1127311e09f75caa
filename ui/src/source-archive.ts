/**
 * A function's source as the gateway takes it (POST /api/v1/packages): a gzipped tar of
 * regular files, sorted, with no owners or times, as the CLI packs a folder
 * (src/packaging/pack.ts), so the same files give the same digest. Written here in the
 * browser: ustar headers by hand, gzip by the browser's CompressionStream.
 */

export interface SourceFile {
  /** Path inside the package, with "/" between folders. */
  readonly path: string;
  readonly bytes: Uint8Array<ArrayBuffer>;
}

/** Never part of a package (as the CLI's packer). */
const ignoredParts = new Set([".git", ".hg", ".svn", ".DS_Store", ".runlet", "node_modules"]);

/** Whether a file of an uploaded folder belongs in the package. */
export function packable(path: string): boolean {
  return !path.split("/").some((part) => ignoredParts.has(part));
}

const encoder = new TextEncoder();

function field(header: Uint8Array, offset: number, length: number, text: string): void {
  const bytes = encoder.encode(text);
  if (bytes.length > length) {
    throw new Error(`tar field too long: ${text}`);
  }
  header.set(bytes, offset);
}

function octal(value: number, length: number): string {
  return value.toString(8).padStart(length - 1, "0");
}

/** A ustar header; a path over 100 bytes is split into prefix and name at a "/". */
function header(path: string, size: number): Uint8Array<ArrayBuffer> {
  const block = new Uint8Array(512);
  let name = path;
  let prefix = "";
  if (encoder.encode(path).length > 100) {
    const cut = path.lastIndexOf("/", 155);
    if (cut <= 0 || encoder.encode(path.slice(cut + 1)).length > 100) {
      throw new Error(`The path ${path} is too long to upload (at most 255 bytes).`);
    }
    prefix = path.slice(0, cut);
    name = path.slice(cut + 1);
  }
  field(block, 0, 100, name);
  field(block, 100, 8, "0000644");
  field(block, 108, 8, "0000000");
  field(block, 116, 8, "0000000");
  field(block, 124, 12, octal(size, 12));
  field(block, 136, 12, octal(0, 12));
  field(block, 148, 8, "        ");
  field(block, 156, 1, "0");
  field(block, 257, 6, "ustar");
  field(block, 263, 2, "00");
  field(block, 345, 155, prefix);
  let sum = 0;
  for (const byte of block) {
    sum += byte;
  }
  field(block, 148, 8, `${octal(sum, 7)}\0`);
  return block;
}

/** The package's bytes: a .tar.gz of `files`, sorted by path. */
export async function packSource(files: readonly SourceFile[]): Promise<Blob> {
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const parts: BlobPart[] = [];
  for (const file of sorted) {
    if (file.path === "" || file.path.startsWith("/") || file.path.split("/").includes("..")) {
      throw new Error(`The path ${JSON.stringify(file.path)} cannot be part of a package.`);
    }
    parts.push(header(file.path, file.bytes.length), file.bytes);
    const padding = (512 - (file.bytes.length % 512)) % 512;
    if (padding > 0) {
      parts.push(new Uint8Array(padding));
    }
  }
  parts.push(new Uint8Array(1024));
  const tar = new Blob(parts);
  return new Response(tar.stream().pipeThrough(new CompressionStream("gzip"))).blob();
}
