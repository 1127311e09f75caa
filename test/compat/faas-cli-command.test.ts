/**
 * `runlet faas-cli …`: faas-cli's command lines, as OpenFaaS users' scripts and READMEs run
 * them, translated into Runlet's commands; a function written as the node20 template writes it.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { translateFaasCli } from "../../src/cli/commands/faas-cli.js";
import { runCli } from "../helpers/cli.js";
import { adminToken, startTestRunlet, tempDir } from "../helpers/runlet.js";

const stackYml = `version: 1.0
provider:
  name: openfaas
  gateway: http://127.0.0.1:8080
functions:
  hello:
    lang: node20
    handler: ./hello
    image: hello:latest
  other:
    lang: node20
    handler: ./hello
    image: other:latest
`;

const handlerJs = `'use strict'

module.exports = async (event, context) => {
  return context
    .status(200)
    .succeed('hello ' + event.body + ' from ' + (event.headers['x-name'] || 'nobody'))
}
`;

describe("runlet faas-cli …", () => {
  it("runs faas-cli's verbs that need no Docker, and refuses the others saying what to do", async () => {
    const runlet = await startTestRunlet({ sandbox: "none", poolSize: 0 });
    const cwd = await tempDir("runlet-faas-cli-");
    await mkdir(join(cwd, "hello"));
    await writeFile(join(cwd, "hello", "handler.js"), handlerJs);
    await writeFile(join(cwd, "stack.yml"), stackYml);
    const cli = (args: readonly string[], stdin?: string) =>
      runCli(["faas-cli", ...args], { cwd, stdin, env: { RUNLET_TOKEN: adminToken } });
    const ok = async (args: readonly string[], stdin?: string) => {
      const result = await cli(args, stdin);
      expect(result.code, `faas-cli ${args.join(" ")}:\n${result.stdout}\n${result.stderr}`).toBe(
        0,
      );
      return result.stdout;
    };
    const gateway = ["--gateway", runlet.url];

    expect(await ok(["up", "-f", "stack.yml", "--filter", "hello", ...gateway])).toMatch(
      /hello deployed \(revision 1\)/,
    );
    expect((await runlet.api("/api/v1/functions/other")).status).toBe(404);
    expect(await ok(["invoke", "hello", "-H", "X-Name=ada", ...gateway], "tea")).toBe(
      "hello tea from ada",
    );
    expect(await ok(["list", ...gateway])).toMatch(/^hello\b/m);
    expect(await ok(["describe", "hello", ...gateway])).toMatch(/hello/);
    expect(
      await ok(["secret", "create", "api-key", "--from-literal", "s3cr3t", ...gateway]),
    ).toMatch(/api-key/);
    expect(await ok(["secret", "ls", ...gateway])).toMatch(/api-key/);
    expect(await ok(["logs", "hello", "--tail=false", ...gateway])).toEqual(expect.any(String));
    // Without names, remove takes the stack file's functions (other was never deployed).
    const removed = await cli(["remove", "-f", "stack.yml", ...gateway]);
    expect(removed.stdout).toMatch(/removed hello/);
    expect((await runlet.api("/api/v1/functions/hello")).status).toBe(404);

    // build and push upload the package and tag it with the image's name: faas-cli deploy of
    // that image then finds it.
    expect(await ok(["push", "-f", "stack.yml", "--filter", "other", ...gateway])).toMatch(/other/);
    const tags = (await (await runlet.api("/api/v1/images")).json()) as unknown;
    expect(JSON.stringify(tags)).toContain("other:latest");
    const store = await cli(["store", "list"]);
    expect(store.code).not.toBe(0);
    expect(store.stderr).toMatch(/faas-cli store is not supported by Runlet/);
    const image = await cli(["deploy", "--image", "functions/alpine", "--name", "x"]);
    expect(image.stderr).toMatch(/deploys an image, and Runlet deploys source/);
    const flag = await cli(["deploy", "--bogus"]);
    expect(flag.stderr).toMatch(
      /faas-cli deploy: Unknown option '--bogus'.*the flags runlet faas-cli deploy takes are/s,
    );
  });

  it("translates each verb's flags into the Runlet command line", () => {
    const cwd = process.cwd();
    expect(
      translateFaasCli(["invoke", "f", "-H", "A=b", "-m", "PUT", "--query", "x=1", "-a"], cwd),
    ).toEqual(["invoke", "f", "-H", "A: b", "-X", "PUT", "--query", "x=1", "--async"]);
    // A namespace is Runlet's -n.
    expect(translateFaasCli(["list", "-n", "team-a"], cwd)).toEqual([
      "list",
      "--namespace",
      "team-a",
    ]);
    expect(translateFaasCli(["logs", "f", "--lines", "5", "--since", "1m"], cwd)).toEqual([
      "logs",
      "f",
      "--follow",
      "--tail",
      "5",
      "--since",
      "1m",
    ]);
    expect(translateFaasCli(["login", "-g", "http://h:8080", "--password-stdin"], cwd)).toEqual([
      "login",
      "--gateway",
      "http://h:8080",
      "--token-stdin",
    ]);
    expect(translateFaasCli(["secret", "update", "k", "--from-file", "f.bin"], cwd)).toEqual([
      "secret",
      "create",
      "k",
      "--from-file",
      "f.bin",
    ]);
  });
});
