/**
 * One function instance as a local child process running a runtime server on a Unix socket,
 * optionally inside a sandbox and a cgroup. Lifecycle (CONVENTIONS.md rule 9): spawn with a
 * control pipe, race "ready" against "exited", keep early stderr for the error message,
 * report the exit with its cause, and on stop kill everything the instance started.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { chmod, chown, mkdir, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Readable } from "node:stream";
import { Pool } from "undici";
import { UserError } from "../../errors.js";
import type { SandboxUser } from "../../host/bubblewrap.js";
import { onLines } from "../../host/lines.js";
import { linkTree } from "../../host/tree-link.js";
import type { InstanceRuntime } from "../../spec/function-spec.js";
import { formatSize } from "../../spec/units.js";
import { exitWithin } from "../exit-report.js";
import { FrameChannel } from "../frame-channel.js";
import { instanceFilesFor } from "../instance-files.js";
import { specializeRuntime } from "../runtime-control.js";
import type {
  ExitInfo,
  ExitKind,
  Instance,
  InstanceShape,
  InvocationRequest,
  InvocationResponse,
  LogLine,
  PackageSource,
  SecretSource,
  SpecializeRequest,
} from "../types.js";
import type { InstanceCgroup } from "./cgroups.js";
import { parseControlMessage } from "./control-messages.js";
import type { OutboundLink } from "./outbound-network.js";

/** Where the instance's directories are, on the host and as the instance sees them. */
export interface InstancePaths {
  /** Removed when the instance exits. */
  readonly hostDirs: readonly string[];
  /** Host directory of the runtime's sockets. */
  readonly socketDir: string;
  readonly socket: string;
  /** The runtime's framed invocation socket, beside `socket` so the same mount covers it. */
  readonly frameSocket: string;
  /** The OpenFaaS secrets folder (instance-files.ts), on the host and inside. */
  readonly secretsHost: string;
  readonly secretsInside: string;
  /**
   * The folder holding Fission's `secrets/` and `configs/` trees on the host, and as the
   * instance sees it: `/` in the sandbox (they are mounted there), else the host folder.
   */
  readonly fissionHost: string;
  readonly fissionInside: string;
  /** Set when the package must be linked into a sandbox-visible directory. */
  readonly functionHost: string | undefined;
  readonly functionInside: string | undefined;
}

export interface ProcessInstanceOptions {
  readonly id: string;
  readonly runtime: InstanceRuntime;
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly paths: InstancePaths;
  readonly cgroup: InstanceCgroup | undefined;
  readonly startTimeoutMs: number;
  /** Where lines go until the instance is handed to a caller with its own sink. */
  readonly onLog: (line: LogLine) => void;
  readonly packages: PackageSource;
  readonly secrets: SecretSource;
  readonly configs: SecretSource;
  /**
   * Host uid the sandbox runs as: the socket directory is handed back from it once the runtime
   * listens, and the secrets are written for it alone.
   */
  readonly user?: SandboxUser | undefined;
  /**
   * Links the sandbox's own network namespace, given the pid of a process inside it (bwrap
   * reports it on fd 4); the instance is ready only once this is done.
   */
  readonly attachNetwork?: ((sandboxPid: number) => Promise<OutboundLink>) | undefined;
}

const stderrTailLines = 20;

/**
 * How long a failed call waits for the process exit to be reported: the socket closes a
 * moment before the exit event arrives.
 */
const exitReportMs = 250;

export class ProcessInstance implements Instance {
  readonly id: string;
  readonly runtime: InstanceRuntime;
  /** HTTP client of the runtime server: control calls (specialize, health). */
  readonly #http: Pool;
  readonly #channel: FrameChannel;
  readonly exited: Promise<ExitInfo>;
  readonly #options: ProcessInstanceOptions;
  readonly #child: ChildProcess;
  readonly #stderrTail: string[] = [];
  #exitInfo: ExitInfo | undefined;
  #functionName: string | undefined;
  #memoryBytes: number | undefined;
  #onLog: (line: LogLine) => void;
  #specialized: (() => void) | undefined;
  #answered: (() => void) | undefined;
  #ready: Promise<void>;
  #network: OutboundLink | undefined;

  private constructor(options: ProcessInstanceOptions) {
    this.id = options.id;
    this.runtime = options.runtime;
    this.#options = options;
    this.#onLog = options.onLog;
    const cgroupFiles = options.cgroup?.procsFiles ?? [];
    // Joining the cgroup before exec (in a tiny shell) leaves no window in which the
    // runtime, or anything it starts, runs outside its limits.
    const [command, args] =
      cgroupFiles.length > 0
        ? [
            "/bin/sh",
            [
              "-c",
              'for f in $RUNLET_CGROUP_PROCS; do echo $$ > "$f"; done; unset RUNLET_CGROUP_PROCS; exec "$@"',
              "sh",
              options.command,
              ...options.args,
            ],
          ]
        : [options.command, [...options.args]];
    this.#child = spawn(command, args, {
      env: { ...options.env, RUNLET_CONTROL_FD: "3", RUNLET_CGROUP_PROCS: cgroupFiles.join(" ") },
      // stdin is a pipe nobody writes to: it closes when the platform goes, however it goes,
      // and the runtime exits then (an unsandboxed instance has no parent-death signal).
      stdio: ["pipe", "pipe", "pipe", "pipe", options.attachNetwork ? "pipe" : "ignore"],
      // Own process group, so stop() also reaches anything the function spawned.
      detached: true,
    });
    this.#http = new Pool("http://localhost", {
      socketPath: options.paths.socket,
      connections: 256,
      keepAliveTimeout: 30_000,
      // Function timeouts are enforced by the router; undici's own must not fire first.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
    this.#channel = new FrameChannel({ socketPath: options.paths.frameSocket });
    this.exited = new Promise((resolveExit) => {
      const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (this.#exitInfo) {
          return;
        }
        this.#exitInfo = this.#exitOf(code, signal);
        void this.#cleanUp();
        resolveExit(this.#exitInfo);
      };
      this.#child.once("exit", finish);
      this.#child.once("error", (error) => {
        this.#stderrTail.push(error.message);
        finish(null, null);
      });
    });
    const listening = this.#watchOutput();
    this.#ready = options.attachNetwork
      ? Promise.all([listening, this.#linkNetwork(options.attachNetwork)]).then(() => undefined)
      : listening;
  }

  /** Reads bwrap's info (the sandbox's pid) from fd 4 and links its network namespace. */
  async #linkNetwork(attach: (sandboxPid: number) => Promise<OutboundLink>): Promise<void> {
    const info = this.#child.stdio[4] as Readable | null | undefined;
    if (!info) {
      throw new Error("instance was spawned without its info pipe");
    }
    let text = "";
    info.setEncoding("utf8");
    for await (const chunk of info) {
      text += chunk as string;
    }
    const pid = (JSON.parse(text) as { "child-pid"?: unknown })["child-pid"];
    if (typeof pid !== "number") {
      throw new Error(`the sandbox reported no pid (${text.slice(0, 200)})`);
    }
    const link = await attach(pid);
    if (this.#exitInfo) {
      link.close();
      return;
    }
    this.#network = link;
  }

  /**
   * Takes the socket directory back from the sandbox's uid once the runtime's sockets are in
   * it: the function can still answer on them but can no longer write to the host's disk
   * there (issue 13, item 4). Runs before any function code is loaded.
   */
  async #lockSocketDir(): Promise<void> {
    const dir = this.#options.paths.socketDir;
    if (this.#options.user) {
      await chown(dir, process.getuid?.() ?? 0, process.getgid?.() ?? 0);
      await chmod(dir, 0o711);
    }
  }

  /** Starts the process and resolves once its runtime server listens. */
  static async start(options: ProcessInstanceOptions): Promise<ProcessInstance> {
    const instance = new ProcessInstance(options);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`instance did not start within ${options.startTimeoutMs} ms`)),
        options.startTimeoutMs,
      );
    });
    const exitedEarly = instance.exited.then((info) => {
      throw new Error(`instance ${info.message} before it was ready`);
    });
    try {
      await Promise.race([instance.#ready, exitedEarly, timeout]);
      await instance.#lockSocketDir();
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

  /** Lines from now on go to `onLog` (the caller that took the instance from a pool). */
  adopt(onLog: (line: LogLine) => void): void {
    this.#onLog = onLog;
  }

  /** Calls `callback` once, when the next specialize() has settled either way. */
  whenSpecialized(callback: () => void): void {
    this.#specialized = callback;
  }

  /** Calls `callback` once, when the next call's answer (or failure) has come back. */
  whenAnswered(callback: () => void): void {
    this.#answered = callback;
  }

  /**
   * Sets the instance's memory and CPU limits on its live cgroup (a local process can take new
   * ones; a pooled instance gets the function's here). Throws a UserError when the runtime
   * already uses more memory than `shape` allows.
   */
  setLimits(shape: Pick<InstanceShape, "memoryBytes" | "cpu">): void {
    const { cgroup } = this.#options;
    if (cgroup) {
      try {
        cgroup.setLimits({ memoryBytes: shape.memoryBytes, cpu: shape.cpu });
      } catch (error) {
        // The kernel's refusal (EBUSY from memory.limit_in_bytes) says nothing to the user.
        throw new UserError(
          "RUNLET_INVALID_SPEC",
          `memory ${formatSize(shape.memoryBytes)} is less than the runtime itself uses; raise the function's memory limit (e.g. memory: 64Mi)`,
          { cause: error },
        );
      }
    }
    this.#memoryBytes = shape.memoryBytes;
  }

  /** Opens the connections specialize and the first calls will use, while nobody waits. */
  async warmUp(): Promise<void> {
    const health = await this.#http.request({ path: "/healthz", method: "GET" });
    await health.body.text();
    await this.#channel.open();
  }

  invoke(request: InvocationRequest): Promise<InvocationResponse> {
    const answer = this.#channel.invoke(request);
    const answered = this.#answered;
    if (answered) {
      this.#answered = undefined;
      answer.then(answered, answered);
    }
    return answer;
  }

  exitCausing(_failure: unknown): Promise<ExitInfo | undefined> {
    return exitWithin(this, exitReportMs);
  }

  async specialize(request: SpecializeRequest): Promise<void> {
    const settled = this.#specialized;
    this.#specialized = undefined;
    try {
      await this.#specialize(request);
    } finally {
      settled?.();
    }
  }

  async #specialize(request: SpecializeRequest): Promise<void> {
    const { paths, packages, secrets, configs } = this.#options;
    let packagePath = packages.localPath(request.packageDigest);
    if (paths.functionHost !== undefined && paths.functionInside !== undefined) {
      await linkTree(packagePath, paths.functionHost);
      packagePath = paths.functionInside;
    }
    const user = this.#options.user;
    const files = instanceFilesFor(request, secrets, configs);
    for (const [key, value] of files.openfaas) {
      await writeOwnFile(paths.secretsHost, key, value, user);
    }
    for (const [path, value] of files.fission) {
      await writeOwnFile(paths.fissionHost, path, value, user);
    }
    this.#functionName = request.name;
    await specializeRuntime(this.#http, request, {
      packagePath,
      secretsDir: paths.secretsInside,
      fissionDir: paths.fissionInside,
      exited: this.exited,
    });
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
    await this.#options.cgroup?.killAll();
    await this.exited;
  }

  async #cleanUp(): Promise<void> {
    this.#child.stdin?.destroy();
    void this.#http.destroy().catch(() => undefined);
    this.#channel.close();
    this.#network?.close();
    await this.#options.cgroup?.killAll();
    await this.#options.cgroup?.remove();
    for (const dir of this.#options.paths.hostDirs) {
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  #watchOutput(): Promise<void> {
    const stdout = this.#child.stdout;
    const stderr = this.#child.stderr;
    const control = this.#child.stdio[3] as Readable | null | undefined;
    if (!stdout || !stderr || !control) {
      throw new Error("instance was spawned without its pipes");
    }
    const log = (stream: "stdout" | "stderr", text: string, callId?: string): void => {
      if (stream === "stderr") {
        this.#stderrTail.push(text);
        if (this.#stderrTail.length > stderrTailLines) {
          this.#stderrTail.shift();
        }
      }
      this.#onLog({
        time: Date.now(),
        instanceId: this.id,
        functionName: this.#functionName,
        callId,
        stream,
        text,
      });
    };
    onLines(stdout, (line) => log("stdout", line));
    onLines(stderr, (line) => log("stderr", line));
    return new Promise((resolveReady) => {
      onLines(control, (line) => {
        const message = parseControlMessage(line);
        if (message?.event === "ready") {
          resolveReady();
        } else if (message?.event === "log") {
          log(message.stream, message.text, message.callId);
        }
      });
    });
  }

  #exitOf(code: number | null, signal: NodeJS.Signals | null): ExitInfo {
    const oomKilled = (this.#options.cgroup?.oomKills() ?? 0) > 0;
    const heapExhausted = this.#stderrTail.some((line) =>
      /heap out of memory|Reached heap limit|java\.lang\.OutOfMemoryError/.test(line),
    );
    if ((oomKilled || heapExhausted) && this.#memoryBytes !== undefined) {
      return {
        kind: "out-of-memory",
        message: `exceeded memory limit ${formatSize(this.#memoryBytes)}`,
      };
    }
    const kind: ExitKind = signal !== null ? "killed" : code === null ? "lost" : "exited";
    const how =
      signal !== null
        ? `was killed by ${signal}`
        : code === null
          ? "could not be run"
          : `exited with code ${code}`;
    const lastError = [...this.#stderrTail]
      .reverse()
      // The sandbox's own launchers say why they could not start it in their own words.
      .find((line) => /error|exception|fatal|^(bwrap|unshare|setpriv|mount|sh):/i.test(line));
    return { kind, message: lastError ? `${how} (${lastError.trim().slice(0, 300)})` : how };
  }
}

/** Creates the instance's private directories. */
export async function makeDirs(dirs: readonly string[]): Promise<void> {
  for (const dir of dirs) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  }
}

/**
 * Writes one of the instance's secret or config files, 0400 and its folders 0500, owned by the
 * instance's uid when it has its own (`path` comes from instanceFiles: validated names only).
 */
async function writeOwnFile(
  root: string,
  path: string,
  value: Uint8Array,
  user: SandboxUser | undefined,
): Promise<void> {
  const file = join(root, path);
  const folders: string[] = [];
  for (let dir = dirname(file); dir.length > root.length; dir = dirname(dir)) {
    folders.unshift(dir);
  }
  for (const dir of folders) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  }
  await writeFile(file, value, { mode: 0o400, flag: "wx" });
  await chmod(file, 0o400);
  if (user) {
    await chown(file, user.uid, user.gid);
  }
  for (const dir of folders.reverse()) {
    if (user) {
      await chown(dir, user.uid, user.gid);
    }
    await chmod(dir, 0o500);
  }
}
