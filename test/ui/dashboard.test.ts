/**
 * The dashboard at /ui in a real browser (issue 20): chromium, driven by playwright-core,
 * against a real Runlet with real instances. It logs in, deploys from the page, invokes,
 * watches the charts move, follows logs by call id, rolls back, and shows what functions
 * print as text, never as markup.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";
import { closeBrowser, newPage } from "../helpers/browser.js";
import { adminToken, startTestRunlet, tempDir, type TestRunlet } from "../helpers/runlet.js";

afterAll(closeBrowser);

/** Fast history steps, so a chart moves within the test. */
const start = () => startTestRunlet({ historyStepMs: 200 });

async function logIn(page: Page, runlet: TestRunlet): Promise<void> {
  await page.goto(`${runlet.url}/ui/`);
  await page.getByLabel("Token").fill(adminToken);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("heading", { name: "Functions" }).waitFor();
}

/** expect.poll with room for the page's own polling (every 2 s) and a loaded machine. */
function poll<T>(read: () => Promise<T> | T) {
  return expect.poll(read, { timeout: 20_000, interval: 100 });
}

/** The sum of what a chart draws, as its figure says. */
async function chartSum(page: Page, chart: string): Promise<number> {
  return Number(
    await page.locator(`figure[data-chart="${chart}"]`).first().getAttribute("data-sum"),
  );
}

describe("dashboard", () => {
  it("shows nothing without a token the gateway accepts, and keeps the token out of URLs", async () => {
    const runlet = await start();
    await runlet.deploy("secret-name-here", { "index.js": "export default async () => 'x';" });
    const page = await newPage();
    const urls: string[] = [];
    page.on("request", (request) => urls.push(request.url()));
    const answer = await page.goto(`${runlet.url}/ui`);
    expect(answer?.url()).toBe(`${runlet.url}/ui/`);
    expect(answer?.headers()["content-security-policy"]).toContain("script-src 'self'");
    expect(answer?.headers()["x-frame-options"]).toBe("DENY");
    await page.getByLabel("Token").fill("wrong-token");
    await page.getByRole("button", { name: "Log in" }).click();
    await poll(() => page.getByRole("alert").textContent()).toContain("refused that token");
    expect(await page.content()).not.toContain("secret-name-here");

    await page.getByLabel("Token").fill(adminToken);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.locator('tr[data-function="secret-name-here"]').waitFor();
    expect(urls.some((url) => url.includes(adminToken))).toBe(false);
    expect(page.url()).not.toContain(adminToken);

    // A reload keeps the session; logging out forgets it.
    await page.reload();
    await page.locator('tr[data-function="secret-name-here"]').waitFor();
    await page.getByRole("button", { name: "Log out" }).click();
    await page.getByLabel("Token").waitFor();
    await page.reload();
    await page.getByLabel("Token").waitFor();
    expect(
      await page.evaluate(
        () =>
          (globalThis as unknown as { sessionStorage: { length: number } }).sessionStorage.length,
      ),
    ).toBe(0);
  });

  it("shows one namespace: the admin token picks it, a team's token sees only its own", async () => {
    const runlet = await start();
    await runlet.deploy("home", { "index.js": "export default async () => 'home';" });
    await runlet.deploy("shop?namespace=team-a", {
      "index.js": "export default async () => 'shop of a';",
    });
    const page = await newPage();
    await logIn(page, runlet);
    await page.locator('tr[data-function="home"]').waitFor();
    expect(await page.locator('tr[data-function="shop"]').count()).toBe(0);
    await page.getByLabel("Namespace").selectOption("team-a");
    await page.locator('tr[data-function="shop"]').waitFor();
    expect(await page.locator('tr[data-function="home"]').count()).toBe(0);
    // The function's page calls it at NAME.NAMESPACE.
    await page.locator('tr[data-function="shop"] a').first().click();
    await poll(() => page.locator(".endpoint code").textContent()).toBe(
      `${runlet.url}/function/shop.team-a`,
    );

    // A viewer of team-a logs in to team-a, and is offered no other namespace.
    const made = await runlet.api("/api/v1/tokens", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "look-a", namespace: "team-a", role: "viewer" }),
    });
    const { token } = (await made.json()) as { token: string };
    const other = await newPage();
    await other.goto(`${runlet.url}/ui/`);
    await other.getByLabel("Token").fill(token);
    await other.getByRole("button", { name: "Log in" }).click();
    await other.locator('tr[data-function="shop"]').waitFor();
    expect(await other.locator("nav .namespace").textContent()).toBe("namespace team-a");
    expect(await other.locator('tr[data-function="home"]').count()).toBe(0);
  });

  it("deploys from the page, invokes, moves the charts, follows logs by call id, and rolls back", async () => {
    const runlet = await start();
    const page = await newPage();
    await logIn(page, runlet);

    await page.getByRole("link", { name: "Deploy", exact: true }).click();
    await page.getByLabel("Name", { exact: true }).fill("hello");
    await page
      .getByLabel("Code")
      .fill(
        'export default async (event, context) => { console.log("hello from " + event.query.who); return { version: 1, who: event.query.who }; };\n',
      );
    await page.getByRole("button", { name: "Deploy" }).click();
    await page.getByRole("heading", { name: "hello" }).waitFor();
    expect(await page.locator('[data-field="revision"]').textContent()).toBe("1");
    expect(page.url()).toContain("#/functions/hello");

    await page.getByLabel("Path").fill("?who=Ada");
    await page.getByRole("button", { name: "Send" }).click();
    const body = page.locator('[data-field="body"]');
    await poll(() => body.textContent()).toBe('{"version":1,"who":"Ada"}');
    expect(await page.locator('[data-field="status"]').textContent()).toBe("200");
    const firstCall = await page.locator('[data-field="call-id"]').textContent();
    expect(firstCall).toMatch(/^[\w.:-]+$/);

    // The call lands in the history: the requests chart and the cold-start chart move.
    await poll(() => chartSum(page, "requests")).toBeGreaterThan(0);
    await poll(() => chartSum(page, "cold-starts")).toBeGreaterThan(0);
    const before = await chartSum(page, "requests");
    for (let i = 0; i < 20; i++) {
      await fetch(`${runlet.url}/function/hello?who=load`);
    }
    await poll(() => chartSum(page, "requests")).toBeGreaterThan(before);

    // Sending set the log filter to its call: only that call's line shows.
    const logs = page.locator(".log-lines");
    await poll(() => logs.textContent()).toContain("hello from Ada");
    expect(await page.getByLabel("Call id").inputValue()).toBe(firstCall);
    expect(await logs.textContent()).not.toContain("hello from load");
    await page.getByRole("button", { name: "All calls" }).click();
    await poll(() => logs.textContent()).toContain("hello from load");
    await poll(() => page.locator("[data-state]").getAttribute("data-state")).toBe("following");
    await fetch(`${runlet.url}/function/hello?who=live`);
    await poll(() => logs.textContent()).toContain("hello from live");

    // A second revision, deployed elsewhere, shows up; roll back to the first from the page.
    const second = await runlet.deploy("hello", {
      "index.js": "export default async () => ({ version: 2 });",
    });
    expect(await second.json()).toMatchObject({ revision: 2 });
    await poll(() => page.locator('[data-field="revision"]').textContent()).toBe("2");
    await page.getByRole("button", { name: "Roll back to 1" }).click();
    await poll(() => page.locator('[data-field="revision"]').textContent()).toBe("1");
    expect(await (await fetch(`${runlet.url}/function/hello?who=x`)).json()).toEqual({
      version: 1,
      who: "x",
    });
    await page
      .locator('tr[data-revision="2"]')
      .getByRole("button", { name: "Roll back to 2" })
      .waitFor();

    // The list shows it live, with its traffic.
    await page.getByRole("link", { name: "Functions", exact: true }).click();
    const row = page.locator('tr[data-function="hello"]');
    await poll(() => row.locator('[data-field="rps"]').textContent()).not.toBe("0");
    expect(await row.textContent()).toContain("ready");

    const screenshot = process.env["RUNLET_UI_SCREENSHOT"];
    if (screenshot) {
      await page.goto(`${runlet.url}/ui/#/functions/hello`);
      await poll(() => chartSum(page, "latency")).toBeGreaterThan(0);
      await page.getByLabel("Path").fill("?who=Grace");
      await page.getByRole("button", { name: "Send" }).click();
      await poll(() => page.locator(".log-lines").textContent()).toContain("Grace");
      await page.screenshot({ path: screenshot, fullPage: true });
    }
  });

  it("renders what a function prints and answers as text, never as markup", async () => {
    const runlet = await start();
    const markup = '<img src=x onerror="window.__pwned=1"><b>bold</b>';
    await runlet.deploy("echo", {
      "index.js": `export default async () => { console.log(${JSON.stringify(markup)}); return { statusCode: 200, headers: { "content-type": "text/html", "x-evil": ${JSON.stringify(markup)} }, body: ${JSON.stringify(markup)} }; };`,
    });
    const page = await newPage();
    await logIn(page, runlet);
    await page.goto(`${runlet.url}/ui/#/functions/echo`);
    await page.getByRole("button", { name: "Send" }).click();
    const body = page.locator('[data-field="body"]');
    await poll(() => body.textContent()).toBe(markup);
    await page.getByText(/\d+ headers/).click();
    await poll(() => page.locator("table.headers").textContent()).toContain(markup);
    await poll(() => page.locator(".log-lines").textContent()).toContain(markup);
    // Nothing of it became an element, and nothing ran.
    expect(await page.locator("main img, main b").count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned)).toBeUndefined();
  });

  it("queues an async call from the form and shows its state and result", async () => {
    const runlet = await start();
    await runlet.deploy("later", {
      "index.js": "export default async (event) => ({ got: event.body });",
    });
    const page = await newPage();
    await logIn(page, runlet);
    await page.goto(`${runlet.url}/ui/#/functions/later`);
    await page.getByLabel("async", { exact: true }).check();
    await page.getByLabel("Headers").fill("Content-Type: application/json");
    await page.getByLabel("Body").fill('{"n":7}');
    await page.getByRole("button", { name: "Send" }).click();
    await poll(() => page.locator('[data-field="status"]').textContent()).toBe("202");
    const callId = (await page.locator('[data-field="call-id"]').textContent()) ?? "";
    const row = page.locator(`tr[data-call="${callId}"]`);
    await poll(() => row.textContent()).toContain("succeeded");
    await row.getByRole("button").click();
    await poll(() => page.locator('[data-field="call-body"]').textContent()).toBe(
      '{"got":{"n":7}}',
    );
  });

  it("deploys an uploaded folder with the runtime picked", async () => {
    const runlet = await start();
    const folder = await tempDir("runlet-ui-folder-");
    await mkdir(join(folder, "lib"));
    await writeFile(
      join(folder, "handler.py"),
      "from lib.words import word\n\ndef handle(event, context):\n    return {'word': word()}\n",
    );
    await writeFile(join(folder, "lib", "__init__.py"), "");
    await writeFile(join(folder, "lib", "words.py"), "def word():\n    return 'from a folder'\n");
    const page = await newPage();
    await logIn(page, runlet);
    await page.goto(`${runlet.url}/ui/#/deploy`);
    await page.getByLabel("Name", { exact: true }).fill("folder-fn");
    await page.getByLabel("Runtime").selectOption("python");
    await page.getByLabel("upload a folder").check();
    await page.getByLabel("Folder", { exact: true }).setInputFiles(folder);
    await page.getByRole("button", { name: "Deploy" }).click();
    await page.getByRole("heading", { name: "folder-fn" }).waitFor({ timeout: 30_000 });
    expect(await (await fetch(`${runlet.url}/function/folder-fn`)).json()).toEqual({
      word: "from a folder",
    });
    // A refusal is shown with the API's message.
    await page.goto(`${runlet.url}/ui/#/deploy`);
    await page.getByLabel("Name", { exact: true }).fill("broken");
    await page.getByLabel("Code").fill("export default async () => {");
    await page.getByRole("button", { name: "Deploy" }).click();
    await poll(() => page.getByRole("alert").textContent()).toMatch(/index\.js/);
  });
});
