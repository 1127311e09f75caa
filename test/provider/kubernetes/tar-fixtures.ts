/**
 * Gzipped tar archives made entry by entry, including the entries no honest package has (`..`,
 * absolute names, links out, devices), to attack the runtimes' package unpacking with.
 */
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";

export interface TarEntry {
  readonly name: string;
  readonly type: "file" | "dir" | "symlink" | "hardlink" | "chardev";
  readonly body?: Buffer | string;
  readonly linkName?: string;
  readonly mode?: number;
}

const typeFlags = { file: "0", dir: "5", symlink: "2", hardlink: "1", chardev: "3" } as const;

function header(entry: TarEntry, size: number): Buffer {
  const block = Buffer.alloc(512);
  const put = (text: string, offset: number, length: number): void => {
    block.write(text, offset, Math.min(length, Buffer.byteLength(text)), "utf8");
  };
  const octal = (value: number, offset: number, length: number): void =>
    put(`${value.toString(8).padStart(length - 1, "0")}\0`, offset, length);
  put(entry.name, 0, 100);
  octal(entry.mode ?? (entry.type === "dir" ? 0o755 : 0o644), 100, 8);
  octal(0, 108, 8);
  octal(0, 116, 8);
  octal(size, 124, 12);
  octal(0, 136, 12);
  block.fill(" ", 148, 156);
  put(typeFlags[entry.type], 156, 1);
  put(entry.linkName ?? "", 157, 100);
  put("ustar\u000000", 257, 8);
  let sum = 0;
  for (const byte of block) {
    sum += byte;
  }
  put(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8);
  return block;
}

export function tarGz(entries: readonly TarEntry[]): { archive: Buffer; digest: string } {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const body = Buffer.from(entry.body ?? "");
    parts.push(header(entry, entry.type === "file" ? body.length : 0));
    if (entry.type === "file") {
      parts.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
    }
  }
  parts.push(Buffer.alloc(1024));
  const archive = gzipSync(Buffer.concat(parts));
  return { archive, digest: `sha256:${createHash("sha256").update(archive).digest("hex")}` };
}
