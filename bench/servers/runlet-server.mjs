/**
 * Runlet for the benchmarks, in its own process: the embedded platform on the port given in
 * RUNLET_BENCH_PORT with a fresh data directory, optionally a warm pool of RUNLET_BENCH_POOL_SIZE
 * generic instances per runtime. SIGTERM closes it and removes the data directory, unless it
 * was given in RUNLET_BENCH_DATA_DIR (kept, so a second process can reopen it).
 *
 * Plain JavaScript importing the build in dist/ (bench/run.ts builds it first), so the
 * benchmarks measure the code `runlet up` runs, not a TypeScript loader's output.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRunlet } from "../../dist/gateway/start.js";

const port = Number(process.env.RUNLET_BENCH_PORT ?? "0");
const adminToken = process.env.RUNLET_BENCH_TOKEN ?? "bench-admin-token";
const poolSizeText = process.env.RUNLET_BENCH_POOL_SIZE;
/** 0: async calls are stored but not run (to fill a queue before measuring its drain). */
const asyncConcurrency = process.env.RUNLET_BENCH_ASYNC_CONCURRENCY;
/** Build tools' caches (the Maven repository) kept across runs, as the test suite keeps its own. */
const buildCacheDir = process.env.RUNLET_BENCH_BUILD_CACHE_DIR;

const givenDataDir = process.env.RUNLET_BENCH_DATA_DIR;
const dataDir = givenDataDir ?? (await mkdtemp(join(tmpdir(), "runlet-bench-")));
// `poolSize` is newer than some trees this runs against; an older platform ignores it.
const options = {
  dataDir,
  port,
  adminToken,
  ...(poolSizeText === undefined ? {} : { poolSize: Number(poolSizeText) }),
  ...(asyncConcurrency === undefined
    ? {}
    : { calls: { maxConcurrency: Number(asyncConcurrency) } }),
  ...(buildCacheDir === undefined ? {} : { buildCacheDir }),
};
const runlet = await startRunlet(options);
console.log(JSON.stringify({ url: runlet.url }));

let closing = false;
const close = async () => {
  if (closing) {
    return;
  }
  closing = true;
  await runlet.close(2000);
  if (givenDataDir === undefined) {
    await rm(dataDir, { recursive: true, force: true });
  }
  process.exit(0);
};
process.on("SIGTERM", () => void close());
process.on("SIGINT", () => void close());
