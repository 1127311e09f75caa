import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { adminToken, startTestRunlet, tempDir } from "../helpers/runlet.js";

const hello = `export default async function (event) {
  return "hello " + event.params.who;
}
`;

describe("runlet trigger", () => {
  it("creates, lists and removes triggers, and deploys a stack file's triggers", async () => {
    const runlet = await startTestRunlet();
    const cwd = await tempDir();
    const env = { RUNLET_GATEWAY: runlet.url, RUNLET_TOKEN: adminToken };
    const cli = (argv: string[]) => runCli(argv, { cwd, env });

    await writeFile(
      join(cwd, "runlet.yaml"),
      [
        "version: 1",
        "functions:",
        "  hello:",
        "    runtime: node",
        "    source: ./hello",
        "    triggers:",
        "      - http: GET /hello/{who}",
        '      - cron: "0 3 * * *"',
        "        tz: Europe/Berlin",
        "",
      ].join("\n"),
    );
    await mkdir(join(cwd, "hello"));
    await writeFile(join(cwd, "hello", "index.js"), hello);
    const deployed = await cli(["deploy"]);
    expect(deployed.code, deployed.stderr).toBe(0);
    expect(await (await fetch(`${runlet.url}/hello/ada`)).text()).toBe("hello ada");

    const created = await cli([
      "trigger",
      "create",
      "hi",
      "--function",
      "hello",
      "--http",
      "POST /hi/{who}",
    ]);
    expect(created.stderr).toBe("");
    expect(created.stdout).toContain("trigger hi created: POST /hi/{who} → hello");
    expect(await (await fetch(`${runlet.url}/hi/bob`, { method: "POST" })).text()).toBe(
      "hello bob",
    );

    const described = await cli(["describe", "hello"]);
    expect(described.stdout).toMatch(/Trigger:\s+hi: http POST \/hi\/\{who\}/);
    expect(described.stdout).toMatch(/Trigger:\s+\S+: cron 0 3 \* \* \* \(Europe\/Berlin\)/);

    const list = await cli(["trigger", "list"]);
    expect(list.code).toBe(0);
    const rows = list.stdout
      .trim()
      .split("\n")
      .map((row) => row.split(/\s{2,}/));
    expect(rows).toEqual([
      ["NAME", "KIND", "FUNCTION", "WHEN", "FROM"],
      ["hello.cron-2", "cron", "hello", "0 3 * * * (Europe/Berlin)", "spec"],
      ["hello.http-1", "http", "hello", "GET /hello/{who}", "spec"],
      ["hi", "http", "hello", "POST /hi/{who}", "api"],
    ]);

    const conflict = await cli([
      "trigger",
      "create",
      "hi2",
      "--function",
      "hello",
      "--http",
      "GET /hello/{x}",
    ]);
    expect(conflict.code).toBe(1);
    expect(conflict.stderr).toContain("already served by trigger hello.http-1");

    const twoKinds = await cli([
      "trigger",
      "create",
      "x",
      "--function",
      "hello",
      "--http",
      "GET /x",
      "--cron",
      "@daily",
    ]);
    expect(twoKinds.code).toBe(1);
    expect(twoKinds.stderr).toContain("exactly one of");

    const removed = await cli(["trigger", "remove", "hi"]);
    expect(removed.stdout).toContain("trigger hi removed");
    expect((await fetch(`${runlet.url}/hi/bob`, { method: "POST" })).status).not.toBe(200);
    const again = await cli(["trigger", "remove", "hi"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("does not exist");
  });
});
