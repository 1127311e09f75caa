/**
 * What the importers (Fission specs, Kubeless Function resources) produce: plain Runlet
 * functions with their files, deployable like runlet.yaml entries and printable as one.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, normalize, resolve, sep } from "node:path";
import { stringify } from "yaml";
import { unzipSync } from "fflate";
import { Parser as TarParser } from "tar";
import { gunzipSync } from "node:zlib";
import { UserError } from "../errors.js";
import type { FunctionSpec } from "../spec/function-spec.js";
import type { StackFunction } from "../spec/stack-file.js";

export interface ImportedFunction {
  readonly name: string;
  readonly spec: FunctionSpec;
  /** The function's source: path inside the package → content. */
  readonly files: ReadonlyMap<string, Buffer>;
  /** Routes, as runlet.yaml writes them ("GET /hello"). */
  readonly triggers: readonly { readonly http: string }[];
  /** The file it came from, for messages. */
  readonly origin: string;
}

export interface ImportResult {
  readonly functions: readonly ImportedFunction[];
  /** What was read but not carried over, for the user to know. */
  readonly notices: readonly string[];
  /**
   * What could not be imported while other functions could (a function whose code or
   * environment is wrong, a file that does not parse): the others deploy, and the import then
   * names these and fails.
   */
  readonly problems?: readonly ImportProblem[];
}

export interface ImportProblem {
  readonly file: string;
  readonly message: string;
  /** The function it keeps from being imported, when it is one function's. */
  readonly function?: string;
}

/** Every problem when nothing could be imported; else the result with the problems beside. */
export function importOutcome(
  what: string,
  result: { functions: readonly ImportedFunction[]; notices: readonly string[] },
  problems: readonly ImportProblem[],
): ImportResult {
  if (problems.length > 0 && result.functions.length === 0) {
    throw importError(what, problems);
  }
  return problems.length > 0 ? { ...result, problems } : result;
}

/** One error listing every problem, each with the file it is in. */
export function importError(what: string, problems: readonly ImportProblem[]): UserError {
  const lines = problems.map((p) => `  ${p.file}: ${p.message}`);
  return new UserError(
    "RUNLET_INVALID_IMPORT",
    `Cannot import ${what}: ${problems.length} problem${problems.length === 1 ? "" : "s"}:\n${lines.join("\n")}`,
    { details: { problems } },
  );
}

/** The runlet.yaml that deploys the same functions, each source in ./<name>. */
export function toStackYaml(functions: readonly ImportedFunction[]): string {
  const entries: Record<string, unknown> = {};
  for (const fn of functions) {
    // Routes go last, after the source, whether or not the spec carries them already.
    const { triggers: _triggers, ...spec } = fn.spec as FunctionSpec & { triggers?: unknown };
    entries[fn.name] = {
      ...spec,
      source: `./${fn.name}`,
      ...(fn.triggers.length > 0 ? { triggers: fn.triggers } : {}),
    };
  }
  return stringify({ version: 1, functions: entries });
}

/** Writes each function's files to `<dir>/<name>/`; returns them as stack functions. */
export async function writeFunctionSources(
  dir: string,
  functions: readonly ImportedFunction[],
): Promise<StackFunction[]> {
  const written: StackFunction[] = [];
  for (const fn of functions) {
    const root = resolve(dir, fn.name);
    await mkdir(root, { recursive: true });
    for (const [path, content] of fn.files) {
      const target = insideRoot(root, path);
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, content);
    }
    written.push({ name: fn.name, source: root, spec: fn.spec });
  }
  return written;
}

/** Runs `use` with the functions' sources in a temporary folder, removed afterwards. */
export async function withFunctionSources<T>(
  functions: readonly ImportedFunction[],
  use: (stack: StackFunction[]) => Promise<T>,
): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "runlet-import-"));
  try {
    return await use(await writeFunctionSources(dir, functions));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function insideRoot(root: string, path: string): string {
  const target = resolve(root, normalize(path));
  if (target !== root && !target.startsWith(root + sep)) {
    throw new UserError("RUNLET_INVALID_IMPORT", `archive entry ${path} points outside its folder`);
  }
  return target;
}

export function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 3;
}

/** The files of a zip archive (folders skipped). */
export function unzipFiles(bytes: Uint8Array): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const [path, content] of Object.entries(unzipSync(bytes))) {
    if (!path.endsWith("/")) {
      files.set(path, Buffer.from(content));
    }
  }
  return files;
}

/** Largest inline archive once unpacked: a function's source, not a data set. */
const maxInlineArchiveBytes = 64 * 2 ** 20;

/**
 * The regular files of a gzipped tar (Kubeless' `base64+compressedtar`). Links, devices and
 * the like are left out; paths are checked again where the files are written.
 */
export function untarFiles(bytes: Uint8Array): Map<string, Buffer> | string {
  let raw: Buffer;
  try {
    raw = gunzipSync(bytes, { maxOutputLength: maxInlineArchiveBytes });
  } catch (error) {
    return `the compressed tar cannot be read (${(error as Error).message}); it must be gzipped and at most ${maxInlineArchiveBytes / 2 ** 20} MiB unpacked`;
  }
  const files = new Map<string, Buffer>();
  let problem: string | undefined;
  const parser = new TarParser({
    strict: true,
    onwarn: (_code, message) => {
      problem ??= `the tar archive is damaged: ${String(message)}`;
    },
    onReadEntry: (entry) => {
      const chunks: Buffer[] = [];
      entry.on("data", (chunk: Buffer) => chunks.push(chunk));
      entry.on("end", () => {
        if (entry.type === "File" || entry.type === "OldFile") {
          files.set(entry.path.replace(/^(\.\/)+/, ""), Buffer.concat(chunks));
        }
      });
    },
  });
  // Given the whole archive at once, the parser reads every entry before end() returns.
  parser.end(raw);
  return problem ?? files;
}

/** `yaml` values read from Kubernetes-style resources, checked loosely and by hand. */
export function record(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

export function text(value: unknown): string | undefined {
  return typeof value === "string"
    ? value
    : typeof value === "number" || typeof value === "boolean"
      ? String(value)
      : undefined;
}

export function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** {name, value} pairs (Kubernetes env lists) as a map; entries with valueFrom are reported. */
export function envList(value: unknown, skipped: (name: string) => void): Record<string, string> {
  const env: Record<string, string> = {};
  for (const item of list(value)) {
    const entry = record(item);
    const name = text(entry.name);
    if (!name) {
      continue;
    }
    if (entry.valueFrom !== undefined) {
      skipped(name);
      continue;
    }
    env[name] = text(entry.value) ?? "";
  }
  return env;
}
