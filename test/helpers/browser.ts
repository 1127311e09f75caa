/**
 * A real browser for the dashboard's tests: Debian's chromium (installed by
 * scripts/test-setup.mjs), driven by playwright-core, which downloads no browser of its own.
 * A browser that cannot start fails the test that asked for it: the dashboard is not tested
 * without one.
 */
import { existsSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";
import { onTestFinished } from "vitest";

/** Where Debian puts chromium; RUNLET_CHROMIUM names another. */
export const chromiumPath = process.env["RUNLET_CHROMIUM"] ?? "/usr/bin/chromium";

let shared: Promise<Browser> | undefined;

/** One browser per test file, started on first use and closed when the process ends. */
export function browser(): Promise<Browser> {
  if (!existsSync(chromiumPath)) {
    throw new Error(
      `No chromium at ${chromiumPath}: the dashboard tests need it. Install it with: apt-get install chromium (npm test does), or set RUNLET_CHROMIUM.`,
    );
  }
  shared ??= chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    // The suite runs as root in CI, where chromium refuses its own sandbox.
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
  });
  return shared;
}

/** A fresh page (own context: own sessionStorage) closed at the end of the test. */
export async function newPage(): Promise<Page> {
  const context = await (await browser()).newContext({ viewport: { width: 1360, height: 900 } });
  onTestFinished(() => context.close());
  const page = await context.newPage();
  // A page error is a failed test, not a line nobody reads.
  const errors: Error[] = [];
  page.on("pageerror", (error) => errors.push(error));
  onTestFinished(() => {
    if (errors.length > 0) {
      throw new Error(`the page threw: ${errors.map((e) => e.message).join("; ")}`);
    }
  });
  return page;
}

/** Closes the shared browser (afterAll of each file). */
export async function closeBrowser(): Promise<void> {
  const started = shared;
  shared = undefined;
  await (await started)?.close();
}
