/**
 * Warm path, one hop (issue 6): hello world served by a bare node:http server (the floor),
 * through Runlet's gateway, and by the peers' Node runtimes (Knative's and Google's from npm;
 * OpenFaaS and Fission from ../shared/peers, lib/peers.ts), under closed-loop load at several
 * connection counts. Repeats go round-robin over targets so drift hits every target alike, and
 * ratios are taken within each repeat. Load comes from wrk (lib/wrk.ts says why); at 50
 * connections the floor and Runlet are also run under autocannon, the generator earlier runs
 * used, so the two can be compared.
 */
import { copyFile, mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  ensureOfWatchdog,
  peerArchives,
  prepareFissionNode,
  prepareOpenfaasNode20,
} from "../lib/peers.js";
import { runLoad, type LoadResult } from "../lib/load.js";
import { runWrk } from "../lib/wrk.js";
import type { RunletProcess } from "../lib/runlet-api.js";
import { freePort, processTreeCpu, spawnServer, type ServerProcess } from "../lib/servers.js";
import { spread, type Spread } from "../lib/stats.js";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const fixtures = fileURLToPath(new URL("../fixtures/", import.meta.url));

export interface WarmPathOptions {
  readonly connections: readonly number[];
  readonly repeats: number;
  readonly durationS: number;
  readonly warmupS: number;
  readonly runlet: RunletProcess;
  readonly log: (line: string) => void;
}

export interface TargetResult {
  readonly id: string;
  readonly label: string;
  readonly note: string;
  /** Per connection count. */
  readonly levels: readonly LevelResult[];
}

export interface LevelResult {
  readonly connections: number;
  readonly rps: Spread;
  readonly p50: Spread;
  readonly p99: Spread;
  /** Throughput relative to the raw floor in the same repeat. */
  readonly ratioToFloor: Spread;
  readonly failed: number;
  readonly generatorCpu: Spread;
  /** Server-side CPU per answered request, µs: all its processes, the process taking the
   * connections (Runlet: the gateway), and the others (Runlet: the instances; the Go proxy: the
   * node upstream). */
  readonly cpuUs: { readonly total: Spread; readonly front: Spread; readonly behind: Spread };
}

/** The floor and Runlet at 50 connections with autocannon as the generator, same repeats. */
export interface GeneratorCheck {
  readonly connections: number;
  readonly rawRps: Spread;
  readonly runletRps: Spread;
  readonly ratio: Spread;
  /** autocannon's CPU against the raw server, share of one core. */
  readonly generatorCpu: Spread;
}

export interface WarmPathResult {
  readonly targets: readonly TargetResult[];
  /** Absent in results from before wrk was the generator. */
  readonly autocannonCheck?: GeneratorCheck;
  /** Targets that could not be started (a peer's archive missing, a build failing): every cell
   * of theirs says "not available". `id` is absent in results from before it was kept. */
  readonly skipped: readonly {
    readonly id?: string;
    readonly label: string;
    readonly reason: string;
  }[];
  readonly settings: {
    readonly durationS: number;
    readonly repeats: number;
    readonly connections: readonly number[];
  };
}

interface Sample extends LoadResult {
  readonly frontUs: number;
  readonly behindUs: number;
}

interface Target {
  readonly id: string;
  readonly label: string;
  readonly note: string;
  readonly server?: ServerProcess;
  readonly url: string;
  /** The process taking the connections, and other processes of the target outside its tree. */
  readonly pid: number;
  readonly extraPids?: readonly number[];
}

function cpuOf(target: Target): { front: number; behind: number } {
  const main = processTreeCpu(target.pid);
  let behind = main.descendants;
  for (const pid of target.extraPids ?? []) {
    const extra = processTreeCpu(pid);
    behind += extra.self + extra.descendants;
  }
  return { front: main.self, behind };
}

async function startRaw(): Promise<Target> {
  const port = await freePort();
  const server = await spawnServer({
    name: "raw node:http",
    command: process.execPath,
    args: [`${fixtures}raw-hello.mjs`],
    env: { PORT: String(port) },
    probeUrl: `http://127.0.0.1:${port}/`,
  });
  return {
    id: "raw",
    label: "raw node:http (floor)",
    note: "bench/fixtures/raw-hello.mjs",
    server,
    url: server.url,
    pid: server.child.pid ?? 0,
  };
}

async function startKnative(): Promise<Target> {
  const port = await freePort();
  const server = await spawnServer({
    name: "faas-js-runtime",
    command: process.execPath,
    args: [
      `${repoRoot}node_modules/faas-js-runtime/bin/cli.js`,
      `${fixtures}knative/index.mjs`,
      "--port",
      String(port),
    ],
    cwd: `${fixtures}knative`,
    probeUrl: `http://127.0.0.1:${port}/`,
  });
  return {
    id: "knative",
    label: "Knative faas-js-runtime",
    note: "`faas-js-runtime index.mjs` (Fastify), bench/fixtures/knative",
    server,
    url: server.url,
    pid: server.child.pid ?? 0,
  };
}

async function startFunctionsFramework(): Promise<Target> {
  const port = await freePort();
  const server = await spawnServer({
    name: "functions-framework",
    command: process.execPath,
    args: [
      `${repoRoot}node_modules/@google-cloud/functions-framework/build/src/main.js`,
      "--target=hello",
      `--source=${fixtures}gcf`,
      `--port=${port}`,
    ],
    probeUrl: `http://127.0.0.1:${port}/`,
  });
  return {
    id: "gcf",
    label: "Google functions-framework",
    note: "`functions-framework --target=hello` (Express 5), bench/fixtures/gcf",
    server,
    url: server.url,
    pid: server.child.pid ?? 0,
  };
}

/** The raw handler on its own port, for a proxy target to sit in front of. */
function startRawUpstream(upstreamPort: number): Promise<ServerProcess> {
  return spawnServer({
    name: "raw node:http upstream",
    command: process.execPath,
    args: [`${fixtures}raw-hello.mjs`],
    env: { PORT: String(upstreamPort) },
    probeUrl: `http://127.0.0.1:${upstreamPort}/`,
  });
}

/** A target made of a proxy and the raw upstream behind it: stopped together, CPU of both. */
function proxyTarget(
  proxy: ServerProcess,
  upstream: ServerProcess,
  target: Pick<Target, "id" | "label" | "note">,
): Target {
  return {
    ...target,
    server: {
      ...proxy,
      stop: async () => {
        await proxy.stop();
        await upstream.stop();
      },
    },
    url: proxy.url,
    pid: proxy.child.pid ?? 0,
    extraPids: [upstream.child.pid ?? 0],
  };
}

/**
 * Not a peer: the raw server behind a Node process that only copies bytes. It measures what one
 * proxy hop done the obvious way (a connection per client, no parsing) costs on this machine,
 * to set against what Runlet's gateway costs doing all of its work.
 */
async function startBytePipe(): Promise<Target> {
  const [port, upstreamPort] = [await freePort(), await freePort()];
  const upstream = await startRawUpstream(upstreamPort);
  const pipe = await spawnServer({
    name: "byte pipe",
    command: process.execPath,
    args: [`${fixtures}byte-pipe.mjs`],
    env: { PORT: String(port), UPSTREAM_PORT: String(upstreamPort) },
    probeUrl: `http://127.0.0.1:${port}/`,
  });
  return proxyTarget(pipe, upstream, {
    id: "pipe",
    label: "Node byte pipe + raw (one bare hop)",
    note: "bench/fixtures/byte-pipe.mjs in front of raw-hello.mjs: a connection per client, bytes copied both ways, no parsing; a reference, not a peer",
  });
}

/** A peer whose files live in a temp folder: stopping it also removes the folder. */
function removingOnStop(server: ServerProcess, root: string): ServerProcess {
  return {
    ...server,
    stop: async () => {
      await server.stop();
      await rm(root, { recursive: true, force: true });
    },
  };
}

/**
 * OpenFaaS as a function runs there: of-watchdog in http mode forks the node20 template
 * (express) and forwards each request to it; the template calls bench/fixtures/openfaas/handler.js.
 * The settings are the template's own (its Dockerfile's environment).
 */
async function startOpenfaas(): Promise<Target> {
  const watchdog = await ensureOfWatchdog();
  if (!watchdog.ok) {
    throw new Error(`of-watchdog: ${watchdog.reason}`);
  }
  const template = await prepareOpenfaasNode20();
  if (!template.ok) {
    throw new Error(`OpenFaaS node20 template: ${template.reason}`);
  }
  const { root, appDir } = template.value;
  try {
    await copyFile(`${fixtures}openfaas/handler.js`, join(appDir, "function", "handler.js"));
    const [port, upstreamPort] = [await freePort(), await freePort()];
    const server = await spawnServer({
      name: "of-watchdog + node20",
      command: watchdog.value,
      args: [],
      cwd: appDir,
      env: {
        mode: "http",
        port: String(port),
        http_port: String(upstreamPort),
        upstream_url: `http://127.0.0.1:${upstreamPort}`,
        fprocess: `${process.execPath} index.js`,
        cgi_headers: "true",
        exec_timeout: "10s",
        write_timeout: "15s",
        read_timeout: "15s",
        prefix_logs: "false",
      },
      probeUrl: `http://127.0.0.1:${port}/`,
    });
    return {
      id: "openfaas",
      label: "OpenFaaS of-watchdog + node20 template",
      note: `of-watchdog 0.11.6 (built from ${peerArchives.ofWatchdog}), mode=http, forking the node20 template (express 4, ${peerArchives.openfaasNode20}) with bench/fixtures/openfaas/handler.js`,
      server: removingOnStop(server, root),
      url: server.url,
      pid: server.child.pid ?? 0,
    };
  } catch (error) {
    await rm(root, { recursive: true, force: true });
    throw error;
  }
}

/**
 * Fission's Node.js environment as a pod runs it: the generic server starts, then
 * `POST /v2/specialize` loads the function (bench/fixtures/fission/hello.js) into it.
 */
async function startFission(): Promise<Target> {
  const env = await prepareFissionNode();
  if (!env.ok) {
    throw new Error(`Fission Node.js environment: ${env.reason}`);
  }
  const { root, appDir } = env.value;
  try {
    const functionDir = join(root, "userfunc");
    await mkdir(functionDir);
    await copyFile(`${fixtures}fission/hello.js`, join(functionDir, "hello.js"));
    const port = await freePort();
    const server = await spawnServer({
      name: "Fission nodejs env",
      command: process.execPath,
      args: ["server.js", "--port", String(port)],
      cwd: appDir,
      // A generic server answers 500 to calls until it is specialized; any answer means it is up.
      probeUrl: `http://127.0.0.1:${port}/`,
      ready: () => true,
    });
    const specialized = await fetch(`http://127.0.0.1:${port}/v2/specialize`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ filepath: join(functionDir, "hello.js"), functionName: "hello" }),
    });
    if (specialized.status !== 202) {
      await server.stop();
      throw new Error(
        `POST /v2/specialize answered ${specialized.status}: ${await specialized.text()}`,
      );
    }
    return {
      id: "fission",
      label: "Fission Node.js environment",
      note: `server.js of ${peerArchives.fissionNode} (express 5, Node 20 here where it asks for 22), specialized with bench/fixtures/fission/hello.js by POST /v2/specialize`,
      server: removingOnStop(server, root),
      url: server.url,
      pid: server.child.pid ?? 0,
    };
  } catch (error) {
    await rm(root, { recursive: true, force: true });
    throw error;
  }
}

export async function runWarmPath(options: WarmPathOptions): Promise<WarmPathResult> {
  const { log } = options;
  const skipped: { id: string; label: string; reason: string }[] = [];
  log("warm path: starting servers");
  await options.runlet.deploy("hello", `${fixtures}runlet/hello`, { scale: { min: 1 } });
  const targets: Target[] = [];
  try {
    targets.push(await startRaw());
    targets.push({
      id: "runlet",
      label: "Runlet gateway",
      note: "`ANY /function/hello`, bench/fixtures/runlet/hello, default scale (concurrency 50 per instance)",
      url: `${options.runlet.url}/function/hello`,
      pid: options.runlet.child.pid ?? 0,
    });
    const others: [Pick<Target, "id" | "label">, () => Promise<Target>][] = [
      [{ id: "pipe", label: "Node byte pipe + raw (one bare hop)" }, startBytePipe],
      [{ id: "knative", label: "Knative faas-js-runtime" }, startKnative],
      [{ id: "gcf", label: "Google functions-framework" }, startFunctionsFramework],
      [{ id: "openfaas", label: "OpenFaaS of-watchdog + node20 template" }, startOpenfaas],
      [{ id: "fission", label: "Fission Node.js environment" }, startFission],
    ];
    for (const [{ id, label }, start] of others) {
      try {
        targets.push(await start());
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        log(`  ${label}: not available (${reason})`);
        skipped.push({ id, label, reason });
      }
    }

    for (const target of targets) {
      log(`  warm-up ${target.label}`);
      const warm = await runWrk({ url: target.url, connections: 50, durationS: options.warmupS });
      if (warm.ok === 0) {
        throw new Error(`${target.label} answered no request with a 2xx during warm-up`);
      }
    }

    const samples = new Map<string, Sample[]>();
    const key = (id: string, c: number): string => `${id}@${c}`;
    for (let rep = 1; rep <= options.repeats; rep += 1) {
      for (const connections of options.connections) {
        for (const target of targets) {
          const cpuBefore = cpuOf(target);
          const result = await runWrk({
            url: target.url,
            connections,
            durationS: options.durationS,
          });
          const cpuAfter = cpuOf(target);
          const perRequest = (s: number): number => (s * 1e6) / Math.max(1, result.ok);
          const list = samples.get(key(target.id, connections)) ?? [];
          list.push({
            ...result,
            frontUs: perRequest(cpuAfter.front - cpuBefore.front),
            behindUs: perRequest(cpuAfter.behind - cpuBefore.behind),
          });
          samples.set(key(target.id, connections), list);
          log(
            `  [${rep}/${options.repeats}] c=${String(connections).padStart(3)} ${target.label.padEnd(40)} ` +
              `${Math.round(result.rps).toString().padStart(6)} req/s  p50 ${result.p50.toFixed(2)} ms  ` +
              `p99 ${result.p99.toFixed(2)} ms${result.non2xx + result.errors > 0 ? `  failed ${result.non2xx + result.errors}` : ""}`,
          );
        }
      }
    }

    const checkConnections = 50;
    const check = { raw: [] as LoadResult[], runlet: [] as LoadResult[] };
    for (let rep = 1; rep <= options.repeats; rep += 1) {
      for (const id of ["raw", "runlet"] as const) {
        const target = targets.find((t) => t.id === id);
        if (!target) {
          continue;
        }
        const result = await runLoad({
          url: target.url,
          connections: checkConnections,
          durationS: options.durationS,
        });
        check[id].push(result);
        log(
          `  [${rep}/${options.repeats}] c=${checkConnections} ${`${target.label}, autocannon`.padEnd(40)} ` +
            `${Math.round(result.rps).toString().padStart(6)} req/s`,
        );
      }
    }

    return {
      autocannonCheck: {
        connections: checkConnections,
        rawRps: spread(check.raw.map((r) => r.rps)),
        runletRps: spread(check.runlet.map((r) => r.rps)),
        ratio: spread(check.runlet.map((r, i) => r.rps / (check.raw[i]?.rps ?? Number.NaN))),
        generatorCpu: spread(check.raw.map((r) => r.generatorCpu)),
      },
      settings: {
        durationS: options.durationS,
        repeats: options.repeats,
        connections: options.connections,
      },
      skipped,
      targets: targets.map((target) => ({
        id: target.id,
        label: target.label,
        note: target.note,
        levels: options.connections.map((connections) => {
          const runs = samples.get(key(target.id, connections)) ?? [];
          const floor = samples.get(key("raw", connections)) ?? [];
          return {
            connections,
            rps: spread(runs.map((r) => r.rps)),
            p50: spread(runs.map((r) => r.p50)),
            p99: spread(runs.map((r) => r.p99)),
            ratioToFloor: spread(runs.map((r, i) => r.rps / (floor[i]?.rps ?? Number.NaN))),
            failed: runs.reduce((sum, r) => sum + r.non2xx + r.errors, 0),
            generatorCpu: spread(runs.map((r) => r.generatorCpu)),
            cpuUs: {
              total: spread(runs.map((r) => r.frontUs + r.behindUs)),
              front: spread(runs.map((r) => r.frontUs)),
              behind: spread(runs.map((r) => r.behindUs)),
            },
          };
        }),
      })),
    };
  } finally {
    await Promise.all(targets.map((t) => t.server?.stop()));
  }
}
