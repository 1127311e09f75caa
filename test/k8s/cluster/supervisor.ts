// Owns a test cluster's processes and run dir: starts components, waits on them, and ends them all through teardown.sh.
import { execFile } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Component, type ComponentOptions } from "./component.js";

const execFileAsync = promisify(execFile);
const TEARDOWN = fileURLToPath(new URL("./teardown.sh", import.meta.url));

/** How a component is launched: as is, or wrapped (e.g. by nsenter into the node's namespaces). */
export type Launcher = (
  command: string,
  args: readonly string[],
) => { command: string; args: string[] };

export const launchDirectly: Launcher = (command, args) => ({ command, args: [...args] });

/**
 * Starts each component in its own process group with its pid in `<dir>/pids/<name>`, so that
 * teardown.sh can find and end them. Besides stopAll(), a detached watchdog runs teardown.sh
 * when this process dies first, even by SIGKILL; an `exit` hook kills the groups at once on a
 * normal exit without stop().
 */
export class Supervisor {
  readonly dir: string;
  readonly #keepDir: boolean;
  readonly #components: Component[] = [];
  readonly #beforeStop: (() => Promise<void>)[] = [];
  #watchdog: Component | undefined;
  #failed: Component | undefined;
  #stopped = false;
  readonly #onExit = (): void => {
    for (const component of this.#components) {
      component.signal("SIGKILL");
    }
    // The watchdog sees this process go and runs teardown.sh for what signals cannot undo
    // (namespaces, cgroups, the run dir).
  };

  constructor(dir: string, keepDir: boolean) {
    this.dir = dir;
    this.#keepDir = keepDir;
    process.on("exit", this.#onExit);
  }

  get components(): readonly Component[] {
    return this.#components;
  }

  async start(
    options: Omit<ComponentOptions, "logDir">,
    launch: Launcher = launchDirectly,
  ): Promise<Component> {
    if (this.#stopped) {
      throw new Error("cluster is stopped");
    }
    await this.#ensureWatchdog();
    const launched = launch(options.command, options.args);
    const component = await Component.start({
      ...options,
      ...launched,
      logDir: path.join(this.dir, "logs"),
    });
    this.#components.push(component);
    await writeFile(path.join(this.dir, "pids", options.name), `${String(component.pid)}\n`);
    return component;
  }

  /** Runs `hook` at the start of stopAll(), e.g. to close forwarders in this process. */
  beforeStop(hook: () => Promise<void>): void {
    this.#beforeStop.push(hook);
  }

  /** Marks `component` as the one to blame when a wait outside waitFor() fails. */
  blame(component: Component): void {
    this.#failed = component;
  }

  /** Throws when any component has exited; call between steps that do not poll. */
  assertAllRunning(): void {
    const dead = this.#components.find((c) => c.exit !== undefined);
    if (dead !== undefined) {
      this.#failed = dead;
      throw new Error(dead.describeExit());
    }
  }

  /**
   * Polls `probe` until it returns a value, failing at the deadline or as soon as `component`
   * (or any other component) exits. Probe errors (connection refused while starting) count as
   * "not yet"; the last one is quoted on timeout.
   */
  async waitFor<T>(
    component: Component,
    what: string,
    timeoutMs: number,
    probe: () => Promise<T | undefined>,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    for (let interval = 50; ; interval = Math.min(interval * 2, 1000)) {
      const dead = this.#components.find((c) => c.exit !== undefined);
      if (dead !== undefined) {
        this.#failed = dead;
        throw new Error(`${dead.describeExit()} while waiting for ${what}`);
      }
      try {
        const value = await probe();
        if (value !== undefined) {
          return value;
        }
      } catch (error) {
        lastError = error;
      }
      if (Date.now() > deadline) {
        this.#failed = component;
        const why = lastError === undefined ? "" : ` (last error: ${String(lastError)})`;
        throw new Error(`timed out after ${String(timeoutMs)} ms waiting for ${what}${why}`);
      }
      // Wake early if any component dies, so a crash is reported at once.
      await Promise.race([delay(interval), ...this.#components.map((c) => c.exited)]);
    }
  }

  /** Log tails of the component that failed (or every crashed one), for the error message. */
  async describeFailure(): Promise<string> {
    const suspects = new Set<Component>(this.#components.filter((c) => c.crashed));
    if (this.#failed !== undefined) {
      suspects.add(this.#failed);
    }
    let text = "";
    for (const component of suspects) {
      text += `\n--- ${component.describeExit()}; last lines of ${component.logPath}:\n${await component.logTail()}`;
    }
    return text;
  }

  /**
   * Runs teardown.sh (which ends every recorded process, the namespaces, cgroups and the run
   * dir), then ends the watchdog. Returns the log tails of components that had crashed, or "".
   */
  async stopAll(): Promise<string> {
    if (this.#stopped) {
      return "";
    }
    this.#stopped = true;
    for (const hook of this.#beforeStop) {
      await hook();
    }
    const crashed = this.#components.filter((c) => c.crashed);
    const crashReport = crashed.length > 0 ? await this.describeFailure() : "";
    for (const component of this.#components) {
      component.markStopping();
    }
    try {
      const { stderr } = await execFileAsync(
        "bash",
        [TEARDOWN, this.dir, ...(this.#keepDir ? ["--keep"] : [])],
        { timeout: 120_000 },
      );
      // A few lines with times; anything slow or left behind is named there.
      process.stderr.write(stderr);
    } catch (error) {
      throw new Error(`teardown.sh failed for ${this.dir}`, { cause: error });
    } finally {
      // The watchdog's work is done (or, if teardown failed, better left to a human).
      await this.#watchdog?.stop(1_000);
      process.off("exit", this.#onExit);
    }
    await Promise.all(this.#components.map((c) => c.exited));
    return crashReport;
  }

  async #ensureWatchdog(): Promise<void> {
    if (this.#watchdog !== undefined) {
      return;
    }
    await mkdir(path.join(this.dir, "pids"), { recursive: true });
    await mkdir(path.join(this.dir, "logs"), { recursive: true });
    // `tail --pid` returns when the test process is gone, however it ended.
    const script = 'tail --pid="$1" -f /dev/null; exec bash "$2" "$3" $4';
    this.#watchdog = await Component.start({
      name: "watchdog",
      command: "bash",
      args: [
        "-c",
        script,
        "watchdog",
        String(process.pid),
        TEARDOWN,
        this.dir,
        this.#keepDir ? "--keep" : "",
      ],
      logDir: path.join(this.dir, "logs"),
      env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin" },
    });
  }
}
