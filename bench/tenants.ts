/**
 * `node --import tsx bench/tenants.ts [--seconds 15] [--quiet-connections 2] [--noisy-connections 64]`:
 * two tenants on one platform (issue 18). Namespace team-quiet calls its function at a steady
 * closed-loop rate; namespace team-noisy bursts at its own function of the same name and the
 * same work (2 ms of CPU a call) from a separate load process. The quiet tenant's p50/p99 is
 * measured alone, beside the burst with no quota, and beside the burst with team-noisy held to
 * an instances quota of 1 (namespace team-held, the same function and burst). Prints the table for docs/benchmarks.md and the load average at start
 * and end. Run `npm run build` first.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { runLoad, type LoadResult } from "./lib/load.js";
import { startRunletProcess } from "./lib/runlet-api.js";
import { fmt } from "./lib/stats.js";
import { table } from "./lib/table.js";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "15" },
    "quiet-connections": { type: "string", default: "2" },
    "noisy-connections": { type: "string", default: "64" },
    /** Internal: run only the noisy tenant's load against this URL, for this many seconds. */
    noise: { type: "string" },
  },
});
const seconds = Number(values.seconds);

if (values.noise !== undefined) {
  // The burst runs in its own process, so its load generator takes no CPU from the quiet one's.
  const result = await runLoad({
    url: values.noise,
    connections: Number(values["noisy-connections"]),
    durationS: seconds,
  });
  console.log(JSON.stringify({ ok: result.ok, non2xx: result.non2xx, rps: result.rps }));
  process.exit(0);
}

const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(", ");
const log = (line: string): void => console.error(`[tenants] ${line}`);

const source = mkdtempSync(join(tmpdir(), "runlet-bench-tenant-"));
writeFileSync(
  join(source, "index.js"),
  // The same work for both tenants: 2 ms of CPU, then a short answer.
  `export default async () => {
  const end = performance.now() + 2;
  while (performance.now() < end) {}
  return "ok";
};\n`,
);

const loadStart = load();
const runlet = await startRunletProcess({ poolSize: 2 });
try {
  const spec = { scale: { min: 1, max: 8, concurrency: 1 } };
  await runlet.deploy("work?namespace=team-quiet", source, spec);
  await runlet.deploy("work?namespace=team-noisy", source, spec);
  // The same burst from a tenant held by a quota from the start.
  const quota = await runlet.api("/api/v1/namespaces/team-held/quota", {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ instances: 1 }),
  });
  if (!quota.ok) {
    throw new Error(`quota: ${quota.status} ${await quota.text()}`);
  }
  await runlet.deploy("work?namespace=team-held", source, spec);
  const quietUrl = `${runlet.url}/function/work.team-quiet`;
  const noisyUrl = `${runlet.url}/function/work.team-noisy`;
  const heldUrl = `${runlet.url}/function/work.team-held`;
  const quiet = (): Promise<LoadResult> =>
    runLoad({
      url: quietUrl,
      connections: Number(values["quiet-connections"]),
      durationS: seconds,
    });
  const burst = (
    url: string,
  ): {
    done: Promise<{ ok: number; non2xx: number; rps: number }>;
  } => {
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        fileURLToPath(import.meta.url),
        "--noise",
        url,
        "--seconds",
        String(seconds + 2),
        "--noisy-connections",
        String(values["noisy-connections"]),
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    return {
      done: new Promise((resolve, reject) =>
        child.on("close", (code) =>
          code === 0
            ? resolve(JSON.parse(out) as { ok: number; non2xx: number; rps: number })
            : reject(new Error(`noise load exited ${code}`)),
        ),
      ),
    };
  };

  // Warm both functions before measuring.
  await runLoad({ url: quietUrl, connections: 2, durationS: 2 });
  await runLoad({ url: noisyUrl, connections: 2, durationS: 2 });

  log("quiet tenant alone");
  const alone = await quiet();

  log("quiet tenant beside the burst, no quota");
  const unbounded = burst(noisyUrl);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const beside = await quiet();
  const unboundedNoise = await unbounded.done;

  log("quiet tenant beside the same burst from team-held, held to 1 instance");
  const bounded = burst(heldUrl);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const held = await quiet();
  const boundedNoise = await bounded.done;

  const row = (
    what: string,
    result: LoadResult,
    noise?: { rps: number; non2xx: number },
  ): string[] => [
    what,
    fmt(result.rps),
    fmt(result.p50, "ms"),
    fmt(result.p99, "ms"),
    `${(result.p99 / alone.p99).toFixed(2)}×`,
    noise === undefined ? "–" : `${fmt(noise.rps)} (${noise.non2xx} non-2xx)`,
  ];
  console.log(
    table(
      ["team-quiet's calls", "req/s", "p50", "p99", "p99 vs alone", "team-noisy's burst req/s"],
      [
        row("alone", alone),
        row(
          `beside a ${values["noisy-connections"]}-connection burst, no quota`,
          beside,
          unboundedNoise,
        ),
        row("beside the same burst from a namespace with quota instances: 1", held, boundedNoise),
      ],
    ),
  );
  console.log(`\nload average at start ${loadStart}; at end ${load()}`);
} finally {
  await runlet.stop();
}
