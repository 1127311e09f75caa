/**
 * One broken function among good ones, in a Fission spec folder, an OpenFaaS stack file and a
 * Kubeless file: the good ones deploy and answer, the broken one is named with its file (and
 * line), and the command fails.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { adminToken, startTestRunlet, tempDir, type TestRunlet } from "../helpers/runlet.js";

async function cli(runlet: TestRunlet, cwd: string, ...argv: string[]) {
  return runCli([...argv, "--gateway", runlet.url, "--token", adminToken], { cwd });
}

// As `fission spec init` and `fission fn create --spec` write them: one file per resource.
function fissionFunction(name: string, file: string, entrypoint: string): Record<string, string> {
  return {
    [`package-${name}.yaml`]: `include:
- ${file}
kind: ArchiveUploadSpec
name: ${name}-src
---
apiVersion: fission.io/v1
kind: Package
metadata:
  name: ${name}-pkg
  namespace: default
spec:
  deployment:
    type: url
    url: archive://${name}-src
  environment:
    name: nodejs
    namespace: default
`,
    [`function-${name}.yaml`]: `apiVersion: fission.io/v1
kind: Function
metadata:
  name: ${name}
  namespace: default
spec:
  environment:
    name: nodejs
    namespace: default
  package:
    functionName: ${JSON.stringify(entrypoint)}
    packageref:
      name: ${name}-pkg
      namespace: default
`,
  };
}

const helloJs = `module.exports = async function(context) {
    return { status: 200, body: "hello, world!\\n" };
}
`;

describe("a spec folder or stack file with one broken function", () => {
  it("Fission specs/: deploys the others, names the broken one and its file, exits 1", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    const cwd = await tempDir("runlet-broken-fission-");
    await mkdir(join(cwd, "specs"));
    await writeFile(join(cwd, "hello.js"), helloJs);
    await writeFile(join(cwd, "other.js"), helloJs.replace("hello, world", "other"));
    const files: Record<string, string> = {
      "env-nodejs.yaml": `apiVersion: fission.io/v1
kind: Environment
metadata:
  name: nodejs
  namespace: default
spec:
  runtime:
    image: fission/node-env
  version: 2
`,
      ...fissionFunction("hello", "hello.js", ""),
      ...fissionFunction("other", "other.js", ""),
      // Its entrypoint names a module the package does not have.
      ...fissionFunction("broken", "hello.js", "missing.handler"),
    };
    for (const [name, text] of Object.entries(files)) {
      await writeFile(join(cwd, "specs", name), text);
    }
    const result = await cli(runlet, cwd, "import", "fission", "specs");
    expect(result.code).toBe(1);
    expect(result.stdout).toContain("✔ hello deployed");
    expect(result.stdout).toContain("✔ other deployed");
    expect(result.stderr).toContain("1 function was not deployed:\n  broken: ");
    expect(result.stderr).toMatch(/broken: .*specs\/function-broken\.yaml: function broken: /);
    expect(result.stderr).toContain("Deployed: hello, other. Fix it and run the deploy again.");
    expect(await (await fetch(`${runlet.url}/function/hello`)).text()).toBe("hello, world!\n");
    expect(await (await fetch(`${runlet.url}/function/other`)).text()).toBe("other!\n");
    expect((await fetch(`${runlet.url}/function/broken`)).status).toBe(404);
  });

  it("OpenFaaS stack.yml: deploys the others, names the broken one with its line, exits 1", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    const cwd = await tempDir("runlet-broken-stack-");
    const handler = (text: string) => `"use strict"

module.exports = async (event, context) => {
  return context.status(200).succeed(${JSON.stringify(text)})
}
`;
    for (const name of ["good", "also-good", "loads-badly"]) {
      await mkdir(join(cwd, name));
    }
    await writeFile(join(cwd, "good", "handler.js"), handler("good"));
    await writeFile(join(cwd, "also-good", "handler.js"), handler("also good"));
    // Deploys, then fails to load: the platform's answer names it.
    await writeFile(join(cwd, "loads-badly", "handler.js"), "module.exports = async (event => {\n");
    await writeFile(
      join(cwd, "stack.yml"),
      `version: 1.0
provider:
  name: openfaas
  gateway: http://127.0.0.1:8080
functions:
  good:
    lang: node20
    handler: ./good
    image: good:latest
  cobol:
    lang: cobol
    handler: ./cobol
    image: cobol:latest
  loads-badly:
    lang: node20
    handler: ./loads-badly
    image: loads-badly:latest
  also-good:
    lang: node20
    handler: ./also-good
    image: also-good:latest
`,
    );
    const result = await cli(runlet, cwd, "deploy", "-f", "stack.yml");
    expect(result.code).toBe(1);
    expect(result.stdout).toContain("✔ good deployed");
    expect(result.stdout).toContain("✔ also-good deployed");
    expect(result.stderr).toContain("2 functions were not deployed:\n");
    expect(result.stderr).toMatch(
      /\n {2}cobol: .*stack\.yml:11: functions\.cobol\.lang: unknown lang "cobol"/,
    );
    expect(result.stderr).toMatch(
      /\n {2}loads-badly: The function failed to load: handler\.js:2: SyntaxError/,
    );
    expect(result.stderr).toContain(
      "Deployed: good, also-good. Fix them and run the deploy again.",
    );
    expect(await (await fetch(`${runlet.url}/function/good`)).text()).toBe("good");
    expect(await (await fetch(`${runlet.url}/function/also-good`)).text()).toBe("also good");
  });

  it("Kubeless: deploys the Functions it can, names the one with an unknown runtime, exits 1", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    const cwd = await tempDir("runlet-broken-kubeless-");
    const fn = (name: string, runtime: string) => `apiVersion: kubeless.io/v1beta1
kind: Function
metadata:
  name: ${name}
  namespace: default
spec:
  runtime: ${runtime}
  handler: hello.foo
  function-content-type: text
  function: |
    module.exports = { foo: function (event, context) { return "${name} says hi"; } };
`;
    await writeFile(
      join(cwd, "functions.yaml"),
      [fn("hello", "nodejs14"), fn("rubyist", "ruby2.6"), fn("again", "nodejs12")].join("---\n"),
    );
    const result = await cli(runlet, cwd, "import", "kubeless", "functions.yaml");
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /\n {2}rubyist: .*functions\.yaml: function rubyist: unknown runtime "ruby2\.6"/,
    );
    expect(result.stderr).toContain("Deployed: hello, again.");
    expect(await (await fetch(`${runlet.url}/function/hello`)).text()).toBe("hello says hi");
    expect(await (await fetch(`${runlet.url}/function/again`)).text()).toBe("again says hi");
  });
});
