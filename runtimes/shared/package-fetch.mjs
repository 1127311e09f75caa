// The part of specialize a runtime does for itself when the platform is elsewhere (a pod,
// docs/runtime-protocol.md "Fetching the package"): fetch the package archive with the grant
// the request carries, check it against its sha256 digest, unpack it safely into
// `packagePath`, and write the secret and config files the request carries (base64) as 0400
// files: `secretFiles` by key into `secretsDir`, `fissionFiles` (`secrets/<ns>/<name>/<key>`,
// `configs/<ns>/<name>/<key>`) under `fissionDir`. A request with none of them is left as it is
// (the package and files are already in place). Dependency-free.
import { createHash } from "node:crypto";
import { mkdir, open, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { PackageRefused, unpackTarGz } from "./tar-reader.mjs";

/** Limits when the request names none. */
const defaults = {
  archiveBytes: 256 * 1024 * 1024,
  unpackedBytes: 256 * 1024 * 1024,
  entries: 20_000,
  fetchTimeoutMs: 60_000,
};

/** A secret's name or key, as a file name: no path, nothing hidden. */
const secretName = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;
/** A Fission file: its tree, then namespace, name and key, each a plain file name. */
const fissionPath =
  /^(secrets|configs)\/[A-Za-z0-9][A-Za-z0-9._-]{0,252}\/[A-Za-z0-9][A-Za-z0-9._-]{0,252}\/[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;

/** Fetches and unpacks `request.package`, writes the files it carries; see the file's opening. */
export async function placeFiles(request) {
  if (request.package) {
    await fetchPackage(request.package, request.packagePath);
  }
  if (request.secretFiles && typeof request.secretFiles === "object") {
    await writeFiles(request.secretFiles, request.secretsDir, (path) => secretName.test(path));
  }
  if (request.fissionFiles && typeof request.fissionFiles === "object") {
    await writeFiles(request.fissionFiles, request.fissionDir, (path) => fissionPath.test(path));
  }
}

async function fetchPackage(source, packagePath) {
  const { url, token, digest } = source;
  const match = /^sha256:([a-f0-9]{64})$/.exec(String(digest));
  if (typeof url !== "string" || typeof token !== "string" || !match) {
    throw new PackageRefused("the package to fetch needs url, token and a sha256 digest");
  }
  if (typeof packagePath !== "string" || packagePath === "") {
    throw new PackageRefused("the package to fetch needs a packagePath to unpack into");
  }
  const limits = {
    archiveBytes: positive(source.maxArchiveBytes, defaults.archiveBytes),
    unpackedBytes: positive(source.maxUnpackedBytes, defaults.unpackedBytes),
    entries: positive(source.maxEntries, defaults.entries),
  };
  // Beside the package directory, on the same writable volume.
  const archivePath = join(dirname(packagePath), ".package.tar.gz");
  await mkdir(dirname(packagePath), { recursive: true });
  try {
    const actual = await download(url, token, archivePath, limits.archiveBytes);
    if (actual !== match[1]) {
      throw new PackageRefused(
        `the fetched package's digest is sha256:${actual}, not the ${digest} asked for`,
      );
    }
    try {
      await unpackTarGz(archivePath, packagePath, limits);
    } catch (error) {
      await rm(packagePath, { recursive: true, force: true });
      throw error instanceof PackageRefused
        ? error
        : new PackageRefused(`the package could not be unpacked: ${messageOf(error)}`);
    }
  } finally {
    await rm(archivePath, { force: true });
  }
}

/** What went wrong, in one line (no stack: it goes in the specialize answer). */
function messageOf(error) {
  return error instanceof Error ? error.message : String(error);
}

function positive(value, fallback) {
  return Number.isInteger(value) && value > 0 ? value : fallback;
}

/**
 * Downloads `url` into `path`, at most `maxBytes`; returns the hex sha256 of what came.
 * node:http rather than fetch: the server has it loaded already, and fetch's first use would
 * load and compile undici in the middle of a cold start.
 */
async function download(url, token, path, maxBytes) {
  const response = await get(url, token);
  if (response.statusCode !== 200) {
    const body = await readSome(response, 4096);
    let message = body.slice(0, 300);
    try {
      message = JSON.parse(body).error.message ?? message;
    } catch {
      // not the platform's error shape: shown as it came
    }
    throw new PackageRefused(`fetching the package answered ${response.statusCode}: ${message}`);
  }
  const hash = createHash("sha256");
  const file = await open(path, "w", 0o600);
  let size = 0;
  try {
    for await (const chunk of response) {
      size += chunk.length;
      if (size > maxBytes) {
        response.destroy();
        throw new PackageRefused(
          `the package archive is larger than ${maxBytes} bytes, the limit of this instance`,
        );
      }
      hash.update(chunk);
      await file.write(chunk);
    }
  } finally {
    await file.close();
  }
  if (!response.complete) {
    throw new PackageRefused("the package's download was cut off before its end");
  }
  return hash.digest("hex");
}

/** The answer's head to `GET url` with the grant, or a refusal naming why there is none. */
async function get(url, token) {
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    throw new PackageRefused(`the package URL ${JSON.stringify(url)} is not a URL`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new PackageRefused(`the package URL must be http or https, not ${parsed.protocol}`);
  }
  const { request } = await import(parsed.protocol === "https:" ? "node:https" : "node:http");
  return new Promise((resolveGet, reject) => {
    const req = request(
      parsed,
      { headers: { authorization: `Bearer ${token}` }, timeout: defaults.fetchTimeoutMs },
      resolveGet,
    );
    req.on("timeout", () =>
      req.destroy(new Error(`no answer within ${defaults.fetchTimeoutMs} ms`)),
    );
    req.on("error", (error) =>
      reject(
        new PackageRefused(`the package could not be fetched from ${url}: ${messageOf(error)}`),
      ),
    );
    req.end();
  });
}

async function readSome(stream, limit) {
  let text = "";
  for await (const chunk of stream) {
    text += chunk.toString("utf8");
    if (text.length >= limit) {
      stream.destroy();
      break;
    }
  }
  return text;
}

async function writeFiles(files, root, validPath) {
  if (typeof root !== "string" || root === "") {
    throw new PackageRefused("secret and config files need a folder to be written into");
  }
  for (const [path, value] of Object.entries(files)) {
    if (!validPath(path) || typeof value !== "string") {
      throw new PackageRefused(
        `secret file ${JSON.stringify(path)} is not a valid secret name and value`,
      );
    }
    const file = join(root, path);
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    // "wx": never through a link or over a file already there.
    await writeFile(file, Buffer.from(value, "base64"), { mode: 0o400, flag: "wx" });
  }
}
