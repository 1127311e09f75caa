/** Hand-made tar archives for upload tests: any entry a hostile client could send, and gzip bombs. */
import { once } from "node:events";
import { gzipSync, createGzip } from "node:zlib";
import { Header } from "tar";

export interface TarEntry {
  readonly path: string;
  /** @default "File" */
  readonly type?:
    "File" | "Directory" | "SymbolicLink" | "Link" | "CharacterDevice" | "BlockDevice" | "FIFO";
  readonly linkpath?: string;
  readonly body?: string | Buffer;
  readonly mode?: number;
}

function header(entry: TarEntry, size: number): Buffer {
  const block = Buffer.alloc(512);
  new Header({
    path: entry.path,
    type: entry.type ?? "File",
    linkpath: entry.linkpath,
    size,
    mode: entry.mode ?? (entry.type === "Directory" ? 0o755 : 0o644),
    uid: 0,
    gid: 0,
    mtime: new Date(0),
  }).encode(block, 0);
  return block;
}

const padding = (size: number): Buffer => Buffer.alloc((512 - (size % 512)) % 512);

/** The bytes of a plain tar with exactly these entries, in this order. */
export function tarBytes(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const body = Buffer.from(entry.body ?? "");
    parts.push(header(entry, body.length), body, padding(body.length));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export function tarGz(entries: readonly TarEntry[]): Buffer {
  return gzipSync(tarBytes(entries));
}

/**
 * A .tar.gz whose tar holds `entries`, then one file of `zeroBytes` zeros (declared with its
 * real size), then `trailingZeroBytes` more zeros after the end of the archive. Built streaming:
 * the zeros are never in memory at once.
 */
export async function gzipBomb(options: {
  readonly zeroBytes: number;
  readonly trailingZeroBytes?: number;
  readonly entries?: readonly TarEntry[];
}): Promise<Buffer> {
  const gzip = createGzip({ level: 9 });
  const out: Buffer[] = [];
  gzip.on("data", (chunk: Buffer) => out.push(chunk));
  const ended = once(gzip, "end");
  const write = async (chunk: Buffer): Promise<void> => {
    if (!gzip.write(chunk)) {
      await once(gzip, "drain");
    }
  };
  const zeros = Buffer.alloc(1024 * 1024);
  const writeZeros = async (bytes: number): Promise<void> => {
    for (let left = bytes; left > 0; left -= zeros.length) {
      await write(left >= zeros.length ? zeros : zeros.subarray(0, left));
    }
  };
  const leading = tarBytes(options.entries ?? []);
  await write(leading.subarray(0, leading.length - 1024));
  if (options.zeroBytes > 0) {
    await write(header({ path: "zeros.bin" }, options.zeroBytes));
    await writeZeros(options.zeroBytes);
    await write(padding(options.zeroBytes));
  }
  await writeZeros(1024 + (options.trailingZeroBytes ?? 0));
  gzip.end();
  await ended;
  return Buffer.concat(out);
}
