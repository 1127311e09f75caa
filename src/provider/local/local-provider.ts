/**
 * The local provider: function instances as child processes of the platform, each with
 * private directories, a Unix socket, its own namespaces (bubblewrap) and its own cgroup
 * where the host allows, and a clean environment.
 */
import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { UserError } from "../../errors.js";
import { javaServerArgs } from "../../host/java-flags.js";
import { javaRuntime } from "../../host/java-runtime.js";
import { pythonInterpreter } from "../../host/python-interpreter.js";
import { detectSandbox, type SandboxSupport } from "../../host/sandbox-support.js";
import type { InstanceRuntime, NetworkMode } from "../../spec/function-spec.js";
import type {
  LogLine,
  PoolStatus,
  Provider,
  ProviderContext,
  StartedInstance,
  StartInstanceOptions,
} from "../types.js";
import { detectCgroups, type CgroupHierarchy, type InstanceCgroup } from "./cgroups.js";
import { isLeftover, removeDeadOwners } from "./leftovers.js";
import { ProcessInstance, makeDirs, type InstancePaths } from "./process-instance.js";
import { WarmPool } from "./warm-pool.js";
import {
  attachOutbound,
  detectOutbound,
  outboundResolvConf,
  type OutboundSupport,
} from "./outbound-network.js";
import { bubblewrapCommand, identityFiles, insidePaths, instanceUser } from "./sandbox.js";
import { fissionConfigsFolder, fissionSecretsFolder } from "../instance-files.js";

export interface LocalProviderOptions extends ProviderContext {
  /** Directory on the same filesystem as the package store, for per-instance package views. */
  readonly workDir: string;
  /** How long a new instance may take to listen. @default 15000 */
  readonly startTimeoutMs?: number;
  /** "auto" sandboxes where the host allows; "none" never does. @default "auto" */
  readonly sandbox?: "auto" | "none";
  /** Processes and threads one instance may have (a fork bomb stops here). @default 256 */
  readonly pidsLimit?: number;
  /** Memory limit of a generic instance before it is specialized. @default 512 MiB */
  readonly genericMemoryBytes?: number;
  /** Generic instances kept warm per runtime; 0 starts every instance on demand. @default 2 */
  readonly poolSize?: number;
}

/** How one instance is started: its shape, where its lines go, and whether it waits in a pool. */
interface LaunchOptions {
  readonly runtime: InstanceRuntime;
  readonly network: NetworkMode;
  readonly onLog: (line: LogLine) => void;
  /**
   * The instance will wait in a warm pool: spend start-up time now (warm-up calls, an open
   * connection) so that specializing it later is as fast as possible.
   */
  readonly warm: boolean;
  /** The memory the instance will have, when it is started for one function (not pooled). */
  readonly memoryBytes?: number;
}

/** How each runtime server starts: its directory under runtimes/, entry file, and interpreter. */
interface RuntimeServer {
  readonly dir: string;
  readonly entry: string;
  /**
   * Absolute path of the program that runs the entry (it must be visible in the sandbox);
   * throws a UserError saying what to install when the machine has none.
   */
  readonly interpreter: () => string | undefined;
  /** Environment the runtime needs besides the common one. */
  readonly env?: Readonly<Record<string, string>>;
  /** Interpreter arguments before the entry, given the memory the instance starts with. */
  readonly args?: (memoryBytes: number) => string[];
  /** Host directories the interpreter reads besides its own installation (sandboxed). */
  readonly readOnlyDirs?: () => readonly string[];
}

const runtimesDir = fileURLToPath(new URL("../../../runtimes/", import.meta.url));
const runtimeServers: Partial<Record<InstanceRuntime, RuntimeServer>> = {
  // runtimes/ as a whole, so the node server can import runtimes/shared/.
  node: {
    dir: runtimesDir,
    entry: join("node", "server.mjs"),
    interpreter: () => process.execPath,
  },
  python: {
    dir: join(runtimesDir, "python"),
    entry: "server.py",
    interpreter: pythonInterpreter,
    // The package is read-only in the sandbox, and the store's copy must never change: no
    // __pycache__ beside it. Unbuffered, so output written straight to the fds is not held.
    env: { PYTHONDONTWRITEBYTECODE: "1", PYTHONUNBUFFERED: "1", PYTHONNOUSERSITE: "1" },
  },
  // runtimes/ as a whole, so the exec server can import the helpers in ../shared/.
  exec: {
    dir: runtimesDir,
    entry: join("exec", "server.mjs"),
    interpreter: () => process.execPath,
  },
  // The server is compiled on first use (see java-runtime.ts), hence the directory's getter.
  java: {
    get dir() {
      return javaRuntime().dir;
    },
    entry: "runtime.jar",
    interpreter: () => javaRuntime().java,
    args: javaServerArgs,
    readOnlyDirs: () => javaRuntime().etcDirs,
  },
};

/** Tries at a sandbox whose namespace setup failed for a passing reason. */
const startAttempts = 3;

/** A pooled instance loaded with no call behind it refills the pool after this. */
const refillAfterLoadMs = 200;

export class LocalProvider implements Provider {
  readonly name = "local";
  readonly #options: LocalProviderOptions;
  readonly #sandbox: SandboxSupport;
  readonly #outbound: OutboundSupport;
  #cgroups: CgroupHierarchy | undefined;
  #runDir: string | undefined;
  #counter = 0;

  #resolvConf: string | undefined;
  /** This process's own folder under the configured work dir. */
  readonly #workDir: string;
  /**
   * Warm generic instances per runtime, for functions with outbound networking (the common
   * case); a function with another network mode gets an instance started for it.
   */
  readonly #pools = new Map<InstanceRuntime, WarmPool<ProcessInstance>>();
  #closed = false;

  private constructor(
    options: LocalProviderOptions,
    sandbox: SandboxSupport,
    outbound: OutboundSupport,
  ) {
    this.#options = options;
    this.#sandbox = sandbox;
    this.#outbound = outbound;
    this.#workDir = join(options.workDir, String(process.pid));
  }

  static async create(options: LocalProviderOptions): Promise<LocalProvider> {
    const sandbox =
      options.sandbox === "none"
        ? { kind: "none" as const, reason: "disabled by configuration" }
        : detectSandbox();
    const outbound =
      sandbox.kind === "bubblewrap"
        ? detectOutbound()
        : { available: false, reason: "instances are not sandboxed" };
    const provider = new LocalProvider(options, sandbox, outbound);
    provider.#cgroups = await detectCgroups(`runlet-${process.pid}`);
    // What a platform killed before it could clean up left (issue 13, item 13).
    await provider.#cgroups?.removeSiblings((name) => isLeftover(name, /^runlet-(\d+)$/));
    await removeDeadOwners(tmpdir(), /^runlet-(\d+)-/);
    await removeDeadOwners(options.workDir, /^(\d+)$/);
    // Socket paths are limited to 107 bytes, so sockets live under a short temp path rather
    // than the (possibly long) data directory. Named after this process, for the sweep above.
    provider.#runDir = await mkdtemp(join(tmpdir(), `runlet-${process.pid}-`));
    // mkdtemp made the run dir 0700; instances (other uids) must reach their own sockets.
    await chmod(provider.#runDir, 0o711);
    if (outbound.available) {
      provider.#resolvConf = join(provider.#runDir, "resolv.conf");
      await writeFile(provider.#resolvConf, outboundResolvConf, { mode: 0o644 });
    }
    // Node's pool fills at once; other runtimes' pools start with their first function, so
    // a platform that runs only Node spends nothing on Python or exec instances.
    provider.#pool("node");
    return provider;
  }

  /** What isolation instances get here, for `runlet up` and `describe`. */
  get isolation(): string {
    const sandbox =
      this.#sandbox.kind === "bubblewrap"
        ? `bubblewrap sandbox${process.getuid?.() === 0 ? " as unprivileged uids" : ""}, ${this.#outbound.available ? "filtered outbound network" : "host network"}`
        : "no sandbox";
    const limits = this.#cgroups ? `cgroup v${this.#cgroups.version} limits` : "no limits";
    return `${sandbox}, ${limits}`;
  }

  /** Warnings to show once at start (no sandbox, no limits). */
  get notices(): string[] {
    const notices: string[] = [];
    if (this.#sandbox.kind === "none") {
      notices.push(`instances run unsandboxed: ${this.#sandbox.reason ?? "no sandbox available"}`);
    } else if (!this.#outbound.available) {
      notices.push(
        `instances share the host's network, loopback services included: ${this.#outbound.reason ?? "no user-mode networking"}`,
      );
    }
    if (!this.#cgroups) {
      notices.push(
        "no cgroups available (not Linux, or not permitted): memory, CPU and process limits are not enforced",
      );
    }
    return notices;
  }

  async start(options: StartInstanceOptions): Promise<StartedInstance> {
    const pool = options.network === "outbound" ? this.#pool(options.runtime) : undefined;
    const pooled = pool?.take();
    if (!pooled) {
      // Nothing to wait for: the pool refills beside this start.
      pool?.fill();
    }
    const instance =
      pooled ??
      (await this.#launch({
        runtime: options.runtime,
        network: options.network,
        onLog: options.onLog,
        warm: false,
        memoryBytes: options.memoryBytes,
      }));
    if (pooled && pool) {
      pooled.adopt(options.onLog);
      // Once the cold call that took it has its answer (the next timer turn, after the
      // gateway has written it to the caller): starting a process costs the gateway a fork
      // and a core for tens of milliseconds, which the cold call would otherwise wait out
      // (docs/benchmarks.md). A load with no call behind it (a deploy's check) refills shortly
      // after it settles.
      const refill = (): void => {
        setTimeout(() => pool.fill(), 0);
      };
      pooled.whenAnswered(refill);
      pooled.whenSpecialized(() => setTimeout(() => pool.fill(), refillAfterLoadMs).unref());
      // Taken but never loaded (stopped, or it died first): the pool refills all the same.
      void pooled.exited.then(() => pool.fill());
    }
    try {
      instance.setLimits(options);
    } catch (error) {
      await instance.stop();
      if (pooled) {
        pool?.fill();
      }
      throw error;
    }
    return { instance, fromPool: pooled !== undefined };
  }

  poolStatus(): PoolStatus[] {
    return [...this.#pools.values()].map((pool) => ({
      runtime: pool.runtime,
      size: pool.size,
      idle: pool.idle,
      starting: pool.starting,
    }));
  }

  #pool(runtime: InstanceRuntime): WarmPool<ProcessInstance> {
    let pool = this.#pools.get(runtime);
    if (!pool) {
      pool = new WarmPool({
        runtime,
        size: this.#options.poolSize ?? 2,
        start: () =>
          this.#launch({ runtime, network: "outbound", onLog: this.#options.onLog, warm: true }),
        onError: this.#options.onError,
      });
      this.#pools.set(runtime, pool);
      if (!this.#closed) {
        pool.fill();
      }
    }
    return pool;
  }

  /** Starts one instance, again when the sandbox's network setup failed for a passing reason. */
  async #launch(options: LaunchOptions): Promise<ProcessInstance> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.#startOnce(options);
      } catch (error) {
        // bwrap setting up a new network namespace's loopback now and then gets a failed
        // netlink answer when many namespaces come and go at once (seen under a full test
        // run on two cores); a new sandbox then starts fine.
        const transient = /bwrap: loopback: Failed/.test((error as Error).message);
        if (!transient || attempt >= startAttempts) {
          throw error;
        }
      }
    }
  }

  async #startOnce(options: LaunchOptions): Promise<ProcessInstance> {
    const server = runtimeServers[options.runtime];
    const interpreter = server?.interpreter();
    if (!server || !interpreter || !this.#runDir) {
      throw new UserError(
        "RUNLET_UNSUPPORTED_RUNTIME",
        `runtime ${options.runtime} is not supported on this machine`,
      );
    }
    this.#counter += 1;
    const id = `${options.runtime}-${this.#counter}-${Math.random().toString(36).slice(2, 7)}`;
    const socketDir = join(this.#runDir, id);
    const sandboxed = this.#sandbox.kind === "bubblewrap";
    let paths: InstancePaths;
    let command: string;
    let args: string[];
    let env: Record<string, string>;
    let user: ReturnType<typeof instanceUser>;
    let network: NetworkMode = options.network;
    const genericMemoryBytes = this.#options.genericMemoryBytes ?? 512 * 2 ** 20;
    const base = {
      ...(options.warm ? { RUNLET_WARMUP: "1" } : {}),
      PATH: process.env["PATH"] ?? "/usr/local/bin:/usr/bin:/bin",
      LANG: process.env["LANG"] ?? "C.UTF-8",
      NODE_ENV: "production",
      ...server.env,
    };
    if (sandboxed) {
      const workDir = join(this.#workDir, id);
      const stageDir = join(this.#runDir, `${id}.binds`);
      paths = {
        hostDirs: [socketDir, workDir, stageDir],
        socketDir,
        socket: join(socketDir, "runtime.sock"),
        frameSocket: join(socketDir, "frames.sock"),
        secretsHost: join(workDir, "secrets"),
        secretsInside: insidePaths.secrets,
        fissionHost: join(workDir, "fission"),
        fissionInside: "/",
        functionHost: join(workDir, "function"),
        functionInside: insidePaths.function,
      };
      const fissionDirs = [fissionSecretsFolder, fissionConfigsFolder].map((folder) =>
        join(paths.fissionHost, folder),
      );
      await makeDirs([socketDir, paths.secretsHost, ...fissionDirs, join(workDir, "function")]);
      user = instanceUser(this.#counter);
      if (user) {
        // The runtime makes its sockets as the instance's uid; the secrets are its alone.
        await chown(socketDir, user.uid, user.gid);
        for (const dir of [paths.secretsHost, ...fissionDirs]) {
          await chown(dir, user.uid, user.gid);
        }
        await chmod(join(workDir, "function"), 0o755);
      }
      if (network === "outbound" && !this.#outbound.available) {
        network = "host";
      }
      if (user) {
        await mkdir(stageDir, { mode: 0o711 });
      }
      const identity = { hostname: `runlet-${id}`, dir: join(workDir, "etc") };
      await mkdir(identity.dir, { recursive: true, mode: 0o755 });
      const files = identityFiles(
        identity.hostname,
        user?.uid ?? process.getuid?.() ?? 0,
        user?.gid ?? process.getgid?.() ?? 0,
      );
      for (const [name, text] of Object.entries(files)) {
        await writeFile(join(identity.dir, name), text, { mode: 0o644 });
      }
      ({ command, args } = bubblewrapCommand({
        socketDir,
        functionDir: join(workDir, "function"),
        secretsDir: paths.secretsHost,
        fissionDir: paths.fissionHost,
        runtimeDir: server.dir,
        entry: server.entry,
        interpreter,
        interpreterArgs: server.args?.(options.memoryBytes ?? genericMemoryBytes),
        readOnlyDirs: server.readOnlyDirs?.(),
        network,
        tmpBytes: genericMemoryBytes,
        user,
        infoFd: network === "outbound" ? 4 : undefined,
        resolvConf: network === "outbound" ? this.#resolvConf : undefined,
        identity,
        stageDir,
      }));
      env = {
        ...base,
        HOME: "/tmp",
        TMPDIR: "/tmp",
        RUNLET_SOCKET: join(insidePaths.socketDir, "runtime.sock"),
        RUNLET_FRAME_SOCKET: join(insidePaths.socketDir, "frames.sock"),
      };
    } else {
      paths = {
        hostDirs: [socketDir],
        socketDir,
        socket: join(socketDir, "runtime.sock"),
        frameSocket: join(socketDir, "frames.sock"),
        secretsHost: join(socketDir, "secrets"),
        secretsInside: join(socketDir, "secrets"),
        fissionHost: join(socketDir, "fission"),
        fissionInside: join(socketDir, "fission"),
        functionHost: undefined,
        functionInside: undefined,
      };
      await makeDirs([socketDir, paths.secretsHost, paths.fissionHost, join(socketDir, "tmp")]);
      command = interpreter;
      args = [
        ...(server.args?.(options.memoryBytes ?? genericMemoryBytes) ?? []),
        join(server.dir, server.entry),
      ];
      // A clean environment: nothing of the platform's leaks into functions, and variables
      // such as NODE_EXTRA_CA_CERTS (45–65 ms per start here) stay out.
      env = {
        ...base,
        HOME: socketDir,
        TMPDIR: join(socketDir, "tmp"),
        RUNLET_SOCKET: paths.socket,
        RUNLET_FRAME_SOCKET: paths.frameSocket,
      };
    }
    let cgroup: InstanceCgroup | undefined;
    if (this.#cgroups) {
      cgroup = await this.#cgroups.create(id);
      cgroup.setLimits({
        memoryBytes: genericMemoryBytes,
        pids: this.#options.pidsLimit ?? 256,
      });
    }
    const instance = await ProcessInstance.start({
      id,
      runtime: options.runtime,
      command,
      args,
      env,
      paths,
      cgroup,
      startTimeoutMs: this.#options.startTimeoutMs ?? 15_000,
      onLog: options.onLog,
      packages: this.#options.packages,
      secrets: this.#options.secrets,
      configs: this.#options.configs,
      user,
      attachNetwork: sandboxed && network === "outbound" ? attachOutbound : undefined,
    });
    if (options.warm) {
      try {
        await instance.warmUp();
      } catch (error) {
        // Nobody else holds the instance yet: left running, it would outlive the platform.
        await instance.stop();
        throw error;
      }
    }
    return instance;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#pools.values()].map((pool) => pool.close()));
    if (this.#runDir) {
      // An instance still exiting may remove its own directory (or its runtime write a
      // last file) while this runs: retry ENOTEMPTY instead of failing the shutdown.
      await rm(this.#runDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
    }
    await rm(this.#workDir, {
      recursive: true,
      force: true,
      maxRetries: 5,
      retryDelay: 50,
    });
    await this.#cgroups?.close();
  }
}
