/**
 * One function instance as a local child process running a runtime server on a Unix socket.
 * Lifecycle (CONVENTIONS.md rule 9): spawn with a control pipe, race "ready" against "exited",
 * keep early stderr for the error message, report the exit, and on stop kill the group.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { chmod, mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { Pool } from "undici";
import { UserError, type ErrorCode } from "../../errors.js";
import type { RuntimeName } from "../../spec/function-spec.js";
import type { ExitInfo, Instance, LogLine, SpecializeRequest } from "../types.js";
import { parseControlMessage } from "./control-messages.js";
import { onLines } from "./lines.js";

export interface ProcessInstanceOptions {
  readonly id: string;
  readonly runtime: RuntimeName;
  /** Private directory of this instance (socket, secrets, tmp); removed on exit. */
  readonly dir: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly startTimeoutMs: number;
  readonly onLog: (line: LogLine) => void;
}

const stderrTailLines = 20;

export class ProcessInstance implements Instance {
  readonly id: string;
  readonly runtime: RuntimeName;
  readonly dispatcher: Pool;
  readonly exited: Promise<ExitInfo>;
  readonly #options: ProcessInstanceOptions;
  readonly #child: ChildProcess;
  readonly #socketPath: string;
  readonly #stderrTail: string[] = [];
  #exitInfo: ExitInfo | undefined;
  #functionName: string | undefined;
  #ready: Promise<void>;

  private constructor(options: ProcessInstanceOptions) {
    this.id = options.id;
    this.runtime = options.runtime;
    this.#options = options;
    this.#socketPath = join(options.dir, "runtime.sock");
    this.#child = spawn(options.command, [...options.args], {
      cwd: options.dir,
      env: { ...options.env, RUNLET_SOCKET: this.#socketPath, RUNLET_CONTROL_FD: "3" },
      stdio: ["ignore", "pipe", "pipe", "pipe"],
      // Own process group, so stop() also reaches anything the function spawned.
      detached: true,
    });
    this.dispatcher = new Pool("http://localhost", {
      socketPath: this.#socketPath,
      connections: 256,
      keepAliveTimeout: 30_000,
      // Function timeouts are enforced by the router; undici's own must not fire first.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
    this.exited = new Promise((resolveExit) => {
      const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (this.#exitInfo) {
          return;
        }
        this.#exitInfo = { code, signal, reason: this.#exitReason(code, signal) };
        void this.dispatcher.destroy().catch(() => undefined);
        void rm(options.dir, { recursive: true, force: true }).catch(() => undefined);
        resolveExit(this.#exitInfo);
      };
      this.#child.once("exit", finish);
      this.#child.once("error", (error) => {
        this.#stderrTail.push(error.message);
        finish(null, null);
      });
    });
    this.#ready = this.#watchOutput();
  }

  /** Starts the process and resolves once its runtime server listens. */
  static async start(options: ProcessInstanceOptions): Promise<ProcessInstance> {
    await mkdir(join(options.dir, "tmp"), { recursive: true, mode: 0o700 });
    const instance = new ProcessInstance(options);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`instance did not start within ${options.startTimeoutMs} ms`)),
        options.startTimeoutMs,
      );
    });
    const exitedEarly = instance.exited.then((info) => {
      throw new Error(`instance ${info.reason} before it was ready`);
    });
    try {
      await Promise.race([instance.#ready, exitedEarly, timeout]);
    } catch (error) {
      await instance.stop();
      throw error;
    } finally {
      clearTimeout(timer);
    }
    return instance;
  }

  get exitInfo(): ExitInfo | undefined {
    return this.#exitInfo;
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  async specialize(request: SpecializeRequest): Promise<void> {
    const secretsDir = join(this.#options.dir, "secrets");
    await mkdir(secretsDir, { recursive: true, mode: 0o700 });
    for (const [name, value] of Object.entries(request.secrets)) {
      const file = join(secretsDir, name);
      await writeFile(file, value, { mode: 0o400 });
      await chmod(file, 0o400);
    }
    this.#functionName = request.name;
    const body = JSON.stringify({
      name: request.name,
      revision: request.revision,
      packagePath: request.packagePath,
      handler: request.handler,
      env: request.env,
      secretsDir,
      timeoutMs: request.timeoutMs,
      concurrency: request.concurrency,
    });
    const response = await Promise.race([
      this.dispatcher.request({
        path: "/v2/specialize",
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      }),
      this.exited.then((info) => {
        throw new Error(`instance ${info.reason} while loading the function`);
      }),
    ]);
    const text = await response.body.text();
    if (response.statusCode === 200) {
      return;
    }
    throw specializeError(response.statusCode, text);
  }

  async stop(): Promise<void> {
    if (!this.#exitInfo && this.#child.pid !== undefined) {
      try {
        // The instance keeps nothing worth a graceful shutdown once the executor has
        // drained it: kill the whole group at once.
        process.kill(-this.#child.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    await this.exited;
  }

  #watchOutput(): Promise<void> {
    const stdout = this.#child.stdout;
    const stderr = this.#child.stderr;
    const control = this.#child.stdio[3] as Readable | null | undefined;
    if (!stdout || !stderr || !control) {
      throw new Error("instance was spawned without its pipes");
    }
    const log = (stream: "stdout" | "stderr", text: string, callId?: string): void => {
      this.#options.onLog({
        time: Date.now(),
        instanceId: this.id,
        functionName: this.#functionName,
        callId,
        stream,
        text,
      });
    };
    onLines(stdout, (line) => log("stdout", line));
    onLines(stderr, (line) => {
      this.#stderrTail.push(line);
      if (this.#stderrTail.length > stderrTailLines) {
        this.#stderrTail.shift();
      }
      log("stderr", line);
    });
    return new Promise((resolveReady) => {
      onLines(control, (line) => {
        const message = parseControlMessage(line);
        if (message?.event === "ready") {
          resolveReady();
        } else if (message?.event === "log") {
          if (message.stream === "stderr") {
            this.#stderrTail.push(message.text);
            if (this.#stderrTail.length > stderrTailLines) {
              this.#stderrTail.shift();
            }
          }
          log(message.stream, message.text, message.callId);
        }
      });
    });
  }

  #exitReason(code: number | null, signal: NodeJS.Signals | null): string {
    const how =
      signal !== null ? `was killed by ${signal}` : `exited with code ${code ?? "unknown"}`;
    const lastError = [...this.#stderrTail]
      .reverse()
      .find((line) => /error|exception|fatal/i.test(line));
    return lastError ? `${how} (${lastError.trim().slice(0, 300)})` : how;
  }
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
