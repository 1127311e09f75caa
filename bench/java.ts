/**
 * `node --import tsx bench/java.ts [--calls 40] [--spring-calls 20] [--skip-warm]`:
 * Java functions (issue 19). Cold starts from the warm pool through the gateway for a plain
 * handler (javac build) and for a springboot template function (Spring Boot started at
 * specialize), each against a plain `java -jar` start of the same code (JDK HTTP server, spawn
 * to first answer), interleaved with them; then warm-path requests/s of the plain Java handler beside the Node
 * runtime's hello world, through the gateway with wrk. Prints tables for docs/benchmarks.md
 * and the load average at start and end. Run `npm run build` first.
 */
import { execFileSync, spawn } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { homedir, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { javaRuntime, springBootVersion } from "../src/host/java-runtime.js";
import { startRunletProcess, type RunletProcess } from "./lib/runlet-api.js";
import { freePort } from "./lib/servers.js";
import { fmt, percentile } from "./lib/stats.js";
import { table } from "./lib/table.js";
import { runWrk } from "./lib/wrk.js";

const { values } = parseArgs({
  options: {
    calls: { type: "string", default: "40" },
    "spring-calls": { type: "string", default: "20" },
    "pool-size": { type: "string", default: "4" },
    "skip-warm": { type: "boolean", default: false },
  },
});
const poolSize = Number(values["pool-size"]);
const fixtures = fileURLToPath(new URL("./fixtures/", import.meta.url));
const buildCacheDir = join(homedir(), ".cache", "runlet", "bench-build-cache");
const functions = 10;
const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(", ");

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check()) && Date.now() < deadline) {
    await sleep(50);
  }
}

async function poolIdle(runlet: RunletProcess, runtime: string): Promise<number> {
  const text = await (await fetch(`${runlet.url}/metrics`)).text();
  const line = text
    .split("\n")
    .find((l) => l.startsWith(`runlet_warm_pool_idle{runtime="${runtime}"}`));
  return line === undefined ? 0 : Number(line.split(" ").at(-1));
}

async function scaledToZero(runlet: RunletProcess, name: string): Promise<boolean> {
  const status = await runlet.status(name);
  return status.instances.every((i) => i.replicas === 0);
}

interface Samples {
  readonly client: number[];
  readonly gateway: number[];
}

/** Calls each of `names` scaled to zero with a full Java pool, `calls` times in all. */
async function poolColdStarts(
  runlet: RunletProcess,
  names: readonly string[],
  calls: number,
  init: RequestInit,
  label: string,
  /** Run with the pool full, before each cold call (the interleaved `java -jar` start). */
  beside: () => Promise<void>,
): Promise<Samples> {
  const samples: Samples = { client: [], gateway: [] };
  while (samples.client.length < calls) {
    await until(async () => {
      const all = await Promise.all(names.map((name) => scaledToZero(runlet, name)));
      return all.every(Boolean);
    }, 60_000);
    for (const name of names) {
      if (samples.client.length >= calls) {
        break;
      }
      await until(async () => (await poolIdle(runlet, "java")) >= poolSize, 30_000);
      await beside();
      await sleep(200);
      const t0 = performance.now();
      const response = await fetch(`${runlet.url}/function/${name}`, init);
      const text = await response.text();
      if (response.status !== 200) {
        throw new Error(`${name}: ${response.status} ${text}`);
      }
      samples.client.push(performance.now() - t0);
      samples.gateway.push(Number(response.headers.get("x-duration-seconds")) * 1000);
    }
    console.log(
      `${label}: ${samples.client.length}/${calls} p50 ${fmt(percentile(samples.client, 50))} ms (load ${load()})`,
    );
  }
  return samples;
}

/** Spawn of `java -jar` to its first answer on the port, `runs` times. */
async function jarStart(jar: string, args: readonly string[], times: number[]): Promise<void> {
  const java = javaRuntime().java;
  {
    const port = await freePort();
    const t0 = performance.now();
    const child = spawn(java, ["-jar", jar, String(port), ...args], { stdio: "ignore" });
    try {
      for (;;) {
        try {
          const response = await fetch(`http://127.0.0.1:${port}/`, {
            method: "POST",
            body: "Ada",
          });
          await response.arrayBuffer();
          if (response.ok) {
            break;
          }
        } catch {
          // Not listening yet.
        }
        if (performance.now() - t0 > 60_000) {
          throw new Error(`java -jar ${jar} did not answer in 60 s`);
        }
        await sleep(5);
      }
      times.push(performance.now() - t0);
    } finally {
      child.kill("SIGKILL");
      await new Promise((resolve) => child.once("exit", resolve));
    }
    await sleep(200);
  }
}

/** The jars for `java -jar`: the plain handler, and the springboot function with Spring Boot's jars. */
function buildJars(dir: string): { plain: string; spring: string } {
  const runtime = javaRuntime();
  const jarTool = join(runtime.home, "bin", "jar");
  const javac = (out: string, cp: string, files: string[]): void => {
    execFileSync(runtime.javac, ["--release", "17", "-cp", cp, "-d", out, ...files], {
      stdio: "inherit",
    });
  };
  const api = join(dir, "runlet-java-api.jar");
  copyFileSync(runtime.apiJar, api);
  copyFileSync(runtime.springBootJar, join(dir, "runlet-springboot.jar"));
  const main = join(fixtures, "java-main", "PlainMain.java");
  const makeJar = (name: string, classes: string, classPath: string[]): string => {
    const manifest = join(dir, `${name}.mf`);
    // Manifest lines are at most 72 bytes: continuation lines start with a space.
    const entries = `Class-Path: ${classPath.join(" ")}`;
    const wrapped = entries.match(/.{1,70}/g)?.join("\n ") ?? entries;
    writeFileSync(manifest, `Main-Class: PlainMain\n${wrapped}\n`);
    const jar = join(dir, `${name}.jar`);
    execFileSync(jarTool, ["--create", "--file", jar, "--manifest", manifest, "-C", classes, "."]);
    return jar;
  };
  const plainClasses = join(dir, "plain");
  javac(plainClasses, api, [join(fixtures, "runlet", "hello-java", "Handler.java"), main]);
  const plain = makeJar("plain", plainClasses, ["runlet-java-api.jar"]);

  // Spring Boot's jars as the build resolves them (the same Maven repository and plugin).
  const pom = join(dir, "spring-pom.xml");
  writeFileSync(
    pom,
    `<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion><groupId>bench</groupId><artifactId>spring</artifactId><version>1</version><dependencies><dependency><groupId>org.springframework.boot</groupId><artifactId>spring-boot-starter</artifactId><version>${springBootVersion}</version></dependency></dependencies></project>`,
  );
  const lib = join(dir, "lib");
  execFileSync(
    "mvn",
    [
      "-q",
      "-B",
      "-f",
      pom,
      `-Dmaven.repo.local=${join(buildCacheDir, "maven", "repository")}`,
      "org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies",
      "-DincludeScope=runtime",
      `-DoutputDirectory=${lib}`,
    ],
    { stdio: "inherit" },
  );
  const springClasses = join(dir, "spring");
  const source = join(fixtures, "java-springboot", "src", "main", "java", "function");
  javac(springClasses, api, [
    join(source, "Handler.java"),
    join(source, "RequestHandler.java"),
    main,
  ]);
  const libs = readdirSync(lib)
    .filter((name) => name.endsWith(".jar"))
    .sort()
    .map((name) => `lib/${name}`);
  const spring = makeJar("spring", springClasses, [
    "runlet-java-api.jar",
    "runlet-springboot.jar",
    ...libs,
  ]);
  return { plain, spring };
}

const started = load();
const coldRows: string[][] = [];
const warmRows: string[][] = [];
const calls = Number(values.calls);
const springCalls = Number(values["spring-calls"]);
mkdirSync(buildCacheDir, { recursive: true });
const runlet = await startRunletProcess({ poolSize, buildCacheDir });
const work = mkdtempSync(join(tmpdir(), "runlet-bench-java-"));
try {
  const plainNames = Array.from({ length: functions }, (_, i) => `java-cold-${i}`);
  const springNames = Array.from({ length: functions / 2 }, (_, i) => `spring-cold-${i}`);
  const scaleToZero = { min: 0, idleTimeout: "1s", window: "2s" };
  for (const name of plainNames) {
    await runlet.deploy(name, `${fixtures}runlet/hello-java`, {
      runtime: "java",
      scale: scaleToZero,
    });
  }
  for (const name of springNames) {
    await runlet.deploy(name, `${fixtures}java-springboot`, {
      runtime: "java",
      compat: "openfaas-springboot",
      handler: "function.Handler",
      scale: scaleToZero,
    });
  }
  console.log(`deployed (load ${load()})`);
  // Interleaved: each cold call from the pool follows a `java -jar` start of the same code, so
  // both see the same load on this shared machine.
  const jars = buildJars(work);
  const plainJar: number[] = [];
  const plain = await poolColdStarts(runlet, plainNames, calls, {}, "plain handler", () =>
    jarStart(jars.plain, [], plainJar),
  );
  const springJar: number[] = [];
  const spring = await poolColdStarts(
    runlet,
    springNames,
    springCalls,
    { method: "POST", body: "Ada" },
    "springboot",
    () => jarStart(jars.spring, ["spring"], springJar),
  );
  const row = (what: string, how: string, s: Samples | number[]): string[] => {
    const client = Array.isArray(s) ? s : s.client;
    return [
      what,
      how,
      String(client.length),
      fmt(percentile(client, 50)),
      fmt(percentile(client, 99)),
      Array.isArray(s) ? "–" : fmt(percentile(s.gateway, 50)),
    ];
  };
  coldRows.push(
    row("plain handler", "Runlet, from the warm pool", plain),
    row("plain handler", "`java -jar`", plainJar),
    row("springboot template", "Runlet, from the warm pool", spring),
    row("springboot template", "`java -jar`", springJar),
  );

  if (!values["skip-warm"]) {
    await runlet.deploy("warm-java", `${fixtures}runlet/hello-java`, {
      runtime: "java",
      scale: { min: 1 },
    });
    await runlet.deploy("warm-node", `${fixtures}runlet/hello`, {
      runtime: "node",
      scale: { min: 1 },
    });
    for (const name of ["warm-java", "warm-node"]) {
      await fetch(`${runlet.url}/function/${name}`).then((r) => r.arrayBuffer());
    }
    for (const connections of [1, 10, 50]) {
      for (const [runtime, name] of [
        ["java", "warm-java"],
        ["node", "warm-node"],
      ] as const) {
        const url = `${runlet.url}/function/${name}`;
        await runWrk({ url, connections, durationS: 2 });
        const rps: number[] = [];
        const p50: number[] = [];
        const p99: number[] = [];
        for (let repeat = 0; repeat < 3; repeat += 1) {
          const result = await runWrk({ url, connections, durationS: 3 });
          if (result.non2xx > 0 || result.errors > 0) {
            throw new Error(`${name}: ${result.non2xx} non-2xx, ${result.errors} errors`);
          }
          rps.push(result.rps);
          p50.push(result.p50);
          p99.push(result.p99);
        }
        warmRows.push([
          runtime,
          String(connections),
          `${fmt(percentile(rps, 50))} [${fmt(Math.min(...rps))}–${fmt(Math.max(...rps))}]`,
          fmt(percentile(p50, 50)),
          fmt(percentile(p99, 50)),
        ]);
        console.log(`warm ${runtime} c=${connections}: ${fmt(percentile(rps, 50))} req/s`);
      }
    }
  }
} finally {
  await runlet.stop();
  rmSync(work, { recursive: true, force: true });
}
console.log(`\nload average at the start ${started}, at the end ${load()}\n`);
console.log(
  table(["function", "started by", "cold calls", "p50 ms", "p99 ms", "gateway p50 ms"], coldRows),
);
if (warmRows.length > 0) {
  console.log("");
  console.log(
    table(["runtime", "connections", "req/s median [min–max]", "p50 ms", "p99 ms"], warmRows),
  );
}
