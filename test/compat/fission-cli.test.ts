/**
 * The fission CLI's verbs, as its users' scripts and READMEs run them, on Runlet:
 * `runlet fission env create`, `function create|update`, `route create` (`httptrigger
 * create`) and `spec apply`, with fission's own flags; functions written as Fission's docs
 * write them.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { adminToken, startTestRunlet, tempDir } from "../helpers/runlet.js";

// As Fission's docs write a Node function.
const helloJs = `module.exports = async function(context) {
    return { status: 200, body: "hello, " + (context.request.query.name || "world") + "!\\n" };
}
`;

// As they write a Python one: main() of the module, and a secret read at Fission's path.
const helloPy = `def main():
    with open("/secrets/default/greeting/word") as f:
        return f.read() + " from python"
`;

describe("runlet fission …", () => {
  it("creates functions and routes with fission's flags, updates them, applies specs, and refuses what Runlet has no use for", async () => {
    // Sandboxed: Fission's /secrets paths are mounted into the instance there.
    const runlet = await startTestRunlet({ poolSize: 0 });
    const cwd = await tempDir("runlet-fission-cli-");
    await writeFile(join(cwd, "hello.js"), helloJs);
    await writeFile(join(cwd, "hello.py"), helloPy);
    const env = { RUNLET_GATEWAY: runlet.url, RUNLET_TOKEN: adminToken };
    const cli = (args: readonly string[]) => runCli(["fission", ...args], { cwd, env });
    const ok = async (args: readonly string[]) => {
      const result = await cli(args);
      expect(result.code, `fission ${args.join(" ")}:\n${result.stdout}\n${result.stderr}`).toBe(0);
      return result.stdout;
    };

    expect(await ok(["env", "create", "--name", "nodejs", "--image", "fission/node-env"])).toMatch(
      /Runlet's node runtime/,
    );
    const created = await ok([
      ...["function", "create", "--name", "hello", "--env", "nodejs", "--code", "hello.js"],
      ...["--url", "/hello", "--method", "GET", "--maxmemory", "128", "--fntimeout", "30"],
    ]);
    expect(created).toMatch(/hello deployed \(revision 1, node, compat fission\)/);
    const routed = await fetch(`${runlet.url}/hello?name=ada`);
    expect(await routed.text()).toBe("hello, ada!\n");
    const described = (await (await runlet.api("/api/v1/functions/hello")).json()) as {
      spec: Record<string, unknown>;
    };
    expect(described.spec).toMatchObject({ memory: "128Mi", timeout: "30s", compat: "fission" });

    // A second route, as `fission route create` makes it.
    expect(
      await ok(["route", "create", "--method", "POST", "--url", "/greet", "--function", "hello"]),
    ).toMatch(/POST \/greet → hello/);
    expect(await (await fetch(`${runlet.url}/greet`, { method: "POST" })).text()).toBe(
      "hello, world!\n",
    );

    // update: the same function from a Python source with a secret, a new revision.
    const secret = await runCli(["secret", "create", "greeting", "--key", "word=hi"], { cwd, env });
    expect(secret.code, secret.stderr).toBe(0);
    const updated = await ok([
      ...["function", "update", "--name", "hello", "--env", "python", "--code", "hello.py"],
      ...["--secret", "greeting"],
    ]);
    expect(updated).toMatch(/hello updated \(revision 2, python, compat fission\)/);
    expect(await (await fetch(`${runlet.url}/function/hello`)).text()).toBe("hi from python");

    // spec apply: a specs/ folder as `fission spec init` and `fission fn create --spec` write it.
    await mkdir(join(cwd, "specs"));
    await writeFile(
      join(cwd, "specs", "env-nodejs.yaml"),
      "apiVersion: fission.io/v1\nkind: Environment\nmetadata:\n  name: nodejs\nspec:\n  runtime:\n    image: fission/node-env\n",
    );
    await writeFile(
      join(cwd, "specs", "function-applied.yaml"),
      [
        "apiVersion: fission.io/v1\nkind: Package\nmetadata:\n  name: applied-pkg\nspec:\n  environment:\n    name: nodejs\n  deployment:\n    type: literal\n    literal: " +
          Buffer.from(helloJs).toString("base64"),
        "apiVersion: fission.io/v1\nkind: Function\nmetadata:\n  name: applied\nspec:\n  environment:\n    name: nodejs\n  package:\n    packageref:\n      name: applied-pkg",
      ].join("\n---\n"),
    );
    expect(await ok(["spec", "apply"])).toMatch(/applied deployed/);
    expect(await (await fetch(`${runlet.url}/function/applied`)).text()).toBe("hello, world!\n");

    // What Runlet has no use for is refused, saying what to do instead.
    const pkg = await cli([
      "function",
      "create",
      "--name",
      "other",
      "--env",
      "nodejs",
      "--pkg",
      "p",
    ]);
    expect(pkg.code).not.toBe(0);
    expect(pkg.stderr).toMatch(
      /--pkg is not supported by Runlet: Runlet keeps no separate packages/,
    );
    const unknownEnv = await cli([
      ...["function", "create", "--name", "other", "--env", "go", "--code", "hello.js"],
    ]);
    expect(unknownEnv.code).not.toBe(0);
    expect(unknownEnv.stderr).toMatch(/name it after its runtime \(--env nodejs/);
    const missing = await cli(["function", "create", "--name", "other"]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/needs --name, --env and --code/);
    const noRoute = await cli(["httptrigger", "create", "--function", "hello"]);
    expect(noRoute.code).not.toBe(0);
    expect(noRoute.stderr).toMatch(/needs --function and --url/);
    expect((await runlet.api("/api/v1/functions/other")).status).toBe(404);
  });
});
