/**
 * Fission entrypoints (issue 17): `--handler` takes what `fission fn create --entrypoint`
 * takes, resolved against the package as Fission's Node and Python environments do, and a
 * function deployed without one finds its main file as under Fission.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { resolveFissionEntrypoint, type PackageFiles } from "../../src/spec/fission-entrypoint.js";
import { runCli } from "../helpers/cli.js";
import { adminToken, startTestRunlet, tempDir } from "../helpers/runlet.js";

function filesOf(paths: readonly string[], main?: string): PackageFiles {
  return {
    has: (path) => paths.includes(path),
    topLevel: () => paths.filter((path) => !path.includes("/")),
    packageMain: () => main,
  };
}

describe("Fission entrypoints, resolved against the package", () => {
  it.each([
    ["node", "hello", ["hello.js"], "hello.js"],
    ["node", "hello.js", ["hello.js"], "hello.js"],
    ["node", "hello.main", ["hello.js"], "hello.js:main"],
    ["node", "lib/greet.handler", ["lib/greet.js", "index.js"], "lib/greet.js:handler"],
    ["node", "greet.handler", ["greet/index.js"], "greet/index.js:handler"],
    ["node", "", ["only.mjs", "README.md"], "only.mjs"],
    ["node", "", ["a.js", "b.js", "index.js"], "index.js"],
    ["python", "", ["main.py", "util.py"], "main.py:main"],
    ["python", "", ["hello.py"], "hello.py:main"],
    ["python", "hello", ["main.py"], "main.py:hello"],
    ["python", "hello", ["hello.py"], "hello.py:main"],
    ["python", "hello.main", ["hello.py"], "hello.py:main"],
    [
      "python",
      "sub_mod.altmain.entrypoint",
      ["main.py", "sub_mod/altmain.py"],
      "sub_mod/altmain.py:entrypoint",
    ],
    ["python", "pkg.run", ["pkg/__init__.py"], "pkg/__init__.py:run"],
  ] as const)("%s %j in %j is %s", (runtime, entrypoint, files, handler) => {
    expect(resolveFissionEntrypoint(entrypoint, runtime, filesOf(files))).toEqual({ handler });
  });

  it("takes the package.json main of a Node package with several scripts", () => {
    const files = filesOf(["a.js", "b.js", "src/server.js"], "./src/server");
    expect(resolveFissionEntrypoint("", "node", files)).toEqual({ handler: "src/server.js" });
  });

  it("says what it looked for when the entrypoint names nothing", () => {
    expect(resolveFissionEntrypoint("missing.fn", "python", filesOf(["main.py"]))).toEqual({
      problem: 'entrypoint "missing.fn" names no module',
      tried: ["missing.py", "missing/__init__.py"],
    });
    expect(resolveFissionEntrypoint("", "node", filesOf(["a.js", "b.js"]))).toMatchObject({
      problem: "no entrypoint is given and the package has no main script",
    });
  });
});

describe("runlet deploy --compat fission with Fission's entrypoints", () => {
  it("deploys Fission-style Node and Python functions as `fission fn create` names them", async () => {
    const runlet = await startTestRunlet();
    const cwd = await tempDir("runlet-fission-entry-");
    const env = { RUNLET_GATEWAY: runlet.url, RUNLET_TOKEN: adminToken };
    const write = async (path: string, text: string) => {
      await mkdir(dirname(join(cwd, path)), { recursive: true });
      await writeFile(join(cwd, path), text);
    };
    // Fission's nodejs hello world, deployed with --entrypoint hello (a module name).
    await write(
      "node-hello/hello.js",
      'module.exports = async function (context) {\n  return { status: 200, body: "hello, world!\\n" };\n};\n',
    );
    // Fission's python hello world: main.py with main(), no entrypoint (main.main).
    await write("py-hello/main.py", 'def main():\n    return "Hello, world!"\n');
    // Fission's multi-file python example: a dotted module entrypoint.
    await write("py-multi/main.py", 'def main():\n    return "THIS IS MAIN"\n');
    await write(
      "py-multi/sub_mod/altmain.py",
      'def entrypoint():\n    return "THIS IS ALTMAIN ENTRYPOINT"\n',
    );
    // A bare function name: a function of main.py.
    await write(
      "py-bare/main.py",
      'def main():\n    return "main"\n\ndef hola():\n    return "hola"\n',
    );

    const deploy = (name: string, runtime: string, handler?: string) =>
      runCli(
        [
          "deploy",
          name,
          "--runtime",
          runtime,
          "--source",
          name,
          "--compat",
          "fission",
          ...(handler === undefined ? [] : ["--handler", handler]),
        ],
        { cwd, env },
      );
    for (const [name, runtime, handler] of [
      ["node-hello", "node", "hello"],
      ["py-hello", "python", undefined],
      ["py-multi", "python", "sub_mod.altmain.entrypoint"],
      ["py-bare", "python", "hola"],
    ] as const) {
      const result = await deploy(name, runtime, handler);
      expect({ name, code: result.code, stderr: result.stderr }).toMatchObject({ code: 0 });
    }
    const call = async (name: string) => (await fetch(`${runlet.url}/function/${name}`)).text();
    expect(await call("node-hello")).toBe("hello, world!\n");
    expect(await call("py-hello")).toBe("Hello, world!");
    expect(await call("py-multi")).toBe("THIS IS ALTMAIN ENTRYPOINT");
    expect(await call("py-bare")).toBe("hola");

    const wrong = await deploy("py-hello", "python", "nowhere.fn");
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain(
      'entrypoint "nowhere.fn" names no module (looked for nowhere.py, nowhere/__init__.py)',
    );
  });
});
