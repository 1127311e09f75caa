import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { startTestRunlet } from "../helpers/runlet.js";
import { deployStreamed } from "./build-helpers.js";

// A real install from the npm registry: `ms`, pinned, small and without dependencies.
const withMs = (greeting: string) => ({
  "package.json": JSON.stringify({
    type: "module",
    dependencies: { ms: "2.1.3" },
    devDependencies: { "left-pad": "1.3.0" },
  }),
  "index.js": `import ms from "ms";\nexport default async function () { return "${greeting} " + ms(60000); }\n`,
});

describe("Node dependencies", () => {
  it("installs production dependencies at deploy, and reuses them when only the code changes", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    const first = await deployStreamed(runlet, "dep", withMs("v1"), { runtime: "node" });
    expect(first.last).toMatchObject({ type: "result", outcome: "created" });
    expect(first.ran).toContain("npm install");
    expect(first.lines.some((l) => l.type === "log" && l.step === "npm install")).toBe(true);
    expect(await (await fetch(`${runlet.url}/function/dep`)).text()).toBe("v1 1m");
    // Production only: devDependencies are not installed.
    const view = (await (await runlet.api("/api/v1/functions/dep")).json()) as {
      package: string;
    };
    const tree = runlet.platform.packages.treePath(view.package);
    expect(await readdir(join(tree, "node_modules"))).not.toContain("left-pad");

    const second = await deployStreamed(runlet, "dep", withMs("v2"), { runtime: "node" });
    expect(second.last).toMatchObject({ type: "result", outcome: "updated" });
    expect(second.ran).not.toContain("npm install");
    expect(second.cached).toContain("npm install");
    expect(await (await fetch(`${runlet.url}/function/dep`)).text()).toBe("v2 1m");
  });

  it("fails the deploy with npm's message when a dependency does not exist, and the old revision keeps serving", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    expect((await deployStreamed(runlet, "app", withMs("v1"), { runtime: "node" })).last.type).toBe(
      "result",
    );
    const broken = await deployStreamed(
      runlet,
      "app",
      {
        "package.json": JSON.stringify({
          dependencies: { "runlet-no-such-package-4f9c2e": "1.0.0" },
        }),
        "index.js": `export default async function () { return "v2"; }\n`,
      },
      { runtime: "node" },
    );
    expect(broken.last.type).toBe("error");
    expect(broken.last.status).toBe(422);
    expect(broken.last.error?.code).toBe("RUNLET_BUILD_FAILED");
    expect(broken.last.error?.message).toContain("npm install failed");
    expect(broken.last.error?.message).toMatch(/404|not found/i);
    expect(broken.last.error?.message).not.toMatch(/\n\s+at /);
    // npm names its log file: by its path on the host, not inside the build sandbox; the npm
    // cache is the function's own (a build cannot plant files in another function's).
    const logLine = broken.lines.find(
      (line) => line.type === "log" && line.text?.includes("complete log of this run"),
    );
    expect(logLine?.text).toContain(
      join(runlet.dataDir, "builds", "cache", "npm", "functions", "app", "_logs"),
    );
    expect(await (await fetch(`${runlet.url}/function/app`)).text()).toBe("v1 1m");
    const revisions = (await (
      await runlet.api("/api/v1/functions/app/revisions")
    ).json()) as unknown[];
    expect(revisions).toHaveLength(1);
  });
});

describe("without a sandbox", () => {
  it("builds on the host, says so, and a TypeScript require() of a dependency works", async () => {
    const runlet = await startTestRunlet({ poolSize: 0, sandbox: "none" });
    const deployed = await deployStreamed(
      runlet,
      "host",
      {
        "package.json": JSON.stringify({ dependencies: { ms: "2.1.3" } }),
        "index.ts": `const ms = require("ms") as (ms: number) => string;\nexport default async (): Promise<string> => ms(3000);\n`,
      },
      { runtime: "typescript" },
    );
    expect(deployed.lines).toContainEqual({
      type: "notice",
      text: "builds run unsandboxed: disabled by configuration",
    });
    expect(deployed.last).toMatchObject({ type: "result", outcome: "created" });
    expect(await (await fetch(`${runlet.url}/function/host`)).text()).toBe("3s");
  });
});

describe("bad dependencies", () => {
  it("refuses a dependency tree over the package limit, naming the size and the limit", async () => {
    const runlet = await startTestRunlet({ poolSize: 0, maxPackageBytes: 4096 });
    const deployed = await deployStreamed(runlet, "big", withMs("v1"), { runtime: "node" });
    expect(deployed.last.type).toBe("error");
    expect(deployed.last.status).toBe(413);
    expect(deployed.last.error?.code).toBe("RUNLET_PACKAGE_TOO_LARGE");
    expect(deployed.last.error?.message).toMatch(/built package of big is [\d.]+ KiB/);
    expect(deployed.last.error?.message).toContain("the limit is 4Ki");
    expect((await runlet.api("/api/v1/functions/big")).status).toBe(404);
  });

  it("names the package a handler imports without declaring it", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    const response = await runlet.deploy("undeclared", {
      "package.json": JSON.stringify({ type: "module" }),
      "index.js": `import ms from "ms";\nexport default async () => ms(1000);\n`,
    });
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    const body = (await response.json()) as { error: { message: string } };
    expect(body.error.message).toContain("'ms'");
  });
});

describe("TypeScript", () => {
  it("compiles the handler with its local imports and runs it on the Node runtime", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    const deployed = await deployStreamed(
      runlet,
      "ts",
      {
        "index.ts": `import { greet } from "./lib/greet.js";\ninterface Event { query: Record<string, string> }\nexport default async function handle(event: Event): Promise<string> {\n  return greet(event.query.name ?? "world");\n}\n`,
        "lib/greet.ts": `export const greet = (name: string): string => \`Hello, \${name}!\`;\n`,
      },
      { runtime: "typescript" },
    );
    expect(deployed.last).toMatchObject({ type: "result", outcome: "created" });
    expect(deployed.ran).toContain("esbuild");
    expect(await (await fetch(`${runlet.url}/function/ts?name=Ada`)).text()).toBe("Hello, Ada!");
  });

  it("runs a named export of a handler in a subfolder", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    const response = await runlet.deploy(
      "named",
      {
        "src/api.ts": `export async function main(): Promise<{ ok: boolean }> {\n  return { ok: true };\n}\n`,
      },
      { runtime: "typescript", handler: "src/api.ts:main" },
    );
    expect(response.status).toBe(201);
    expect(await (await fetch(`${runlet.url}/function/named`)).json()).toEqual({ ok: true });
  });

  it("answers a failed build with HTTP 422 and the compiler's message when not streaming", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    const response = await runlet.deploy(
      "bad",
      { "index.ts": `export default async () => {\n  return (;\n};\n` },
      { runtime: "typescript" },
    );
    expect(response.status).toBe(422);
    const body = (await response.json()) as {
      error: { code: string; message: string; step: string; output: string[] };
    };
    expect(body.error.code).toBe("RUNLET_BUILD_FAILED");
    expect(body.error.step).toBe("esbuild");
    expect(body.error.output.join("\n")).toMatch(/^index\.ts:2:\d+: /m);
    expect((await runlet.api("/api/v1/functions/bad")).status).toBe(404);
  });

  it("fails a compile error with file and line, and the previous revision keeps serving", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    const good = await deployStreamed(
      runlet,
      "ts",
      { "index.ts": `export default async (): Promise<string> => "v1";\n` },
      { runtime: "typescript" },
    );
    expect(good.last.type).toBe("result");
    const broken = await deployStreamed(
      runlet,
      "ts",
      { "index.ts": `const a: number = 1;\nexport default async () => {\n  return a +;\n};\n` },
      { runtime: "typescript" },
    );
    expect(broken.last.type).toBe("error");
    expect(broken.last.error?.code).toBe("RUNLET_BUILD_FAILED");
    expect(broken.last.error?.message).toContain("index.ts:3:");
    expect(await (await fetch(`${runlet.url}/function/ts`)).text()).toBe("v1");
  });
});
