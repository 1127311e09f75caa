// One control-plane process of the test cluster: its own process group, output in a log file, one lifecycle.
import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { readFile } from "node:fs/promises";
import * as path from "node:path";

export interface ComponentOptions {
  /** Short name used in errors and as the log file's name, e.g. `kube-apiserver`. */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** Directory for `<name>.log`, which gets the process's stdout and stderr. */
  readonly logDir: string;
  readonly env: NodeJS.ProcessEnv;
}

export interface ComponentExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/**
 * A child process started in a new session (so it leads its own process group: stopping it
 * also ends anything it forked) whose stdout and stderr go straight to a log file, so a busy
 * or stopped test process cannot block it on a full pipe.
 */
export class Component {
  readonly name: string;
  readonly logPath: string;
  readonly pid: number;
  /** Resolves when the process has exited, for whatever reason. */
  readonly exited: Promise<ComponentExit>;
  #exit: ComponentExit | undefined;
  #stopping = false;

  private constructor(name: string, logPath: string, pid: number, exited: Promise<ComponentExit>) {
    this.name = name;
    this.logPath = logPath;
    this.pid = pid;
    this.exited = exited.then((exit) => {
      this.#exit = exit;
      return exit;
    });
  }

  static async start(options: ComponentOptions): Promise<Component> {
    const logPath = path.join(options.logDir, `${options.name}.log`);
    const fd = openSync(logPath, "a");
    try {
      const child = spawn(options.command, [...options.args], {
        detached: true,
        stdio: ["ignore", fd, fd],
        env: options.env,
      });
      const exited = new Promise<ComponentExit>((resolve) => {
        child.once("exit", (code, signal) => resolve({ code, signal }));
      });
      const pid = await new Promise<number>((resolve, reject) => {
        child.once("spawn", () => {
          if (child.pid === undefined) {
            reject(new Error(`${options.name}: spawned without a pid`));
          } else {
            resolve(child.pid);
          }
        });
        child.once("error", (error) =>
          reject(
            new Error(`${options.name}: could not start ${options.command}`, { cause: error }),
          ),
        );
      });
      // The test process must be free to exit while components run; stop() and the
      // cluster's exit hooks end them.
      child.unref();
      return new Component(options.name, logPath, pid, exited);
    } finally {
      closeSync(fd);
    }
  }

  /** How the process ended, or undefined while it runs. */
  get exit(): ComponentExit | undefined {
    return this.#exit;
  }

  /** True when the process ended without stop() (or markStopping()) having said it would. */
  get crashed(): boolean {
    return this.#exit !== undefined && !this.#stopping;
  }

  /** Says that the process is about to be ended from outside (teardown.sh), so it did not crash. */
  markStopping(): void {
    this.#stopping = true;
  }

  /** Sends a signal to the whole process group; a group that is already gone is fine. */
  signal(signal: NodeJS.Signals): void {
    try {
      process.kill(-this.pid, signal);
    } catch (error) {
      if (!isNoSuchProcess(error)) {
        throw error;
      }
    }
  }

  /** SIGTERM to the process group, then SIGKILL if it has not exited within graceMs. */
  async stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    if (this.#exit !== undefined) {
      // The leader is gone, but something it forked may still hold the group.
      this.signal("SIGKILL");
      return;
    }
    this.signal("SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), graceMs);
    });
    const result = await Promise.race([this.exited, timedOut]);
    clearTimeout(timer);
    this.signal("SIGKILL");
    if (result === "timeout") {
      await this.exited;
    }
  }

  /** The last lines of the log file, for error messages. */
  async logTail(lines = 40): Promise<string> {
    let text: string;
    try {
      text = await readFile(this.logPath, "utf8");
    } catch (error) {
      return `(no log at ${this.logPath}: ${String(error)})`;
    }
    const all = text.trimEnd().split("\n");
    return all.slice(-lines).join("\n");
  }

  describeExit(): string {
    const exit = this.#exit;
    if (exit === undefined) {
      return `${this.name} is running`;
    }
    return `${this.name} exited (${exit.signal ?? `code ${String(exit.code)}`})`;
  }
}

function isNoSuchProcess(error: unknown): boolean {
  return error instanceof Error && "code" in error && error.code === "ESRCH";
}
