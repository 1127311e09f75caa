// A small, careful reader of gzipped tar archives (the packages src/packaging/pack.ts writes),
// for runtimes that fetch their own package (a pod): the runtime images carry no npm
// packages. Streams: bounded memory whatever the archive's size. Refuses what could leave or
// abuse the package directory: absolute names, `..`, hard links, device files and FIFOs,
// symbolic links that resolve (through other links) outside it, entries beneath a link, and
// more than the size or entry limit. Links are made last, once every entry is written, so no
// write ever goes through one. Dependency-free (zlib only).
import { createReadStream } from "node:fs";
import { mkdir, open, symlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { createGunzip } from "node:zlib";

/** The package cannot be unpacked: what is wrong with it, for the specialize answer. */
export class PackageRefused extends Error {}

const BLOCK = 512;

/**
 * Reads exactly the bytes asked for from an async iterable of Buffers, counting every byte so
 * a decompression bomb stops at the limit.
 */
class ByteReader {
  constructor(iterable, limit) {
    this.iterator = iterable[Symbol.asyncIterator]();
    this.buffered = [];
    this.length = 0;
    this.total = 0;
    this.limit = limit;
  }

  async #fill(n) {
    while (this.length < n) {
      const { value, done } = await this.iterator.next();
      if (done) {
        return false;
      }
      this.total += value.length;
      if (this.total > this.limit.tarBytes) {
        throw new PackageRefused(
          `the package unpacks to more than ${this.limit.tarBytes} bytes, the limit of this instance`,
        );
      }
      this.buffered.push(value);
      this.length += value.length;
    }
    return true;
  }

  /** Exactly `n` bytes, or undefined when the stream ends before any (or throws mid-way). */
  async read(n) {
    if (!(await this.#fill(n))) {
      if (this.length === 0) {
        return undefined;
      }
      throw new PackageRefused("the package archive ends in the middle of an entry");
    }
    const all = this.buffered.length === 1 ? this.buffered[0] : Buffer.concat(this.buffered);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.buffered = rest.length > 0 ? [rest] : [];
    this.length = rest.length;
    return out;
  }

  /** Hands the next `n` bytes to `sink` in pieces of at most 64 KiB. */
  async forEachPiece(n, sink) {
    let left = n;
    while (left > 0) {
      const piece = await this.read(Math.min(left, 64 * 1024));
      if (piece === undefined) {
        throw new PackageRefused("the package archive ends in the middle of a file");
      }
      await sink(piece);
      left -= piece.length;
    }
  }
}

function text(block, start, length) {
  const field = block.subarray(start, start + length);
  const end = field.indexOf(0);
  return field.subarray(0, end < 0 ? field.length : end).toString("utf8");
}

function octal(block, start, length) {
  const field = block.subarray(start, start + length);
  if (field[0] & 0x80) {
    // Base-256 (GNU) for sizes over 8 GiB: far over any limit here.
    throw new PackageRefused("an entry of the package is larger than any limit");
  }
  const digits = text(block, start, length).trim();
  if (digits === "") {
    return 0;
  }
  if (!/^[0-7]+$/.test(digits)) {
    throw new PackageRefused(
      `the package archive has a malformed header field ${JSON.stringify(digits)}`,
    );
  }
  return parseInt(digits, 8);
}

function checksumOk(block) {
  let sum = 0;
  for (let i = 0; i < BLOCK; i += 1) {
    sum += i >= 148 && i < 156 ? 32 : block[i];
  }
  return sum === octal(block, 148, 8);
}

/** PAX records "LEN key=value\n" as an object. */
function paxRecords(data) {
  const records = {};
  let offset = 0;
  while (offset < data.length) {
    const space = data.indexOf(32, offset);
    const length = Number(data.subarray(offset, space).toString("latin1"));
    if (space < 0 || !Number.isInteger(length) || length <= 0 || offset + length > data.length) {
      throw new PackageRefused("the package archive has a malformed extended header");
    }
    const record = data.subarray(space + 1, offset + length - 1).toString("utf8");
    const equals = record.indexOf("=");
    if (equals > 0) {
      records[record.slice(0, equals)] = record.slice(equals + 1);
    }
    offset += length;
  }
  return records;
}

/**
 * The entry's path as segments inside the package, or a refusal: no absolute path, no `..`,
 * nothing but plain names ("." segments and a trailing slash are dropped).
 */
function segmentsOf(name) {
  if (name.startsWith("/") || /^[A-Za-z]:[\\/]/.test(name) || name.includes("\\")) {
    throw new PackageRefused(`entry ${JSON.stringify(name)} has an absolute path`);
  }
  if (name.includes("\0")) {
    throw new PackageRefused(`entry ${JSON.stringify(name)} has a NUL in its name`);
  }
  const segments = name.split("/").filter((s) => s !== "" && s !== ".");
  if (segments.includes("..")) {
    throw new PackageRefused(`entry ${JSON.stringify(name)} leaves the package (..)`);
  }
  return segments;
}

/**
 * Where a link at `linkSegments` pointing to `target` ends up, following the package's other
 * links, as segments inside the package; a refusal when any step goes above its root.
 */
function resolveLink(links, linkSegments, target, depth = 0) {
  if (depth > 32) {
    throw new PackageRefused(`link ${linkSegments.join("/")} is part of a cycle of links`);
  }
  if (target.startsWith("/")) {
    throw new PackageRefused(
      `link ${linkSegments.join("/")} points to an absolute path (${JSON.stringify(target)})`,
    );
  }
  const resolved = linkSegments.slice(0, -1);
  for (const segment of target.split("/")) {
    if (segment === "" || segment === ".") {
      continue;
    }
    if (segment === "..") {
      if (resolved.length === 0) {
        throw new PackageRefused(
          `link ${linkSegments.join("/")} points outside the package (${JSON.stringify(target)})`,
        );
      }
      resolved.pop();
      continue;
    }
    resolved.push(segment);
    const through = links.get(resolved.join("/"));
    if (through !== undefined) {
      const followed = resolveLink(links, [...resolved], through, depth + 1);
      resolved.splice(0, resolved.length, ...followed);
    }
  }
  return resolved;
}

/**
 * Unpacks the gzipped tar at `archivePath` into the directory `dir` (made if missing).
 * `limits`: {unpackedBytes, entries}.
 */
export async function unpackTarGz(archivePath, dir, limits) {
  const gunzip = createReadStream(archivePath).pipe(createGunzip());
  // The tar stream is the files plus a header per entry and padding: allow for those.
  const reader = new ByteReader(gunzip, {
    tarBytes: limits.unpackedBytes + (limits.entries + 2) * 2 * BLOCK,
  });
  await mkdir(dir, { recursive: true });
  const links = new Map();
  const written = new Set();
  let unpacked = 0;
  let entries = 0;
  let pax = {};
  let longName;
  let longLink;
  try {
    for (;;) {
      const header = await reader.read(BLOCK);
      if (header === undefined || header.every((b) => b === 0)) {
        break;
      }
      if (!checksumOk(header)) {
        throw new PackageRefused("the package archive has a header with a wrong checksum");
      }
      const type = String.fromCharCode(header[156] || 48);
      const size = octal(header, 124, 12);
      const padded = Math.ceil(size / BLOCK) * BLOCK;
      if (type === "x" || type === "g" || type === "L" || type === "K") {
        if (size > 1024 * 1024) {
          throw new PackageRefused("the package archive has an oversized extended header");
        }
        const data = (await reader.read(padded)).subarray(0, size);
        if (type === "x") {
          pax = paxRecords(data);
        } else if (type === "L") {
          longName = text(data, 0, data.length);
        } else if (type === "K") {
          longLink = text(data, 0, data.length);
        }
        continue;
      }
      const prefix =
        header.subarray(257, 262).toString("latin1") === "ustar" ? text(header, 345, 155) : "";
      const name =
        pax.path ??
        longName ??
        (prefix ? `${prefix}/${text(header, 0, 100)}` : text(header, 0, 100));
      const linkName = pax.linkpath ?? longLink ?? text(header, 157, 100);
      const entrySize = pax.size !== undefined ? Number(pax.size) : size;
      const entryPadded = Math.ceil(entrySize / BLOCK) * BLOCK;
      pax = {};
      longName = undefined;
      longLink = undefined;
      entries += 1;
      if (entries > limits.entries) {
        throw new PackageRefused(`the package has more than ${limits.entries} entries`);
      }
      const segments = segmentsOf(name);
      const path = segments.join("/");
      // A write beneath a link could land anywhere: every ancestor must be a plain directory.
      for (let i = 1; i <= segments.length; i += 1) {
        const ancestor = segments.slice(0, i).join("/");
        if (links.has(ancestor)) {
          throw new PackageRefused(
            `entry ${JSON.stringify(name)} goes through the link ${ancestor}`,
          );
        }
      }
      if (type === "0" || type === "7") {
        unpacked += entrySize;
        if (unpacked > limits.unpackedBytes) {
          throw new PackageRefused(
            `the package unpacks to more than ${limits.unpackedBytes} bytes, the limit of this instance`,
          );
        }
        if (segments.length === 0) {
          throw new PackageRefused("the package has a file entry without a name");
        }
        const target = join(dir, ...segments);
        await mkdir(dirname(target), { recursive: true });
        const mode = octal(header, 100, 8) & 0o111 ? 0o755 : 0o644;
        // "wx": an entry never replaces what is there (a link or an earlier entry).
        const file = await open(target, "wx", mode);
        try {
          await reader.forEachPiece(entrySize, (piece) => file.write(piece));
        } finally {
          await file.close();
        }
        written.add(path);
        await reader.read(entryPadded - entrySize);
      } else if (type === "5") {
        await mkdir(join(dir, ...segments), { recursive: true });
        await reader.read(entryPadded);
      } else if (type === "2") {
        if (segments.length === 0 || written.has(path)) {
          throw new PackageRefused(`link ${JSON.stringify(name)} would replace another entry`);
        }
        links.set(path, linkName);
        await reader.read(entryPadded);
      } else if (type === "1") {
        throw new PackageRefused(
          `entry ${JSON.stringify(name)} is a hard link, which packages may not have`,
        );
      } else if (type === "3" || type === "4" || type === "6") {
        throw new PackageRefused(
          `entry ${JSON.stringify(name)} is a ${type === "6" ? "FIFO" : "device file"}, which packages may not have`,
        );
      } else {
        throw new PackageRefused(
          `entry ${JSON.stringify(name)} has an unknown type ${JSON.stringify(type)}`,
        );
      }
    }
    // Every link is known now: each must resolve inside the package, through the others too.
    for (const [path, target] of links) {
      resolveLink(links, path.split("/"), target);
    }
    for (const [path, target] of links) {
      const at = join(dir, ...path.split("/"));
      await mkdir(dirname(at), { recursive: true });
      await symlink(target, at);
    }
  } finally {
    gunzip.destroy();
  }
  return { entries, unpackedBytes: unpacked };
}
