/**
 * The kubeless CLI's function verbs, as its users' scripts and READMEs run them, on Runlet:
 * `runlet kubeless function deploy|update|call|ls|delete` with kubeless' own flags, functions
 * written as Kubeless' docs write them.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { strToU8, zipSync } from "fflate";
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { adminToken, startTestRunlet, tempDir } from "../helpers/runlet.js";

// As Kubeless' docs write a Node function: a module exporting the handler (its context names
// the handler function, as Kubeless' runtime does).
const helloJs = `module.exports = {
  foo: function (event, context) {
    return process.env.GREETING + ' ' + event.data + ' from ' + context['function-name'];
  }
};
`;

// As they write a Python one.
const shoutPy = `def handler(event, context):
    return event['data'].upper()
`;

describe("runlet kubeless function …", () => {
  it("deploys, updates, calls, lists and deletes with kubeless' flags, and refuses the flags it has no use for", async () => {
    const runlet = await startTestRunlet({ sandbox: "none", poolSize: 0 });
    const cwd = await tempDir("runlet-kubeless-cli-");
    await mkdir(join(cwd, "src"));
    await writeFile(join(cwd, "src", "hello.js"), helloJs);
    await writeFile(join(cwd, "shout.py"), shoutPy);
    await writeFile(join(cwd, "shout.zip"), zipSync({ "shout.py": strToU8(shoutPy) }));
    const env = { RUNLET_GATEWAY: runlet.url, RUNLET_TOKEN: adminToken };
    const cli = (args: readonly string[]) =>
      runCli(["kubeless", "function", ...args], { cwd, env });

    const deployed = await cli([
      ...["deploy", "hello", "--runtime", "nodejs14", "--handler", "hello.foo"],
      ...["--from-file", "src/hello.js", "--env", "GREETING=hi", "--memory", "128Mi"],
      "--trigger-http",
    ]);
    expect(deployed.code, deployed.stderr).toBe(0);
    expect(deployed.stdout).toMatch(/hello deployed \(revision 1, node, compat kubeless\)/);
    const called = await cli(["call", "hello", "--data", "world"]);
    expect(called.code, called.stderr).toBe(0);
    expect(called.stdout.trim()).toBe("hi world from foo");
    const described = (await (await runlet.api("/api/v1/functions/hello")).json()) as {
      spec: Record<string, unknown>;
    };
    expect(described.spec).toMatchObject({ memory: "128Mi", timeout: "180s", compat: "kubeless" });

    // update: a new revision from the new flags; a zip is read as kubeless reads it.
    const updated = await cli([
      ...["update", "hello", "--runtime", "python3.9", "--handler", "shout.handler"],
      ...["--from-file", "shout.zip", "--timeout", "20", "--schedule", "*/5 * * * *"],
    ]);
    expect(updated.code, updated.stderr).toBe(0);
    expect(updated.stdout).toMatch(/hello updated \(revision 2, python, compat kubeless\)/);
    expect((await cli(["call", "hello", "--data", "loud"])).stdout.trim()).toBe("LOUD");
    const triggers = (await (await runlet.api("/api/v1/triggers")).json()) as { name: string }[];
    expect(triggers.map((t) => t.name)).toContain("hello.cron-1");
    expect((await cli(["ls"])).stdout).toMatch(/^hello\b/m);

    // What Runlet has no use for is refused, saying what to do instead; nothing is deployed.
    const image = await cli([
      ...["deploy", "other", "--runtime", "nodejs14", "--handler", "hello.foo"],
      ...["--from-file", "src/hello.js", "--runtime-image", "me/custom:1"],
    ]);
    expect(image.code).not.toBe(0);
    expect(image.stderr).toMatch(/--runtime-image is not supported by Runlet: Runlet runs source/);
    const incomplete = await cli(["deploy", "other", "--runtime", "nodejs14"]);
    expect(incomplete.code).not.toBe(0);
    expect(incomplete.stderr).toMatch(/needs --handler, --from-file/);
    const unknown = await cli([
      ...["deploy", "other", "--runtime", "ruby2.4", "--handler", "a.b"],
      ...["--from-file", "shout.py"],
    ]);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/unknown runtime "ruby2.4"/);
    expect((await runlet.api("/api/v1/functions/other")).status).toBe(404);

    const deleted = await cli(["delete", "hello"]);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect((await runlet.api("/api/v1/functions/hello")).status).toBe(404);
  });
});
