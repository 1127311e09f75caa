// The real node's private network and mount namespaces (issue 15): a holder process keeps them, every component joins them.
import { execFile } from "node:child_process";
import { readFile, readlink, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { Component } from "../cluster/component.js";
import type { Launcher, Supervisor } from "../cluster/supervisor.js";
import { NODE_INTERFACE_ADDRESS, SERVICE_CIDR } from "./layout.js";

const execFileAsync = promisify(execFile);
const SETUP_SCRIPT = fileURLToPath(new URL("./namespace-setup.sh", import.meta.url));

export interface NamespaceIds {
  /** As `readlink /proc/PID/ns/net` prints it, e.g. `net:[4026532288]`. */
  readonly net: string;
  readonly mnt: string;
}

export async function namespaceIdsOf(pid: number | "self"): Promise<NamespaceIds> {
  const at = `/proc/${String(pid)}/ns`;
  return { net: await readlink(`${at}/net`), mnt: await readlink(`${at}/mnt`) };
}

/**
 * A network namespace with no uplink and no default route, and a private mount namespace,
 * held open by `unshare --net --mount -- sleep infinity`. Only loopback, the node address and
 * (later) the pod bridge exist in it, so nothing started in it can send a packet anywhere
 * else. Its ids are recorded in `<run dir>/namespace` for teardown.sh.
 */
export class NodeNamespace {
  readonly holder: Component;
  readonly ids: NamespaceIds;
  readonly hostIds: NamespaceIds;

  private constructor(holder: Component, ids: NamespaceIds, hostIds: NamespaceIds) {
    this.holder = holder;
    this.ids = ids;
    this.hostIds = hostIds;
  }

  /**
   * Starts the holder, waits until it is in namespaces other than ours, and runs
   * namespace-setup.sh inside (addresses, mounts over /run, /var/log and the kubelet's
   * /proc/sys files). The script checks for itself that it runs in exactly these namespaces.
   */
  static async create(supervisor: Supervisor, timeoutMs: number): Promise<NodeNamespace> {
    const hostIds = await namespaceIdsOf("self");
    const holder = await supervisor.start({
      name: "namespace-holder",
      command: "unshare",
      args: ["--net", "--mount", "--propagation", "private", "--", "sleep", "infinity"],
      env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin" },
    });
    // unshare(2) happens before the exec of sleep; once the command line is sleep's, the
    // namespaces are complete (mount propagation included).
    const ids = await supervisor.waitFor(holder, "the namespace holder", timeoutMs, async () => {
      const cmdline = await readFile(`/proc/${String(holder.pid)}/cmdline`, "utf8");
      if (cmdline !== "sleep\0infinity\0") {
        return undefined;
      }
      const current = await namespaceIdsOf(holder.pid);
      return current.net !== hostIds.net && current.mnt !== hostIds.mnt ? current : undefined;
    });
    const namespace = new NodeNamespace(holder, ids, hostIds);
    await writeFile(
      path.join(supervisor.dir, "namespace"),
      `${String(holder.pid)} ${ids.net} ${ids.mnt}\n`,
    );
    const { command, args } = await namespace.command("bash", [
      SETUP_SCRIPT,
      supervisor.dir,
      NODE_INTERFACE_ADDRESS,
      SERVICE_CIDR,
      ids.net,
      ids.mnt,
      hostIds.net,
      hostIds.mnt,
    ]);
    try {
      await execFileAsync(command, args, { timeout: timeoutMs });
    } catch (error) {
      const stderr = isRecord(error) && typeof error["stderr"] === "string" ? error["stderr"] : "";
      throw new Error(`namespace-setup.sh failed: ${stderr.trim()}`, { cause: error });
    }
    return namespace;
  }

  /**
   * The command line that runs `command` inside the namespaces. Checked each time: if the
   * holder had died and its pid been reused, nsenter would join some other process's
   * namespaces, perhaps the host's.
   */
  async command(
    command: string,
    args: readonly string[],
  ): Promise<{ command: string; args: string[] }> {
    this.#assertHolderAlive();
    const current = await namespaceIdsOf(this.holder.pid);
    if (current.net !== this.ids.net || current.mnt !== this.ids.mnt) {
      throw new Error(
        `pid ${String(this.holder.pid)} is no longer in the node's namespaces (${current.net}, ${current.mnt})`,
      );
    }
    return this.#wrap(command, args);
  }

  /**
   * A Launcher for Supervisor.start(). Synchronous, so it checks only that the holder has not
   * exited; the holder is this process's child, so its pid cannot be reused while unreaped.
   */
  readonly launcher: Launcher = (command, args) => {
    this.#assertHolderAlive();
    return this.#wrap(command, args);
  };

  /** Runs a command inside the namespaces and returns its output. */
  async run(
    command: string,
    args: readonly string[],
    timeoutMs = 30_000,
  ): Promise<{ stdout: string; stderr: string }> {
    const wrapped = await this.command(command, args);
    return execFileAsync(wrapped.command, wrapped.args, {
      timeout: timeoutMs,
      maxBuffer: 16 * 1024 * 1024,
    });
  }

  #assertHolderAlive(): void {
    if (this.holder.exit !== undefined) {
      throw new Error(`the namespace holder is gone (${this.holder.describeExit()})`);
    }
  }

  #wrap(command: string, args: readonly string[]): { command: string; args: string[] } {
    return {
      command: "nsenter",
      args: ["--target", String(this.holder.pid), "--net", "--mount", "--", command, ...args],
    };
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}
