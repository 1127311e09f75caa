import { existsSync } from "node:fs";
import { readFile, stat, writeFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { adminToken, startTestRunlet, tempDir } from "../helpers/runlet.js";

async function setup() {
  const runlet = await startTestRunlet();
  const cwd = await tempDir("runlet-cli-");
  const env = { RUNLET_GATEWAY: runlet.url, RUNLET_TOKEN: adminToken };
  const cli = (argv: string[], stdin?: string) => runCli(argv, { cwd, env, stdin });
  return { runlet, cwd, env, cli };
}

describe("runlet CLI (in-process)", () => {
  it("runs the README tour: new, deploy, invoke, list, describe, logs, remove", async () => {
    const { cwd, cli } = await setup();
    const created = await cli(["new", "hello", "--runtime", "node"]);
    expect(created.code).toBe(0);
    expect(created.stdout).toContain("added hello to");
    expect(existsSync(join(cwd, "hello", "index.js"))).toBe(true);
    expect(await readFile(join(cwd, "runlet.yaml"), "utf8")).toBe(
      "version: 1\nfunctions:\n  hello:\n    runtime: node\n    source: ./hello\n    handler: index.js\n",
    );

    const deployed = await cli(["deploy"]);
    expect(deployed.stderr).toMatch(/hello: packed \S+ \(3 files, /);
    expect(deployed.code).toBe(0);
    expect(deployed.stdout).toMatch(
      /✔ hello deployed \(revision 1\) → http:\/\/127\.0\.0\.1:\d+\/function\/hello/,
    );

    const invoked = await cli(["invoke", "hello", "--query", "name=Ada"]);
    expect(invoked).toMatchObject({ code: 0, stdout: '{"message":"Hello, Ada!"}' });
    const withBody = await cli(
      ["invoke", "hello", "-H", "Content-Type: application/json"],
      '{"name":"Bob"}',
    );
    expect(withBody.stdout).toBe('{"message":"Hello, Bob!"}');

    const list = await cli(["list", "--json"]);
    expect((JSON.parse(list.stdout) as { name: string }[]).map((f) => f.name)).toEqual(["hello"]);
    expect((await cli(["list"])).stdout).toMatch(
      /NAME\s+RUNTIME\s+REVISION\s+READY\s+URL\nhello\s+node\s+1\s+1\/1/,
    );

    const described = await cli(["describe", "hello"]);
    expect(described.stdout).toMatch(/Runtime:\s+node/);
    expect(described.stdout).toMatch(/Timeout:\s+30s/);

    const logs = await cli(["logs", "hello", "--tail", "5"]);
    expect(logs.stdout).toMatch(/greeting Ada \(call [0-9a-f-]+\)\n.*greeting Bob/);

    expect((await cli(["deploy"])).stdout).toContain("hello unchanged (revision 1)");
    // A missing name is reported, and does not stop the others from being removed.
    const removed = await cli(["remove", "nosuch", "hello"]);
    expect(removed.stdout).toContain("removed hello");
    expect(removed.stderr).toContain("Error: Function nosuch does not exist");
    expect(removed.code).toBe(1);
    const gone = await cli(["invoke", "hello"]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain("HTTP 404");
  });

  it("deploys from flags with env, timeout and memory", async () => {
    const { cwd, cli, runlet } = await setup();
    await mkdir(join(cwd, "src"));
    await writeFile(join(cwd, "src", "main.js"), `export default async () => process.env.GREETING`);
    const deployed = await cli([
      "deploy",
      "greeter",
      "--runtime",
      "node",
      "--source",
      "src",
      "--handler",
      "main.js",
      "--env",
      "GREETING=hi",
      "--timeout",
      "5s",
      "--memory",
      "64Mi",
    ]);
    expect(deployed.code).toBe(0);
    expect(deployed.stderr).toMatch(/greeter: packed \S+ \(1 file, /);
    expect((await cli(["invoke", "greeter"])).stdout).toBe("hi");
    const fn = runlet.platform.get("greeter");
    expect(fn.config.timeoutMs).toBe(5000);
    expect(fn.config.memoryBytes).toBe(64 * 1024 * 1024);
    const scaled = await cli([
      "deploy",
      "greeter",
      "--runtime",
      "node",
      "--source",
      "src",
      "--handler",
      "main.js",
      "--min",
      "1",
      "--max",
      "3",
      "--concurrency",
      "4",
      "--idle-timeout",
      "2m",
      "--cpu",
      "500m",
    ]);
    expect(scaled.stdout).toContain("greeter updated (revision 2)");
    expect(runlet.platform.get("greeter").config).toMatchObject({
      cpu: 0.5,
      scale: { min: 1, max: 3, concurrency: 4, idleTimeoutMs: 120_000 },
    });
    const described = await cli(["describe", "greeter"]);
    expect(described.stdout).toMatch(/Scale:\s+min 1, max 3, concurrency 4, idle timeout 2m/);
    expect(described.stdout).toMatch(/cold starts:\s+\d+ \(\d+ from the warm pool\)/);
  });

  it("explains bad input with exit code 1", async () => {
    const { cwd, cli } = await setup();
    const badName = await cli(["deploy", "Not_Valid", "--runtime", "node", "--source", "."]);
    expect(badName.code).toBe(1);
    expect(badName.stderr).toContain('Invalid function name: "Not_Valid" is not a valid name');
    const noSource = await cli(["deploy", "fn", "--runtime", "node", "--source", "./missing"]);
    expect(noSource.code).toBe(1);
    expect(noSource.stderr).toContain("does not exist or is not a directory");
    await mkdir(join(cwd, "empty"));
    const noHandler = await cli(["deploy", "fn", "--runtime", "node", "--source", "./empty"]);
    expect(noHandler.code).toBe(1);
    expect(noHandler.stderr).toContain("Handler file index.js is not in");
    const noStack = await cli(["deploy"]);
    expect(noStack.code).toBe(1);
    expect(noStack.stderr).toContain("No stack file at");
    await writeFile(
      join(cwd, "runlet.yaml"),
      "version: 1\nfunctions:\n  a:\n    runtime: node\n    timeout: 3 days\n  b:\n    runtime: ruby\n",
    );
    const badStack = await cli(["deploy"]);
    expect(badStack.code).toBe(1);
    expect(badStack.stderr).toMatch(/runlet\.yaml:5: functions\.a\.timeout: expected a duration/);
    expect(badStack.stderr).toMatch(
      /runlet\.yaml:7: functions\.b\.runtime: unknown runtime "ruby"/,
    );
    const unknownRuntime = await cli(["new", "x", "--runtime", "cobol"]);
    expect(unknownRuntime.stderr).toContain("No template for runtime cobol; templates: node");
    const typo = await cli(["new", "x", "--runtime", "pyhton"]);
    expect(typo.stderr).toContain("No template for runtime pyhton (did you mean python?);");
    const alias = await cli(["deploy", "x", "--runtime", "nodejs", "--source", "."]);
    expect(alias.stderr).toContain('unknown runtime "nodejs" (did you mean node?); known runtimes');
    const importHelp = await cli(["import", "--help"]);
    expect(importHelp.stdout.replace(/\s+/g, " ")).toContain(
      "deploy Fission specs or Kubeless Functions (OpenFaaS: runlet deploy -f stack.yml)",
    );
    const noCalls = await cli(["calls", "nothing-yet"]);
    expect(noCalls.code).toBe(1);
    expect(noCalls.stderr).toContain("Function nothing-yet does not exist");
    const bareGroup = await cli(["secret"]);
    expect(bareGroup.code).toBe(1);
    expect(bareGroup.stderr).toContain("Usage: runlet secret");
    const syntax = await cli(["deploy", "broken", "--runtime", "node", "--source", "./src"]);
    expect(syntax.code).toBe(1);
  });

  it("reports a syntax error of a deployed handler with file and line", async () => {
    const { cwd, cli } = await setup();
    await mkdir(join(cwd, "broken"));
    await writeFile(
      join(cwd, "broken", "index.js"),
      "export default async function () {\n  return {;\n}\n",
    );
    const result = await cli(["deploy", "broken", "--runtime", "node", "--source", "broken"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("The function failed to load: index.js:2: SyntaxError");
  });

  it("deploys the other functions of a stack file when one of them fails, and names it", async () => {
    const { cwd, cli } = await setup();
    for (const name of ["first", "second", "third"]) {
      await mkdir(join(cwd, name));
    }
    await writeFile(join(cwd, "first", "index.js"), "export default async () => 'first';\n");
    await writeFile(join(cwd, "third", "index.js"), "export default async () => 'third';\n");
    await writeFile(
      join(cwd, "runlet.yaml"),
      "version: 1\nfunctions:\n  first:\n    runtime: node\n  second:\n    runtime: node\n  third:\n    runtime: node\n",
    );

    const result = await cli(["deploy"]);

    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      "1 function was not deployed:\n  second: Handler file index.js is not in",
    );
    expect(result.stderr).toContain("Deployed: first, third. Fix it and run the deploy again.");
    expect(result.stdout).toContain("✔ third deployed");
    expect((await cli(["invoke", "first"])).stdout).toBe("first");
    expect((await cli(["invoke", "third"])).stdout).toBe("third");
  });

  it("manages secrets without ever printing values", async () => {
    const { cli } = await setup();
    expect((await cli(["secret", "create", "api-key", "--from-literal", "v1"])).stdout).toContain(
      "secret api-key created",
    );
    expect((await cli(["secret", "create", "api-key"], "v2")).stdout).toContain(
      "secret api-key replaced",
    );
    const list = await cli(["secret", "list"]);
    expect(list.stdout).toMatch(/NAME\s+UPDATED\napi-key/);
    expect(list.stdout).not.toContain("v2");
    expect((await cli(["secret", "remove", "api-key"])).stdout).toContain("removed");
    const missing = await cli(["secret", "remove", "api-key"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(
      "Secret api-key does not exist; see the secrets with: runlet secret list",
    );
  });

  it("logs in, saves the gateway and token privately, and logs out", async () => {
    const runlet = await startTestRunlet();
    const cwd = await tempDir("runlet-cli-");
    const env = { XDG_CONFIG_HOME: join(cwd, "config") };
    const wrong = await runCli(["login", "--gateway", runlet.url, "--token", "wrong"], {
      cwd,
      env,
    });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("refused the token");
    const login = await runCli(["login", "--gateway", runlet.url, "--token-stdin"], {
      cwd,
      env,
      stdin: `${adminToken}\n`,
    });
    expect(login.code).toBe(0);
    const saved = join(cwd, "config", "runlet", "config.json");
    expect((await stat(saved)).mode & 0o777).toBe(0o600);
    expect((await runCli(["list"], { cwd, env })).code).toBe(0);
    expect((await runCli(["logout"], { cwd, env })).stdout).toContain("logged out");
    const after = await runCli(["list", "--gateway", runlet.url], { cwd, env });
    expect(after.code).toBe(1);
    expect(after.stderr).toContain("needs the admin token");
  });

  it("says how to start the gateway when it cannot be reached", async () => {
    const cwd = await tempDir("runlet-cli-");
    const result = await runCli(["list"], { cwd, env: { RUNLET_GATEWAY: "http://127.0.0.1:1" } });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("Cannot reach the Runlet gateway at http://127.0.0.1:1");
    expect(result.stderr).toContain("runlet up");
  });

  it("prints versions", async () => {
    const { cli } = await setup();
    const result = await cli(["version", "--json"]);
    expect(JSON.parse(result.stdout)).toMatchObject({
      cli: expect.stringMatching(/^\d+\.\d+\.\d+/),
      gateway: expect.stringMatching(/^\d+/),
    });
  });
});
