/**
 * Density: what the platform costs in memory idle, with many functions deployed and some
 * warm, and how many warm instances this machine holds before calls slow down. Runlet runs as
 * `runlet up` (the built CLI, as users start it) in its own process; memory is read from
 * /proc for it and every process under it (bubblewrap and the runtime servers).
 */
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Pool } from "undici";
import { packDirectory } from "../../src/packaging/pack.js";
import { percentile } from "../lib/stats.js";
import { adminToken } from "../lib/runlet-api.js";
import { freePort, spawnServer, type ServerProcess } from "../lib/servers.js";

/** Memory of a set of processes: resident (counts shared pages in each) and proportional (splits them). */
export interface Memory {
  readonly processes: number;
  readonly rssMiB: number;
  readonly pssMiB: number;
}

export interface DensityStep {
  /** Warm instances when the step was measured. */
  readonly warm: number;
  readonly platform: Memory;
  readonly instances: Memory;
  /** Calls spread over every warm function, 10 at a time. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly requestsPerSecond: number;
  /** MemAvailable of the machine. */
  readonly availableGiB: number;
}

export interface DensityResult {
  readonly settings: {
    readonly functions: number;
    readonly warm: number;
    readonly steps: readonly number[];
    readonly poolSize: number;
  };
  /** The platform with no function deployed: the server process, and its warm pool. */
  readonly idle: { readonly platform: Memory; readonly pool: Memory };
  /** `functions` deployed, `warm` of them with an instance. */
  readonly deployed: {
    readonly platform: Memory;
    readonly instances: Memory;
    readonly deploySeconds: number;
  };
  readonly steps: readonly DensityStep[];
  /** The largest step whose median stayed within twice the first step's, and why the ramp stopped. */
  readonly heldWarm: number;
  readonly stoppedBecause: string;
  readonly isolation: string;
}

export interface DensityOptions {
  readonly functions: number;
  readonly warm: number;
  /** Warm-instance counts to ramp through (each ≥ warm). */
  readonly steps: readonly number[];
  readonly callsPerStep: number;
  readonly log: (line: string) => void;
}

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const poolSize = 2;

async function processMemory(pid: number): Promise<{ rss: number; pss: number } | undefined> {
  try {
    const rollup = await readFile(`/proc/${pid}/smaps_rollup`, "utf8");
    const kb = (field: string): number =>
      Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(rollup)?.[1] ?? 0);
    return { rss: kb("Rss") / 1024, pss: kb("Pss") / 1024 };
  } catch {
    return undefined;
  }
}

/** Every process below `root`, from /proc (instances are their own process groups). */
async function descendants(root: number): Promise<number[]> {
  const children = new Map<number, number[]>();
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) {
      continue;
    }
    const stat = await readFile(`/proc/${entry}/stat`, "utf8").catch(() => "");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ppid = Number(fields[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
  }
  const found: number[] = [];
  const queue = [...(children.get(root) ?? [])];
  while (queue.length > 0) {
    const next = queue.shift() as number;
    found.push(next);
    queue.push(...(children.get(next) ?? []));
  }
  return found;
}

async function sumMemory(pids: readonly number[]): Promise<Memory> {
  let rss = 0;
  let pss = 0;
  let processes = 0;
  for (const pid of pids) {
    const memory = await processMemory(pid);
    if (memory) {
      rss += memory.rss;
      pss += memory.pss;
      processes += 1;
    }
  }
  return { processes, rssMiB: rss, pssMiB: pss };
}

/** Runtime-server processes under the platform (not bwrap, not the cgroup-joining shell). */
async function runtimeProcesses(root: number): Promise<number[]> {
  const pids: number[] = [];
  for (const pid of await descendants(root)) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (/\/server\.(mjs|py)\0?/.test(cmdline) && !cmdline.startsWith("bwrap")) {
      pids.push(pid);
    }
  }
  return pids;
}

/** Threads (each holds a pid) on the machine, from /proc/loadavg, and the kernel's pid limit. */
async function threadUse(): Promise<{ threads: number; pidMax: number }> {
  const loadavg = await readFile("/proc/loadavg", "utf8");
  const threads = Number(loadavg.split(" ")[3]?.split("/")[1] ?? 0);
  const pidMax = Number((await readFile("/proc/sys/kernel/pid_max", "utf8")).trim());
  return { threads, pidMax };
}

async function memAvailableGiB(): Promise<number> {
  const info = await readFile("/proc/meminfo", "utf8");
  return Number(/^MemAvailable:\s+(\d+) kB/m.exec(info)?.[1] ?? 0) / 2 ** 20;
}

async function startPlatform(dataDir: string): Promise<ServerProcess> {
  const port = await freePort();
  return spawnServer({
    name: "runlet up",
    command: process.execPath,
    args: [
      join(repoRoot, "bin", "runlet.js"),
      "up",
      "--port",
      String(port),
      "--data-dir",
      dataDir,
      "--pool-size",
      String(poolSize),
    ],
    env: { RUNLET_ADMIN_TOKEN: adminToken },
    probeUrl: `http://127.0.0.1:${port}/healthz`,
    url: `http://127.0.0.1:${port}`,
    readyTimeoutMs: 30_000,
  });
}

export async function runDensity(options: DensityOptions): Promise<DensityResult> {
  const dir = await mkdtemp(join(tmpdir(), "runlet-bench-density-"));
  const platform = await startPlatform(join(dir, "data"));
  const root = platform.child.pid ?? 0;
  const auth = { authorization: `Bearer ${adminToken}` };
  let client: Pool | undefined;
  try {
    client = new Pool(platform.url, { connections: 16 });
    const source = join(dir, "src");
    await mkdir(source, { recursive: true });
    await writeFile(join(source, "index.js"), `export default async () => "hello";\n`);
    const packed = await packDirectory(source);
    await (
      await fetch(`${platform.url}/api/v1/packages`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/gzip" },
        body: packed.archive,
      })
    ).text();
    const deploy = async (name: string, idleTimeout: string): Promise<void> => {
      const response = await fetch(`${platform.url}/api/v1/functions/${name}`, {
        method: "PUT",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({
          runtime: "node",
          package: packed.digest,
          scale: { idleTimeout, max: 1 },
        }),
      });
      const text = await response.text();
      if (!response.ok) {
        throw new Error(`deploy of ${name} failed: ${response.status} ${text}`);
      }
    };
    const waitForRuntimes = async (count: number): Promise<void> => {
      for (let i = 0; i < 600; i += 1) {
        if ((await runtimeProcesses(root)).length === count) {
          return;
        }
        await sleep(500);
      }
      throw new Error(`never settled at ${count} runtime processes`);
    };

    options.log(`density: idle platform (warm pool of ${poolSize})`);
    await waitForRuntimes(poolSize);
    await sleep(2000);
    const poolPids = await runtimeProcesses(root);
    const idle = { platform: await sumMemory([root]), pool: await sumMemory(poolPids) };

    options.log(`density: deploying ${options.functions} functions, ${options.warm} kept warm`);
    const names: string[] = [];
    const deployStarted = performance.now();
    const queue = Array.from({ length: options.functions }, (_, i) => i);
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
          const warm = i < options.warm;
          const name = `${warm ? "warm" : "cold"}-${i}`;
          // Cold ones idle out right after their deploy's load check; warm ones stay.
          await deploy(name, warm ? "1h" : "1s");
          if (warm) {
            names.push(name);
          }
        }
      }),
    );
    const deploySeconds = (performance.now() - deployStarted) / 1000;
    await waitForRuntimes(options.warm + poolSize);
    await sleep(2000);
    const deployed = {
      platform: await sumMemory([root]),
      instances: await sumMemory(await runtimeProcesses(root)),
      deploySeconds,
    };

    const steps: DensityStep[] = [];
    let stoppedBecause = "reached its last step";
    let heldWarm = 0;
    let next = options.functions;
    ramp: for (const target of options.steps) {
      while (names.length < target) {
        // Every process and thread takes a pid: past the kernel's limit nothing on the
        // machine can start one, so the ramp stops well before it.
        const { threads, pidMax } = await threadUse();
        if (threads > 0.8 * pidMax) {
          stoppedBecause = `came near the kernel's pid limit: ${threads} threads on the machine at ${names.length} warm instances (kernel.pid_max ${pidMax})`;
          break ramp;
        }
        const available = await memAvailableGiB();
        if (available < 2) {
          stoppedBecause = `had less than 2 GiB of memory left (${available.toFixed(1)} GiB) at ${names.length} warm instances`;
          break ramp;
        }
        const batch = Array.from({ length: Math.min(4, target - names.length) }, () => {
          next += 1;
          return `warm-${next}`;
        });
        const failed = (await Promise.allSettled(batch.map((name) => deploy(name, "1h")))).find(
          (outcome) => outcome.status === "rejected",
        );
        if (failed) {
          stoppedBecause = `could not start more than about ${names.length} warm instances: ${String(failed.reason).slice(0, 300)}`;
          break ramp;
        }
        names.push(...batch);
        if (names.length % 100 === 0) {
          options.log(`density: ${names.length} warm`);
        }
      }
      await waitForRuntimes(names.length + poolSize);
      await sleep(2000);
      const latencies: number[] = [];
      const started = performance.now();
      let index = 0;
      const gateway = client;
      await Promise.all(
        Array.from({ length: 10 }, async () => {
          while (index < options.callsPerStep) {
            const name = names[index % names.length] as string;
            index += 1;
            const callStarted = performance.now();
            const response = await gateway.request({ path: `/function/${name}`, method: "GET" });
            await response.body.text();
            if (response.statusCode !== 200) {
              throw new Error(`call to ${name} answered ${response.statusCode}`);
            }
            latencies.push(performance.now() - callStarted);
          }
        }),
      );
      const elapsed = (performance.now() - started) / 1000;
      const step: DensityStep = {
        warm: names.length,
        platform: await sumMemory([root]),
        instances: await sumMemory(await runtimeProcesses(root)),
        p50Ms: percentile(latencies, 50),
        p99Ms: percentile(latencies, 99),
        requestsPerSecond: latencies.length / elapsed,
        availableGiB: await memAvailableGiB(),
      };
      steps.push(step);
      options.log(
        `density: ${step.warm} warm: p50 ${step.p50Ms.toFixed(2)} ms, p99 ${step.p99Ms.toFixed(2)} ms, instances ${step.instances.pssMiB.toFixed(0)} MiB PSS, ${step.availableGiB.toFixed(1)} GiB available`,
      );
      const first = steps[0] as DensityStep;
      // The median, not p99: one slow call among a few thousand on a shared machine is noise.
      if (step !== first && step.p50Ms > 2 * first.p50Ms) {
        stoppedBecause = `saw the median at ${step.warm} warm instances more than double the median at ${first.warm}`;
        break;
      }
      heldWarm = step.warm;
      if (step.availableGiB < 2) {
        stoppedBecause = "had less than 2 GiB of memory left";
        break;
      }
    }
    // `runlet up` prints how instances are isolated.
    const isolation = /instances\s+(.+)/.exec(platform.output())?.[1]?.trim();
    return {
      settings: {
        functions: options.functions,
        warm: options.warm,
        steps: options.steps,
        poolSize,
      },
      idle,
      deployed,
      steps,
      heldWarm,
      stoppedBecause,
      isolation: isolation ?? "unknown",
    };
  } finally {
    await client?.close();
    await platform.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
