/**
 * The dashboard's files at /ui (issue 20): public, compressed, locked down by their headers,
 * hashed assets kept by browsers; a missing build is a 404 that says how to build it, and
 * /ui never opens the API to a caller without the token.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import Fastify from "fastify";
import { describe, expect, it } from "vitest";
import { isUserError, userErrorBody } from "../../src/errors.js";
import { registerDashboardRoutes } from "../../src/gateway/routes/ui.js";
import { startTestRunlet, tempDir } from "../helpers/runlet.js";

describe("dashboard files", () => {
  it("serves the built page and its hashed assets, compressed, without the token", async () => {
    const runlet = await startTestRunlet();
    const page = await fetch(`${runlet.url}/ui/`, { headers: { "accept-encoding": "gzip" } });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.headers.get("cache-control")).toBe("no-cache");
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
    const html = await page.text();
    const script = /src="(\/ui\/assets\/main-[\w]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${runlet.url}${script}`, { headers: { "accept-encoding": "br" } });
    expect(asset.status).toBe(200);
    expect(asset.headers.get("content-encoding")).toBe("br");
    expect(asset.headers.get("cache-control")).toContain("immutable");
    expect((await asset.text()).length).toBeGreaterThan(1000);
    const redirect = await fetch(`${runlet.url}/ui`, { redirect: "manual" });
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get("location")).toBe("/ui/");
    const missing = await fetch(`${runlet.url}/ui/assets/nope.js`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe(
      "RUNLET_NOT_FOUND",
    );
    // The page is public; what it shows is not.
    expect((await fetch(`${runlet.url}/api/v1/functions`)).status).toBe(401);
  });

  it("answers a 404 that says how to build it when the dashboard was not built", async () => {
    const app = Fastify();
    // The gateway's own error handler, reduced to what this route throws.
    app.setErrorHandler((error, _request, reply) =>
      isUserError(error) ? reply.code(error.status).send(userErrorBody(error)) : reply.send(error),
    );
    registerDashboardRoutes(app, join(await tempDir(), "no-ui"));
    const answer = await app.inject({ method: "GET", url: "/ui/" });
    expect(answer.statusCode).toBe(404);
    expect(answer.json()).toEqual({
      error: {
        code: "RUNLET_NOT_FOUND",
        message: "The dashboard is not built in this installation; build it with: npm run build",
      },
    });
    const root = await tempDir();
    await mkdir(join(root, "assets"));
    await writeFile(join(root, "index.html"), "<p>built</p>");
    const built = Fastify();
    registerDashboardRoutes(built, root);
    expect((await built.inject({ method: "GET", url: "/ui/" })).body).toBe("<p>built</p>");
  });
});
