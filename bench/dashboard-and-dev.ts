/**
 * `node --import tsx bench/dashboard-and-dev.ts`: the numbers of issue 20 that `npm run bench`
 * does not take: the dashboard's bundle size, its first load in chromium (cold cache, over
 * loopback), and `runlet dev`'s edit-to-serving time for a Node function without dependencies
 * (file written → the first answer from the new code, polled every 2 ms). Prints a Markdown
 * section for docs/benchmarks.md; it needs `npm run build` first (dist/ui) and chromium.
 */
import { mkdtemp, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { brotliCompressSync, gzipSync } from "node:zlib";
import { chromium } from "playwright-core";
import { GatewayClient } from "../src/cli/client.js";
import { runDevLoop } from "../src/cli/dev-loop.js";
import { startRunlet } from "../src/gateway/start.js";

const edits = 15;
const loads = 10;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function spread(values: readonly number[]): string {
  return `${median(values).toFixed(0)} ms [${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)}]`;
}

const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

const root = await mkdtemp(join(tmpdir(), "runlet-bench-ui-"));
const token = "bench-token";
const runlet = await startRunlet({ dataDir: join(root, "data"), port: 0, adminToken: token });
try {
  // Bundle: what a first visit downloads.
  const assetsDir = join("dist", "ui", "assets");
  const files = [
    join("dist", "ui", "index.html"),
    ...(await readdir(assetsDir)).map((f) => join(assetsDir, f)),
  ];
  let raw = 0;
  let gzip = 0;
  let brotli = 0;
  for (const file of files) {
    const bytes = await readFile(file);
    raw += bytes.length;
    gzip += gzipSync(bytes, { level: 9 }).length;
    brotli += brotliCompressSync(bytes).length;
  }

  // First load: a new browser context each time (empty cache), to the login form drawn.
  const browser = await chromium.launch({
    executablePath: process.env["RUNLET_CHROMIUM"] ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu"],
  });
  const loadMs: number[] = [];
  const listMs: number[] = [];
  const pageMs: number[] = [];
  for (let i = 0; i < loads; i++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    const started = performance.now();
    await page.goto(`${runlet.url}/ui/`);
    await page.getByLabel("Token").waitFor();
    loadMs.push(performance.now() - started);
    // The browser's own clock: from the start of the navigation to the form in the page.
    const inPage = await page.waitForFunction(() => {
      const page = globalThis as unknown as {
        document: { querySelector(selector: string): unknown };
        performance: { now(): number };
      };
      return page.document.querySelector("input[name=token]") ? page.performance.now() : false;
    });
    pageMs.push(Number(await inPage.jsonValue()));
    await page.getByLabel("Token").fill(token);
    const loggingIn = performance.now();
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByRole("heading", { name: "Functions" }).waitFor();
    listMs.push(performance.now() - loggingIn);
    await context.close();
  }
  await browser.close();

  // runlet dev: edit → new code answering.
  const source = join(root, "hello");
  await mkdir(source);
  const handler = join(source, "index.js");
  const code = (n: number) => `export default async () => "v${n}";\n`;
  await writeFile(handler, code(0));
  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const deployed: number[] = [];
  let revisions = 0;
  const loop = runDevLoop({
    client: new GatewayClient({ gateway: runlet.url, token }),
    fn: { name: "hello", source, spec: { runtime: "node" } },
    stop: stopped,
    report: (event) => {
      if (event.type === "deployed") {
        revisions += 1;
        if (event.sinceChangeMs !== undefined) {
          deployed.push(event.sinceChangeMs);
        }
      } else if (event.type === "failed") {
        throw event.error;
      }
    },
  });
  while (revisions === 0) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const servingMs: number[] = [];
  for (let n = 1; n <= edits; n++) {
    const started = performance.now();
    await writeFile(handler, code(n));
    for (;;) {
      const answer = await (await fetch(`${runlet.url}/function/hello`)).text();
      if (answer === `v${n}`) {
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    servingMs.push(performance.now() - started);
    // Let the old revision's instance stop before the next edit, as between two saves.
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  stop();
  await loop;

  console.log(`## Dashboard and developer loop (issue 20)

Measured with \`node --import tsx bench/dashboard-and-dev.ts\` (after \`npm run build\`), on the machine above.

| figure | measured (median [min–max]) |
| --- | --- |
| dashboard bundle, all of dist/ui (${files.length} files) | ${kib(raw)} raw, ${kib(gzip)} gzip, ${kib(brotli)} brotli (served brotli or gzip) |
| first load, cold cache, to the login form (${loads} loads, chromium ${browser.version()}) | ${spread(loadMs)} |
| the same, by the page's own clock (navigation start → form in the page) | ${spread(pageMs)} |
| log in to the functions list drawn | ${spread(listMs)} |
| \`runlet dev\`: file saved → new code answering (${edits} edits, Node, no dependencies) | ${spread(servingMs)} |
| of which \`runlet dev\` reports (change seen → deploy answered) | ${spread(deployed)} |

The edit-to-serving time includes the 30 ms debounce that gathers an editor's writes into one deploy, the pack, upload and deploy, and loading the new code into an instance from the warm pool before the function points at it.`);
} finally {
  await runlet.close(1000);
  await rm(root, { recursive: true, force: true });
}
