/**
 * `node --import tsx bench/dashboard-screenshot.ts [OUT.png]`: the README's picture of a
 * function's page (docs/dashboard-function-page.png). A Runlet with 1 s history steps, a
 * function with two revisions, a secret and a route, and a couple of minutes of uneven
 * traffic (some 4xx and 5xx) and an async call, then the page in chromium after one call
 * from its form.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { packDirectory } from "../src/packaging/pack.js";
import { startRunlet } from "../src/gateway/start.js";

const out = process.argv[2] ?? "docs/dashboard-function-page.png";
const trafficSeconds = 150;
const token = "screenshot-token";
const root = await mkdtemp(join(tmpdir(), "runlet-shot-"));
const runlet = await startRunlet({
  dataDir: join(root, "data"),
  port: 0,
  adminToken: token,
  historyStepMs: 1000,
});
const api = (path: string, init: RequestInit = {}) =>
  fetch(`${runlet.url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) },
  });
const handler = (version: number) => `export default async (event, context) => {
  const item = event.query.item ?? "book";
  if (item === "missing") {
    console.log("no such item:", item);
    return { statusCode: 404, body: { error: "no such item" } };
  }
  if (Math.random() < 0.02) {
    console.error("payment provider timed out for", item);
    return { statusCode: 502, body: { error: "payment provider timed out" } };
  }
  await new Promise((resolve) => setTimeout(resolve, 2 + Math.random() * ${version === 2 ? 12 : 6}));
  console.log("checked out", item, "v${version}");
  return { ok: true, item, version: ${version} };
};
`;
try {
  await api("/api/v1/secrets/payments-key", {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ value: "not-a-real-key" }),
  });
  for (const version of [1, 2]) {
    const source = join(root, `v${version}`);
    await mkdir(source);
    await writeFile(join(source, "index.js"), handler(version));
    const packed = await packDirectory(source);
    await api("/api/v1/packages", {
      method: "POST",
      headers: { "content-type": "application/gzip" },
      body: packed.archive,
    });
    await api("/api/v1/functions/checkout", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        runtime: "node",
        package: packed.digest,
        secrets: ["payments-key"],
        env: { CURRENCY: "EUR" },
        timeout: "10s",
        memory: "128Mi",
        scale: { min: 0, max: 4, concurrency: 2 },
        triggers: [{ http: "POST /shop/checkout" }],
      }),
    });
  }
  // Uneven traffic: a slow swell and a burst, a few bad requests.
  const started = Date.now();
  let sent = 1;
  while (Date.now() - started < trafficSeconds * 1000) {
    const t = (Date.now() - started) / 1000;
    const rate = 6 + 5 * Math.sin(t / 20) + (t > 90 && t < 110 ? 18 : 0);
    const batch = Array.from({ length: Math.max(1, Math.round(rate / 4)) }, (_, i) =>
      fetch(
        `${runlet.url}/function/checkout?item=${(sent + i) % 23 === 0 ? "missing" : "book"}`,
      ).then((r) => r.arrayBuffer()),
    );
    await Promise.all(batch);
    sent += batch.length;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  await fetch(`${runlet.url}/async-function/checkout?item=gift-card`, { method: "POST" });

  const browser = await chromium.launch({
    executablePath: process.env["RUNLET_CHROMIUM"] ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu"],
  });
  const page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
  await page.goto(`${runlet.url}/ui/`);
  await page.getByLabel("Token").fill(token);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("heading", { name: "Functions" }).waitFor();
  await page.goto(`${runlet.url}/ui/#/functions/checkout`);
  await page.getByLabel("Path").fill("?item=lamp");
  await page.getByRole("button", { name: "Send" }).click();
  await page.locator('[data-field="body"]').waitFor();
  await page.locator(".log-line").first().waitFor();
  await page.locator("tr[data-call]").first().waitFor();
  await page.waitForTimeout(2500);
  await page.screenshot({ path: out, fullPage: true });
  await browser.close();
  console.log(`wrote ${out}`);
} finally {
  await runlet.close(1000);
  await rm(root, { recursive: true, force: true });
}
