/**
 * OpenFaaS classic templates and the classic watchdog's behaviour (issue 17): the per-call
 * Http_* environment a python3 handler reads, combine_output, exec_timeout and Swarm memory
 * units from stack.yml, an fprocess-style function with no code of its own, and a stack file
 * deployed one function at a time while another names a lang Runlet has no template for.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { adminToken, startTestRunlet, tempDir } from "../helpers/runlet.js";

async function writeFiles(root: string, files: Record<string, string>): Promise<void> {
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), text);
  }
}

// The python3 (classic) template's handler, as `faas-cli new --lang python3` writes it, reading
// what the classic watchdog puts in the environment.
const classicHandler = `import os
import sys
import time


def handle(req):
    if os.getenv("Http_Path") == "/slow":
        time.sleep(0.3)
    if os.getenv("Http_Query") == "fail-loudly=1":
        print("to stderr", file=sys.stderr)
    if os.getenv("Http_Path") in ("/slow", "/fast"):
        return "%s %s %s" % (os.getenv("Http_Method"), os.getenv("Http_Path"), os.getpid())
    return "%s %s %s %s %s" % (
        os.getenv("Http_Method"),
        os.getenv("Http_Path"),
        os.getenv("Http_Query"),
        os.getenv("Http_X_Custom", "-"),
        req,
    )
`;

const stack = `version: 1.0
provider:
  name: openfaas
  gateway: http://127.0.0.1:8080
functions:
  classic:
    lang: python3
    handler: ./classic
    image: classic:latest
    environment:
      exec_timeout: 5s
    limits:
      memory: 30m
  quiet:
    lang: python3
    handler: ./classic
    image: quiet:latest
    environment:
      combine_output: false
  sleepy:
    lang: python3
    handler: ./sleepy
    image: sleepy:latest
    environment:
      exec_timeout: 1
  nodeclassic:
    lang: node
    handler: ./nodeclassic
    image: nodeclassic:latest
  nodecallback:
    lang: node
    handler: ./nodecallback
    image: nodecallback:latest
  rubyfn:
    lang: ruby
    handler: ./rubyfn
    image: rubyfn:latest
`;

describe("OpenFaaS classic watchdog behaviour", () => {
  it("runs classic python3 handlers with the watchdog's environment, output and limits", async () => {
    const runlet = await startTestRunlet();
    const cwd = await tempDir("runlet-classic-");
    const env = { RUNLET_GATEWAY: runlet.url, RUNLET_TOKEN: adminToken };
    await writeFiles(cwd, {
      "stack.yml": stack,
      "classic/handler.py": classicHandler,
      "classic/requirements.txt": "",
      "sleepy/handler.py":
        "import time\n\n\ndef handle(req):\n    time.sleep(3)\n    return 'late'\n",
      "rubyfn/handler.rb": "class Handler\nend\n",
      // The classic node template's handler as faas-cli new --lang node writes it.
      "nodeclassic/handler.js":
        '"use strict"\n\nmodule.exports = async (context, callback) => {\n    return {status: "done", got: context}\n}\n',
      "nodecallback/handler.js":
        '"use strict"\n\nmodule.exports = (context, callback) => {\n    if (context === "fail") { callback(new Error("bad input"), undefined); return; }\n    callback(undefined, "Hi " + context);\n}\n',
    });
    const cli = (argv: string[]) => runCli(argv, { cwd, env });

    // The whole file: the Ruby function's lang is refused, with what to do about it.
    const all = await cli(["deploy", "-f", "stack.yml"]);
    expect(all.code).toBe(1);
    expect(all.stderr).toContain('unknown lang "ruby"');
    // Named functions deploy although another one of the file cannot.
    const some = await cli([
      "deploy",
      "-f",
      "stack.yml",
      "classic",
      "quiet",
      "sleepy",
      "nodeclassic",
      "nodecallback",
    ]);
    expect({ code: some.code, stderr: some.stderr }).toMatchObject({ code: 0 });
    expect(some.stderr).toContain("rubyfn");

    const call = (name: string, path = "", init?: RequestInit) =>
      fetch(`${runlet.url}/function/${name}${path}`, init);
    const answer = await call("classic", "/some/where?a=1&b=two", {
      method: "POST",
      body: "hello",
      headers: { "X-Custom": "yes" },
    });
    expect(answer.status).toBe(200);
    expect(await answer.text()).toBe("POST /some/where a=1&b=two yes hello\n");

    // Calls at once each see their own variables, though one process serves them.
    const [slow, fast] = await Promise.all([
      call("classic", "/slow?x=1").then((r) => r.text()),
      (async () => {
        await new Promise((resolve) => setTimeout(resolve, 50));
        return (await call("classic", "/fast?y=2", { method: "PUT" })).text();
      })(),
    ]);
    const [, slowPid] = /^GET \/slow (\d+)\n$/.exec(slow) ?? [];
    expect(slowPid).toBeDefined();
    expect(fast).toBe(`PUT /fast ${slowPid}\n`);

    // combine_output (on by default, as in the classic watchdog): stderr is in the answer.
    expect(await (await call("classic", "/?fail-loudly=1")).text()).toBe(
      "to stderr\nGET / fail-loudly=1 - \n",
    );
    expect(await (await call("quiet", "/?fail-loudly=1")).text()).toBe("GET / fail-loudly=1 - \n");

    // The classic node template: the body as a string in, JSON (with console.log's newline)
    // or text out, and an error as a 500.
    const done = await call("nodeclassic", "", { method: "POST", body: "abc" });
    expect(await done.text()).toBe('{"status":"done","got":"abc"}\n');
    expect(await (await call("nodecallback", "", { method: "POST", body: "Ada" })).text()).toBe(
      "Hi Ada",
    );
    const failed = await call("nodecallback", "", { method: "POST", body: "fail" });
    expect(failed.status).toBe(500);
    expect(await failed.text()).toBe("Error: bad input\n");

    // exec_timeout: 1 (whole seconds) is the function's timeout.
    const late = await call("sleepy");
    expect(late.status).toBe(504);
    const described = (await (
      await fetch(`${runlet.url}/system/function/classic`, {
        headers: { authorization: `Bearer ${adminToken}` },
      })
    ).json()) as { limits: { memory: string } };
    // Swarm's 30m is 30 MiB (as a Kubernetes quantity it would be 0.03 bytes).
    expect(described.limits.memory).toBe("30Mi");
  });

  it("deploys an fprocess-style function with no source folder", async () => {
    const runlet = await startTestRunlet();
    const cwd = await tempDir("runlet-fprocess-");
    const env = { RUNLET_GATEWAY: runlet.url, RUNLET_TOKEN: adminToken };
    const deployed = await runCli(
      ["deploy", "upper", "--runtime", "exec", "--command", "tr a-z A-Z"],
      { cwd, env },
    );
    expect({ code: deployed.code, stderr: deployed.stderr }).toMatchObject({ code: 0 });
    const answer = await fetch(`${runlet.url}/function/upper`, { method: "POST", body: "hello" });
    expect(await answer.text()).toBe("HELLO");
    // A folder that is named must exist.
    const named = await runCli(
      ["deploy", "upper", "--runtime", "exec", "--command", "tr a-z A-Z", "--source", "nowhere"],
      { cwd, env },
    );
    expect(named.code).toBe(1);
    expect(named.stderr).toContain("does not exist");
  });

  it("gives the classic node template's handler the watchdog's Http_* variables and its printed output in the answer", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    // As the classic node template's handler.js is written, printing as such handlers do.
    const handler = `"use strict"

module.exports = (context, callback) => {
    console.log("seen " + process.env.Http_Method + " " + process.env.Http_Path + " " +
        process.env.Http_Query + " " + process.env.Http_X_Custom);
    console.error("to stderr");
    callback(undefined, {status: "done", got: context});
}
`;
    const deployed = await runlet.deploy(
      "nodeclassic",
      { "handler.js": handler },
      { runtime: "node", compat: "openfaas-classic", handler: "handler.js" },
    );
    expect(deployed.status, await deployed.clone().text()).toBeLessThan(300);
    const answer = await fetch(`${runlet.url}/function/nodeclassic/sub?a=1`, {
      method: "POST",
      headers: { "x-custom": "yes" },
      body: "abc",
    });
    // Stdout first, then stderr (combine_output's default), then the callback's result.
    expect(await answer.text()).toBe(
      'seen POST /sub a=1 yes\nto stderr\n{"status":"done","got":"abc"}\n',
    );
    // The next call sees its own variables only: nothing of the one before.
    const plain = await fetch(`${runlet.url}/function/nodeclassic`);
    expect(await plain.text()).toBe(
      'seen GET /  undefined\nto stderr\n{"status":"done","got":""}\n',
    );
  });
});
