import { spawnSync } from "node:child_process";
import { link, mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { adminToken, startTestRunlet, tempDir } from "../helpers/runlet.js";

describe("the TypeScript template", () => {
  it("is created by runlet new, compiled at deploy, and answers", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    const cwd = await tempDir("runlet-cli-");
    const env = { RUNLET_GATEWAY: runlet.url, RUNLET_TOKEN: adminToken };
    const created = await runCli(["new", "greeter", "--runtime", "typescript"], { cwd, env });
    expect(created.code).toBe(0);
    expect(created.stdout).toContain("handler index.ts, test index.test.ts");
    // What `npm install` for the template's test leaves behind: tools, and hard links
    // (esbuild's binary). None of it is uploaded.
    await mkdir(join(cwd, "greeter", "node_modules", "esbuild", "bin"), { recursive: true });
    await writeFile(join(cwd, "greeter", "node_modules", "tool.js"), "tool\n");
    await link(
      join(cwd, "greeter", "node_modules", "tool.js"),
      join(cwd, "greeter", "node_modules", "esbuild", "bin", "esbuild"),
    );
    const deployed = await runCli(["deploy"], { cwd, env });
    expect(deployed.stderr).toMatch(/greeter: packed \S+ \(4 files, /);
    expect(deployed.stderr).toContain("greeter: ✔ esbuild");
    expect(deployed.code).toBe(0);
    const response = await fetch(`${runlet.url}/function/greeter?name=Ada`);
    expect(await response.json()).toEqual({ message: "Hello, Ada!" });
  });

  it("is listed with the Go template", async () => {
    const cwd = await tempDir("runlet-cli-");
    const listed = await runCli(["new", "--list"], { cwd });
    expect(listed.stdout).toMatch(/^typescript +TypeScript/m);
    expect(listed.stdout).toMatch(/^go +Go: an HTTP server on \$PORT/m);
  });
});

describe("the Java template", () => {
  it("is created by runlet new, passes its own mvn test, is built at deploy, and answers", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    const cwd = await tempDir("runlet-cli-");
    const env = { RUNLET_GATEWAY: runlet.url, RUNLET_TOKEN: adminToken };
    const created = await runCli(["new", "greeter", "--runtime", "java"], { cwd, env });
    expect(created.code).toBe(0);
    expect(created.stdout).toContain("handler src/main/java/function/Handler.java");
    const test = spawnSync("mvn", ["-B", "-Dstyle.color=never", "test"], {
      cwd: join(cwd, "greeter"),
      encoding: "utf8",
      env: { ...process.env, MAVEN_OPTS: "-XX:TieredStopAtLevel=1" },
    });
    expect(test.stdout + test.stderr).toContain("Tests run: 3, Failures: 0");
    expect(test.status).toBe(0);
    await rm(join(cwd, "greeter", "target"), { recursive: true, force: true });
    const deployed = await runCli(["deploy"], { cwd, env });
    expect(deployed.stderr).toContain("greeter: ✔ mvn compile");
    expect(deployed.code).toBe(0);
    const response = await fetch(`${runlet.url}/function/greeter?name=Ada`);
    expect(await response.json()).toEqual({ message: "Hello, Ada!" });
    const refused = await fetch(`${runlet.url}/function/greeter?name=%20`);
    expect(refused.status).toBe(400);
  }, 600_000);
});
