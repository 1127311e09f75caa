// A small, deterministic tar writer for image layers and OCI layouts (issue 15): ustar headers, PAX records for long names.
import { createHash } from "node:crypto";
import { once } from "node:events";
import { createReadStream, type WriteStream } from "node:fs";

const BLOCK = 512;

export interface TarEntryHeader {
  /** Relative path, `/`-separated, no leading slash. */
  readonly path: string;
  readonly mode: number;
  /** @default 0 */
  readonly uid?: number;
  /** @default 0 */
  readonly gid?: number;
}

/**
 * Writes a tar stream in order, to a file stream the caller opened. Every entry has mtime 0
 * and numeric owners only, so the same files always give the same bytes (and digest).
 * Writes that the stream cannot take at once are awaited, so memory stays small.
 */
export class TarWriter {
  readonly #out: WriteStream;
  readonly #hash = createHash("sha256");
  #bytes = 0;

  constructor(out: WriteStream) {
    this.#out = out;
  }

  /** Bytes written so far. */
  get size(): number {
    return this.#bytes;
  }

  /** `sha256:<hex>` of everything written; call once, after finish(). */
  digest(): string {
    return `sha256:${this.#hash.digest("hex")}`;
  }

  async directory(header: TarEntryHeader): Promise<void> {
    await this.#header(header, "5", 0, "", header.path.endsWith("/") ? "" : "/");
  }

  async symlink(header: Omit<TarEntryHeader, "mode">, target: string): Promise<void> {
    await this.#header({ ...header, mode: 0o777 }, "2", 0, target);
  }

  async data(header: TarEntryHeader, data: Buffer): Promise<void> {
    await this.#header(header, "0", data.length);
    await this.#write(data);
    await this.#pad(data.length);
  }

  /** A regular file whose content is read from `source`, which must be `size` bytes long. */
  async file(header: TarEntryHeader, source: string, size: number): Promise<void> {
    await this.#header(header, "0", size);
    let copied = 0;
    for await (const chunk of createReadStream(source, { highWaterMark: 1 << 20 })) {
      const buffer = chunk as Buffer;
      copied += buffer.length;
      if (copied > size) {
        throw new Error(`${source} grew while it was being written into the tar`);
      }
      await this.#write(buffer);
    }
    if (copied !== size) {
      throw new Error(`${source} changed size while it was being written into the tar`);
    }
    await this.#pad(size);
  }

  /** The two zero blocks that end an archive. */
  async finish(): Promise<void> {
    await this.#write(Buffer.alloc(BLOCK * 2));
  }

  async #header(
    header: TarEntryHeader,
    type: "0" | "2" | "5",
    size: number,
    linkTarget = "",
    suffix = "",
  ): Promise<void> {
    const name = header.path + suffix;
    const pax: string[] = [];
    if (Buffer.byteLength(name) > 100) {
      pax.push(paxRecord("path", name));
    }
    if (Buffer.byteLength(linkTarget) > 100) {
      pax.push(paxRecord("linkpath", linkTarget));
    }
    if (pax.length > 0) {
      const body = Buffer.from(pax.join(""));
      await this.#write(ustarHeader({ path: "PaxHeader", mode: 0o644 }, "x", body.length, ""));
      await this.#write(body);
      await this.#pad(body.length);
    }
    await this.#write(ustarHeader({ ...header, path: name }, type, size, linkTarget));
  }

  async #pad(size: number): Promise<void> {
    const rest = size % BLOCK;
    if (rest !== 0) {
      await this.#write(Buffer.alloc(BLOCK - rest));
    }
  }

  async #write(buffer: Buffer): Promise<void> {
    this.#bytes += buffer.length;
    this.#hash.update(buffer);
    if (!this.#out.write(buffer)) {
      await once(this.#out, "drain");
    }
  }
}

/** A PAX record is "LENGTH KEY=VALUE\n", where LENGTH counts the whole record, itself included. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let length = Buffer.byteLength(body) + 1;
  while (String(length).length + Buffer.byteLength(body) !== length) {
    length = String(length).length + Buffer.byteLength(body);
  }
  return `${String(length)}${body}`;
}

function ustarHeader(
  header: TarEntryHeader,
  type: string,
  size: number,
  linkTarget: string,
): Buffer {
  const block = Buffer.alloc(BLOCK);
  const text = (value: string, offset: number, length: number): void => {
    // Longer names are in the PAX record before this header; the ustar field keeps a prefix.
    block.write(value.slice(0, length), offset, length, "utf8");
  };
  const octal = (value: number, offset: number, length: number): void => {
    block.write(`${value.toString(8).padStart(length - 1, "0")}\0`, offset, length, "latin1");
  };
  text(header.path, 0, 100);
  octal(header.mode & 0o7777, 100, 8);
  octal(header.uid ?? 0, 108, 8);
  octal(header.gid ?? 0, 116, 8);
  octal(size, 124, 12);
  octal(0, 136, 12); // mtime
  block.fill(" ", 148, 156); // checksum field counts as spaces while summing
  text(type, 156, 1);
  text(linkTarget, 157, 100);
  block.write("ustar\u000000", 257, 8, "latin1");
  let sum = 0;
  for (const byte of block) {
    sum += byte;
  }
  block.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8, "latin1");
  return block;
}
