/**
 * The control half of the runtime protocol (docs/runtime-protocol.md) as every provider speaks
 * it, whatever the transport to the runtime server: loading a function (POST /v2/specialize)
 * and turning the runtime's `{error: {code, message, file, line}}` into the error users see.
 */
import type { Dispatcher } from "undici";
import { UserError, type ErrorCode } from "../errors.js";
import type { InstanceFiles } from "./instance-files.js";
import type { ExitInfo, SpecializeRequest } from "./types.js";

/** Where the runtime finds what the request names, as the runtime sees its file system. */
export interface SpecializeLocation {
  readonly packagePath: string;
  readonly secretsDir: string;
  /** Where Fission's `secrets/` and `configs/` trees are: `/` when they are at their own paths. */
  readonly fissionDir: string;
  /** The instance's exit: loading fails at once if it goes meanwhile. */
  readonly exited: Promise<ExitInfo>;
  /**
   * The package for the runtime to fetch and unpack into `packagePath` itself (an instance
   * elsewhere); undefined when the package is already there.
   */
  readonly fetch?: PackageFetch;
  /**
   * The secret and config files for the runtime to write itself (0400) when they are not
   * already there: `secretsDir` files by key, `fissionDir` files by relative path.
   */
  readonly files?: InstanceFiles;
}

/** Files as the protocol carries them: base64, so any bytes survive the JSON. */
function encodedFiles(files: ReadonlyMap<string, Uint8Array>): Record<string, string> {
  const encoded: Record<string, string> = {};
  for (const [path, value] of files) {
    encoded[path] = Buffer.from(value).toString("base64");
  }
  return encoded;
}

/** What the runtime fetches: the grant's URL and token, checked against the digest. */
export interface PackageFetch {
  readonly url: string;
  readonly token: string;
  readonly digest: string;
  /** The most the package may unpack to; the runtime has its own default. */
  readonly maxUnpackedBytes?: number;
}

export async function specializeRuntime(
  http: Dispatcher,
  request: SpecializeRequest,
  location: SpecializeLocation,
): Promise<void> {
  const body = JSON.stringify({
    name: request.name,
    revision: request.revision,
    packagePath: location.packagePath,
    handler: request.handler,
    env: request.env,
    secretsDir: location.secretsDir,
    fissionDir: location.fissionDir,
    timeoutMs: request.timeoutMs,
    concurrency: request.concurrency,
    compat: request.compat,
    command: request.command,
    mode: request.mode,
    package: location.fetch,
    ...(location.files && {
      secretFiles: encodedFiles(location.files.openfaas),
      fissionFiles: encodedFiles(location.files.fission),
    }),
  });
  const response = await Promise.race([
    http.request({
      path: "/v2/specialize",
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    }),
    location.exited.then((info) => {
      throw new Error(`instance ${info.message} while loading the function`);
    }),
  ]);
  const text = await response.body.text();
  if (response.statusCode === 200) {
    return;
  }
  throw specializeError(response.statusCode, text);
}

const knownLoadCodes = new Set<ErrorCode>([
  "RUNLET_HANDLER_NOT_FOUND",
  "RUNLET_HANDLER_SYNTAX",
  "RUNLET_HANDLER_NO_EXPORT",
  "RUNLET_HANDLER_LOAD_FAILED",
]);

/** Turns the runtime's `{error: {code, message, file, line}}` into the error users see. */
function specializeError(status: number, text: string): Error {
  let parsed: { error?: { code?: string; message?: string; file?: string; line?: number } } = {};
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    // Not JSON: reported verbatim below.
  }
  const code = parsed.error?.code as ErrorCode | undefined;
  const message = parsed.error?.message ?? text;
  if (status === 422 && code && knownLoadCodes.has(code)) {
    const details: Record<string, unknown> = {};
    if (parsed.error?.file !== undefined) {
      details["file"] = parsed.error.file;
    }
    if (parsed.error?.line !== undefined) {
      details["line"] = parsed.error.line;
    }
    return new UserError(code, `The function failed to load: ${message}`, { details });
  }
  return new Error(`specialize failed with HTTP ${status}: ${message}`);
}
