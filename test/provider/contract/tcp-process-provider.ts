/**
 * A second provider, with the shape a pod has: each instance is the same runtime server the
 * local provider runs, as a plain child process listening on TCP ports of 127.0.0.1, reached
 * only over the network (HTTP control, the framed channel, the `/v2/logs` stream) with no
 * control pipe, no sandbox and no cgroup. It exists for the provider contract suite: it is not
 * isolated, so it is never a way to run untrusted code.
 */
import { spawn } from "node:child_process";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { onLines } from "../../../src/host/lines.js";
import { javaServerArgs } from "../../../src/host/java-flags.js";
import { javaRuntime } from "../../../src/host/java-runtime.js";
import { pythonInterpreter } from "../../../src/host/python-interpreter.js";
import { RemoteInstance } from "../../../src/provider/remote/remote-instance.js";
import { instanceFilesFor } from "../../../src/provider/instance-files.js";
import type {
  ExitInfo,
  PoolStatus,
  Provider,
  ProviderContext,
  StartedInstance,
  StartInstanceOptions,
} from "../../../src/provider/types.js";
import { formatSize } from "../../../src/spec/units.js";

const runtimesDir = fileURLToPath(new URL("../../../runtimes/", import.meta.url));

const servers = {
  node: () => ({ command: process.execPath, args: [join(runtimesDir, "node", "server.mjs")] }),
  python: () => ({
    command: pythonInterpreter(),
    args: [join(runtimesDir, "python", "server.py")],
  }),
  exec: () => ({ command: process.execPath, args: [join(runtimesDir, "exec", "server.mjs")] }),
  java: () => ({
    command: javaRuntime().java,
    args: [...javaServerArgs(256 * 2 ** 20), javaRuntime().runtimeJar],
  }),
} as const;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (typeof address !== "object" || address === null) {
    throw new Error("no port");
  }
  return address.port;
}

export class TcpProcessProvider implements Provider {
  readonly name = "tcp-process";
  readonly isolation = "none (plain child processes over TCP, for the contract suite)";
  readonly notices: readonly string[] = [];
  readonly #context: ProviderContext;
  readonly #root: string;
  readonly #live = new Set<RemoteInstance>();
  #counter = 0;

  private constructor(context: ProviderContext, root: string) {
    this.#context = context;
    this.#root = root;
  }

  static async create(context: ProviderContext): Promise<TcpProcessProvider> {
    return new TcpProcessProvider(context, await mkdtemp(join(tmpdir(), "runlet-tcp-provider-")));
  }

  async start(options: StartInstanceOptions): Promise<StartedInstance> {
    this.#counter += 1;
    const id = `${options.runtime}-tcp-${this.#counter}`;
    const dir = join(this.#root, id);
    const secretsDir = join(dir, "secrets");
    await mkdir(join(dir, "tmp"), { recursive: true, mode: 0o700 });
    await mkdir(secretsDir, { mode: 0o700 });
    const [httpPort, framePort] = [await freePort(), await freePort()];
    const { command, args } = servers[options.runtime]();
    // No cgroup here: a Node runtime is held to its memory by the heap limit, as a pod's would
    // be by its container's limit; the exit is then named as out of memory.
    const heapMiB = Math.max(16, Math.floor((options.memoryBytes / 2 ** 20) * 0.75));
    const child = spawn(command, args, {
      env: {
        PATH: process.env["PATH"] ?? "/usr/bin:/bin",
        HOME: dir,
        TMPDIR: join(dir, "tmp"),
        RUNLET_HTTP_ADDRESS: `127.0.0.1:${httpPort}`,
        RUNLET_FRAME_ADDRESS: `127.0.0.1:${framePort}`,
        PYTHONDONTWRITEBYTECODE: "1",
        PYTHONUNBUFFERED: "1",
        ...(options.runtime === "python"
          ? {}
          : { NODE_OPTIONS: `--max-old-space-size=${heapMiB}` }),
      },
      stdio: ["pipe", "pipe", "pipe"],
      detached: true,
    });
    const stderrTail: string[] = [];
    let stopping = false;
    const gone = new Promise<ExitInfo>((resolve) => {
      child.once("exit", (code, signal) => {
        void rm(dir, { recursive: true, force: true });
        const outOfMemory = stderrTail.some((line) =>
          /heap out of memory|Reached heap limit|MemoryError/.test(line),
        );
        resolve(
          outOfMemory
            ? {
                kind: "out-of-memory",
                message: `exceeded memory limit ${formatSize(options.memoryBytes)}`,
              }
            : signal !== null
              ? { kind: "killed", message: `was killed by ${signal}` }
              : {
                  kind: stopping ? "killed" : "exited",
                  message: `exited with code ${code ?? "unknown"}`,
                },
        );
      });
    });
    const instance = RemoteInstance.connect({
      id,
      runtime: options.runtime,
      endpoint: { host: "127.0.0.1", httpPort, framePort },
      onLog: options.onLog,
      gone,
      terminate: async () => {
        stopping = true;
        if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
          try {
            process.kill(-child.pid, "SIGKILL");
          } catch {
            // already gone
          }
        }
        await gone;
      },
      prepare: async (request) => {
        const files = instanceFilesFor(request, this.#context.secrets, this.#context.configs);
        for (const [key, value] of files.openfaas) {
          const file = join(secretsDir, key);
          await writeFile(file, value, { mode: 0o400 });
          await chmod(file, 0o400);
        }
        return {
          packagePath: this.#context.packages.localPath(request.packageDigest),
          secretsDir,
          fissionDir: secretsDir,
        };
      },
    });
    const forward = (stream: "stdout" | "stderr") => (line: string) => {
      if (stream === "stderr") {
        stderrTail.push(line);
        stderrTail.splice(0, stderrTail.length - 20);
      }
      void instance.then((ready) => ready.log(stream, line)).catch(() => undefined);
    };
    if (child.stdout && child.stderr) {
      onLines(child.stdout, forward("stdout"));
      onLines(child.stderr, forward("stderr"));
    }
    const ready = await instance;
    this.#live.add(ready);
    void ready.exited.then(() => this.#live.delete(ready));
    return { instance: ready, fromPool: false };
  }

  poolStatus(): PoolStatus[] {
    return [];
  }

  async close(): Promise<void> {
    await Promise.all([...this.#live].map((instance) => instance.stop()));
    await rm(this.#root, { recursive: true, force: true });
  }
}
