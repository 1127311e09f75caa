/**
 * The local provider: function instances as child processes of the platform, each with a
 * private directory and a Unix socket under one run directory.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { UserError } from "../../errors.js";
import type { RuntimeName } from "../../spec/function-spec.js";
import type { Instance, Provider, StartInstanceOptions } from "../types.js";
import { ProcessInstance } from "./process-instance.js";

export interface LocalProviderOptions {
  /** How long a new instance may take to listen. @default 15000 */
  startTimeoutMs?: number;
}

const runtimeServers: Record<RuntimeName, { command: string; args: string[] }> = {
  node: {
    command: process.execPath,
    args: [fileURLToPath(new URL("../../../runtimes/node/server.mjs", import.meta.url))],
  },
};

/**
 * Instances get a clean environment: nothing of the platform's leaks into functions, and
 * variables such as NODE_EXTRA_CA_CERTS (45–65 ms per start here) stay out.
 */
function instanceEnv(dir: string): Record<string, string> {
  return {
    PATH: process.env["PATH"] ?? "/usr/local/bin:/usr/bin:/bin",
    LANG: process.env["LANG"] ?? "C.UTF-8",
    HOME: dir,
    TMPDIR: join(dir, "tmp"),
    NODE_ENV: "production",
  };
}

export class LocalProvider implements Provider {
  readonly name = "local";
  readonly #startTimeoutMs: number;
  #runDir: Promise<string> | undefined;
  #counter = 0;

  constructor(options: LocalProviderOptions = {}) {
    this.#startTimeoutMs = options.startTimeoutMs ?? 15_000;
  }

  async start(options: StartInstanceOptions): Promise<Instance> {
    const server = runtimeServers[options.runtime];
    if (!server) {
      throw new UserError(
        "RUNLET_UNSUPPORTED_RUNTIME",
        `runtime ${options.runtime} is not supported`,
      );
    }
    // Socket paths are limited to 107 bytes, so instances live under a short temp path
    // rather than the (possibly long) data directory.
    this.#runDir ??= mkdtemp(join(tmpdir(), "runlet-"));
    const runDir = await this.#runDir;
    this.#counter += 1;
    const id = `${options.runtime}-${this.#counter}-${Math.random().toString(36).slice(2, 7)}`;
    const dir = join(runDir, id);
    return ProcessInstance.start({
      id,
      runtime: options.runtime,
      dir,
      command: server.command,
      args: server.args,
      env: instanceEnv(dir),
      startTimeoutMs: this.#startTimeoutMs,
      onLog: options.onLog,
    });
  }

  async close(): Promise<void> {
    if (this.#runDir) {
      await rm(await this.#runDir, { recursive: true, force: true });
    }
  }
}
