/** The parts of Runlet's HTTP API the benchmarks use: start a platform process, deploy, read status. */
import { fileURLToPath } from "node:url";
import { packDirectory } from "../../src/packaging/pack.js";
import { freePort, spawnServer, type ServerProcess } from "./servers.js";

export const adminToken = "bench-admin-token";
const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

export interface RunletProcess extends ServerProcess {
  api(path: string, init?: RequestInit): Promise<Response>;
  /** Packs `dir`, uploads it and deploys it as `name` with `spec`. */
  deploy(name: string, dir: string, spec?: Readonly<Record<string, unknown>>): Promise<void>;
  status(name: string): Promise<FunctionStatus>;
}

export interface InstanceStatus {
  readonly revision: string;
  readonly replicas: number;
  readonly ready: number;
  readonly starting: number;
  readonly inFlight: number;
  readonly coldStarts: number;
  /** Newer platforms: instances that came from the warm pool. */
  readonly coldStartsFromPool?: number;
}

export interface FunctionStatus {
  readonly name: string;
  readonly revision: number;
  readonly instances: readonly InstanceStatus[];
}

export async function startRunletProcess(
  options: {
    poolSize?: number;
    dataDir?: string;
    asyncConcurrency?: number;
    /** Build tools' caches (Maven's repository) to reuse instead of the data directory's. */
    buildCacheDir?: string;
    /** A tree with dist/, runtimes/ and bench/servers/ to run instead of this one (A/B runs). */
    root?: string;
  } = {},
): Promise<RunletProcess> {
  const port = await freePort();
  const server = await spawnServer({
    name: "runlet",
    command: process.execPath,
    args: ["bench/servers/runlet-server.mjs"],
    cwd: options.root ?? repoRoot,
    env: {
      RUNLET_BENCH_PORT: String(port),
      RUNLET_BENCH_TOKEN: adminToken,
      ...(options.poolSize === undefined
        ? {}
        : { RUNLET_BENCH_POOL_SIZE: String(options.poolSize) }),
      ...(options.dataDir === undefined ? {} : { RUNLET_BENCH_DATA_DIR: options.dataDir }),
      ...(options.asyncConcurrency === undefined
        ? {}
        : { RUNLET_BENCH_ASYNC_CONCURRENCY: String(options.asyncConcurrency) }),
      ...(options.buildCacheDir === undefined
        ? {}
        : { RUNLET_BENCH_BUILD_CACHE_DIR: options.buildCacheDir }),
    },
    probeUrl: `http://127.0.0.1:${port}/healthz`,
    url: `http://127.0.0.1:${port}`,
    readyTimeoutMs: 30_000,
  });
  const api = (path: string, init: RequestInit = {}): Promise<Response> =>
    fetch(`${server.url}${path}`, {
      ...init,
      headers: {
        authorization: `Bearer ${adminToken}`,
        ...(init.headers as Record<string, string>),
      },
    });
  const packages = new Map<string, string>();
  return {
    ...server,
    api,
    async deploy(name, dir, spec = {}) {
      let digest = packages.get(dir);
      if (digest === undefined) {
        const packed = await packDirectory(dir);
        const upload = await api("/api/v1/packages", {
          method: "POST",
          headers: { "content-type": "application/gzip" },
          body: packed.archive,
        });
        if (upload.status >= 300) {
          throw new Error(`package upload failed: ${upload.status} ${await upload.text()}`);
        }
        digest = packed.digest;
        packages.set(dir, digest);
      }
      const response = await api(`/api/v1/functions/${name}`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ runtime: "node", package: digest, ...spec }),
      });
      if (response.status >= 300) {
        throw new Error(`deploy of ${name} failed: ${response.status} ${await response.text()}`);
      }
      await response.arrayBuffer();
    },
    async status(name) {
      const response = await api(`/api/v1/functions/${name}`);
      if (!response.ok) {
        throw new Error(`status of ${name} failed: ${response.status} ${await response.text()}`);
      }
      return (await response.json()) as FunctionStatus;
    },
  };
}
