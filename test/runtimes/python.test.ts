/** The Python runtime end to end: real Python instances behind a real platform. */
import { spawnSync } from "node:child_process";
import { cp, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRunlet } from "../../src/gateway/start.js";
import { pythonInterpreter } from "../../src/host/python-interpreter.js";
import { adminToken, eventually, withApi, type TestRunlet } from "../helpers/runlet.js";

interface ApiError {
  error: { code: string; message: string; file?: string; line?: number };
}

interface LogLine {
  callId?: string;
  stream: string;
  text: string;
}

let runlet: TestRunlet;
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "runlet-python-"));
  runlet = withApi(await startRunlet({ port: 0, adminToken, dataDir }), dataDir);
});

afterAll(async () => {
  await runlet.close(2000);
  await rm(dataDir, { recursive: true, force: true });
});

async function deployPython(
  name: string,
  files: Record<string, string>,
  spec: Record<string, unknown> = {},
): Promise<Response> {
  return runlet.deploy(name, files, { runtime: "python", ...spec });
}

async function deployed(
  name: string,
  files: Record<string, string>,
  spec: Record<string, unknown> = {},
): Promise<void> {
  const response = await deployPython(name, files, spec);
  expect(response.status, await response.clone().text()).toBe(201);
}

async function logs(name: string): Promise<LogLine[]> {
  const text = await (await runlet.api(`/api/v1/functions/${name}/logs`)).text();
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as LogLine);
}

async function coldStarts(name: string): Promise<number> {
  const fn = (await (await runlet.api(`/api/v1/functions/${name}`)).json()) as {
    instances: { coldStarts: number }[];
  };
  return fn.instances.reduce((sum, s) => sum + s.coldStarts, 0);
}

const invoke = (name: string, path = "", init?: RequestInit): Promise<Response> =>
  fetch(`${runlet.url}/function/${name}${path}`, init);

describe("python runtime", () => {
  it("turns return values into responses as the Node runtime does", async () => {
    await deployed("py-shapes", {
      "handler.py": `
def handle(event, context):
    if event.path == "/text":
        return "plain text"
    if event.path == "/bytes":
        return bytes([1, 2, 3])
    if event.path == "/none":
        return None
    if event.path == "/list":
        return [1, "two"]
    if event.path == "/created":
        return {"statusCode": 201, "headers": {"Location": "/things/1", "X-Many": ["a", "b"]}, "body": "made"}
    if event.path == "/teapot":
        return {"statusCode": 418, "body": {"short": True}}
    return {"n": 1}
`,
    });
    const text = await invoke("py-shapes", "/text");
    expect(text.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(await text.text()).toBe("plain text");
    const bytes = await invoke("py-shapes", "/bytes");
    expect(bytes.headers.get("content-type")).toBe("application/octet-stream");
    expect([...new Uint8Array(await bytes.arrayBuffer())]).toEqual([1, 2, 3]);
    expect((await invoke("py-shapes", "/none")).status).toBe(204);
    expect(await (await invoke("py-shapes", "/list")).json()).toEqual([1, "two"]);
    const created = await invoke("py-shapes", "/created");
    expect(created.status).toBe(201);
    expect(created.headers.get("location")).toBe("/things/1");
    expect(created.headers.get("x-many")).toBe("a, b");
    expect(await created.text()).toBe("made");
    const teapot = await invoke("py-shapes", "/teapot");
    expect(teapot.status).toBe(418);
    expect(teapot.headers.get("content-type")).toBe("application/json");
    expect(await teapot.json()).toEqual({ short: true });
    const plain = await invoke("py-shapes");
    expect(plain.headers.get("content-type")).toBe("application/json");
    expect(await plain.json()).toEqual({ n: 1 });
  });

  it("gives the handler method, path, query, headers, a parsed JSON body and its call", async () => {
    await deployed("py-echo", {
      "handler.py": `
async def handle(event, context):
    print("echo called", event.method, event.path)
    return {
        "method": event.method,
        "path": event.path,
        "query": event.query,
        "body": event["body"],
        "raw": event.raw_body.decode(),
        "header": event.headers.get("X-Test"),
        "callId": context.call_id,
        "function": context.function_name,
        "hasDeadline": 0 < context.remaining_time() <= 30,
    }
`,
    });
    const response = await invoke("py-echo", "/sub/path?a=1&a=2&b=x", {
      method: "POST",
      headers: { "content-type": "application/json", "x-test": "yes" },
      body: JSON.stringify({ n: 42 }),
    });
    expect(response.status).toBe(200);
    const callId = response.headers.get("x-call-id");
    expect(await response.json()).toEqual({
      method: "POST",
      path: "/sub/path",
      query: { a: ["1", "2"], b: "x" },
      body: { n: 42 },
      raw: '{"n":42}',
      header: "yes",
      callId,
      function: "py-echo",
      hasDeadline: true,
    });
    const text = await invoke("py-echo", "", {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: "just text",
    });
    expect(((await text.json()) as { body: unknown }).body).toBe("just text");
    await eventually(
      async () =>
        (await logs("py-echo")).some(
          (line) => line.callId === callId && line.text === "echo called POST /sub/path",
        ) || undefined,
      { what: "the print() line tagged with its call id" },
    );
  });

  it("streams a returned generator chunk by chunk instead of buffering it", async () => {
    // The generator blocks after its first chunk until a second call releases it: if anything
    // buffered, the first chunk could never arrive before the release.
    await deployed("py-stream", {
      "handler.py": `
import threading

released = threading.Event()

def handle(event, context):
    if event.path == "/release":
        released.set()
        return "released"
    def chunks():
        yield "first\\n"
        if not released.wait(20):
            raise TimeoutError("never released")
        yield b"second\\n"
    return {"statusCode": 200, "headers": {"content-type": "text/plain"}, "body": chunks()}
`,
    });
    const response = await invoke("py-stream");
    expect(response.headers.get("content-type")).toBe("text/plain");
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toBe("first\n");
    expect(await (await invoke("py-stream", "/release")).text()).toBe("released");
    let rest = "";
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      rest += new TextDecoder().decode(chunk.value);
    }
    expect(rest).toBe("second\n");
  });

  it("streams async generators, large ones too, and closes a stream whose caller left", async () => {
    await deployed("py-astream", {
      "handler.py": `
import asyncio

async def handle(event, context):
    if event.path == "/big":
        async def big():
            for i in range(48):
                yield bytes([65 + i % 26]) * 65536
        return big()
    async def forever():
        try:
            n = 0
            while True:
                n += 1
                yield "tick %d\\n" % n
                await asyncio.sleep(0.01)
        finally:
            print("stream closed, cancelled:", context.cancelled)
    return forever()
`,
    });
    // 3 MiB: more than the 1 MiB window the runtime may send ahead of the gateway's acks.
    const big = Buffer.from(await (await invoke("py-astream", "/big")).arrayBuffer());
    expect(big.length).toBe(48 * 65536);
    expect(big[0]).toBe(65);
    expect(big[big.length - 1]).toBe(65 + (47 % 26));
    const controller = new AbortController();
    const response = await invoke("py-astream", "/forever", { signal: controller.signal });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain("tick 1");
    controller.abort();
    await eventually(
      async () =>
        (await logs("py-astream")).some((l) => l.text === "stream closed, cancelled: True") ||
        undefined,
      { what: "the generator to be closed after the caller left" },
    );
  });

  it("answers 500 naming the exception, logs the traceback with the call id, and keeps serving", async () => {
    await deployed("py-thrower", {
      "handler.py": `
def handle(event, context):
    if event.query.get("fail"):
        parse_order(event)
    return "ok"

def parse_order(event):
    raise ValueError("cannot read the order")
`,
    });
    const failed = await invoke("py-thrower", "?fail=1");
    expect(failed.status).toBe(500);
    expect(failed.headers.get("x-runlet-error")).toBe("handler");
    const callId = failed.headers.get("x-call-id");
    expect(((await failed.json()) as ApiError).error).toEqual({
      code: "RUNLET_HANDLER_ERROR",
      message: "ValueError: cannot read the order",
    });
    expect(await (await invoke("py-thrower")).text()).toBe("ok");
    expect(await coldStarts("py-thrower")).toBe(1);
    const traceback = await eventually(
      async () => (await logs("py-thrower")).find((l) => l.text.startsWith("Traceback")),
      { what: "the traceback in the logs" },
    );
    expect(traceback.callId).toBe(callId);
    expect(traceback.stream).toBe("stderr");
    expect(traceback.text).toContain('handler.py", line 8, in parse_order');
    expect(traceback.text).toContain("ValueError: cannot read the order");
    // The runtime's own frames are left out: they are noise to the function's author.
    expect(traceback.text).not.toContain("runlet_runtime");
  });

  it("fails a deploy with a syntax error naming file and line, and the previous revision keeps serving", async () => {
    await deployed("py-app", { "handler.py": `def handle(event, context):\n    return "v1"\n` });
    expect(await (await invoke("py-app")).text()).toBe("v1");
    const broken = await deployPython("py-app", {
      "handler.py": `import os\n\ndef handle(event, context):\n    return "v2" +\n`,
    });
    expect(broken.status).toBe(400);
    const body = (await broken.json()) as ApiError;
    expect(body.error.code).toBe("RUNLET_HANDLER_SYNTAX");
    expect(body.error.file).toBe("handler.py");
    expect(body.error.line).toBe(4);
    expect(body.error.message).toContain("handler.py:4");
    expect(await (await invoke("py-app")).text()).toBe("v1");
  });

  it("names what is wrong when a handler does not load", async () => {
    const noHandle = await deployPython("py-nohandle", { "handler.py": `ANSWER = 42\n` });
    expect(noHandle.status).toBe(400);
    const noHandleBody = (await noHandle.json()) as ApiError;
    expect(noHandleBody.error.code).toBe("RUNLET_HANDLER_NO_EXPORT");
    expect(noHandleBody.error.message).toContain("def handle(event, context)");
    const missing = await deployPython("py-missing", { "main.py": `def handle(e, c): pass\n` });
    expect(((await missing.json()) as ApiError).error.code).toBe("RUNLET_HANDLER_NOT_FOUND");
    const importError = await deployPython("py-import", {
      "handler.py": `import json\nimport not_installed_anywhere\n\ndef handle(event, context):\n    return 1\n`,
    });
    const importBody = (await importError.json()) as ApiError;
    expect(importBody.error.code).toBe("RUNLET_HANDLER_LOAD_FAILED");
    expect(importBody.error.line).toBe(2);
    expect(importBody.error.message).toContain("No module named 'not_installed_anywhere'");
    // A syntax error in a module the handler imports names that module.
    const sibling = await deployPython("py-sibling-broken", {
      "handler.py": `from helpers import greet\n\ndef handle(event, context):\n    return greet()\n`,
      "helpers.py": `def greet(:\n    return "hi"\n`,
    });
    const siblingBody = (await sibling.json()) as ApiError;
    expect(siblingBody.error.code).toBe("RUNLET_HANDLER_SYNTAX");
    expect(siblingBody.error.file).toBe("helpers.py");
    expect(siblingBody.error.line).toBe(1);
    expect((await runlet.api("/api/v1/functions/py-nohandle")).status).toBe(404);
  });

  it("imports sibling modules, relative imports, and dependencies vendored in python_packages", async () => {
    await deployed(
      "py-imports",
      {
        "src/main.py": `
from helpers import shout
from .local import suffix
from function import helpers
from vendored_lib import version

def entry(event, context):
    return shout("hi") + suffix + " " + version + " " + helpers.shout("as in openfaas")
`,
        "src/local.py": `suffix = "?"\n`,
        "helpers.py": `def shout(text):\n    return text.upper() + "!"\n`,
        "python_packages/vendored_lib/__init__.py": `version = "vendored-1.0"\n`,
      },
      { handler: "src/main.py:entry" },
    );
    expect(await (await invoke("py-imports")).text()).toBe("HI!? vendored-1.0 AS IN OPENFAAS!");
  });

  it("runs sync handlers in parallel up to the concurrency on one instance", async () => {
    // Each call waits at a barrier for the other two: with calls run one at a time, none
    // would ever pass it.
    await deployed(
      "py-parallel",
      {
        "handler.py": `
import os, threading

barrier = threading.Barrier(3)

def handle(event, context):
    barrier.wait(20)
    return {"pid": os.getpid()}
`,
      },
      { scale: { max: 1, concurrency: 3 } },
    );
    const answers = await Promise.all([1, 2, 3].map(() => invoke("py-parallel")));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    const pids = await Promise.all(
      answers.map(async (a) => ((await a.json()) as { pid: number }).pid),
    );
    expect(new Set(pids).size).toBe(1);
    expect(await coldStarts("py-parallel")).toBe(1);
  });

  it("gives the function its environment and its secrets as files", async () => {
    const put = await runlet.api("/api/v1/secrets/py-api-key", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ value: "s3cr3t-value" }),
    });
    expect(put.status).toBe(201);
    await deployed(
      "py-config",
      {
        "handler.py": `
import os

def handle(event, context):
    with open(os.path.join(context.secrets_dir, "py-api-key")) as f:
        from_file = f.read()
    return {
        "greeting": os.environ.get("GREETING"),
        "fromFile": from_file,
        "viaContext": context.secret("py-api-key"),
        "unknown": context.secret("nope"),
    }
`,
      },
      { env: { GREETING: "hi" }, secrets: ["py-api-key"] },
    );
    expect(await (await invoke("py-config")).json()).toEqual({
      greeting: "hi",
      fromFile: "s3cr3t-value",
      viaContext: "s3cr3t-value",
      unknown: null,
    });
  });

  it("answers 504 when a handler sleeps past the timeout, replaces the instance, and the next call works", async () => {
    await deployed(
      "py-sleeper",
      {
        "handler.py": `
import time

def handle(event, context):
    if event.query.get("sleep"):
        time.sleep(60)
    return "fine"
`,
      },
      { timeout: "1s" },
    );
    const hung = await invoke("py-sleeper", "?sleep=1");
    expect(hung.status).toBe(504);
    expect(((await hung.json()) as ApiError).error.message).toContain("timed out after 1s");
    const next = await invoke("py-sleeper");
    expect(next.status).toBe(200);
    expect(await next.text()).toBe("fine");
    expect(await coldStarts("py-sleeper")).toBe(2);
  });

  it("answers 502 naming the exit cause when the instance dies mid-call, then recovers", async () => {
    await deployed("py-crasher", {
      "handler.py": `
import os, sys

def handle(event, context):
    if event.query.get("crash"):
        print("fatal error: giving up", file=sys.stderr, flush=True)
        os._exit(3)
    return "alive"
`,
    });
    const crashed = await invoke("py-crasher", "?crash=1");
    expect(crashed.status).toBe(502);
    expect(((await crashed.json()) as ApiError).error.message).toContain("exited with code 3");
    expect(await (await invoke("py-crasher")).text()).toBe("alive");
  });

  it("tags logging output with the call id too", async () => {
    await deployed("py-logging", {
      "handler.py": `
import logging

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
log = logging.getLogger("orders")

def handle(event, context):
    log.warning("order %s is late", event.query.get("id"))
    return "logged"
`,
    });
    const response = await invoke("py-logging", "?id=7");
    const callId = response.headers.get("x-call-id");
    expect(await response.text()).toBe("logged");
    const line = await eventually(
      async () => (await logs("py-logging")).find((l) => l.text === "WARNING order 7 is late"),
      { what: "the logging line" },
    );
    expect(line.callId).toBe(callId);
    expect(line.stream).toBe("stderr");
  });
});

describe("python compat: openfaas", () => {
  it("runs a python3-http handler unchanged", async () => {
    // As OpenFaaS's python3-http template documents its handlers.
    await deployed(
      "of-http",
      {
        "handler.py": `
def handle(event, context):
    if event.method == 'GET':
        return {
            "statusCode": 200,
            "body": {
                "name": event.query['name'],
                "content-type-received": event.headers.get('Content-Type'),
                "path": event.path,
                "hostname": context.hostname != ""
            },
            "headers": {
                "Location": "https://www.example.com/"
            }
        }
    else:
        return {
            "statusCode": 201,
            "body": "You said: " + str(event.body)
        }
`,
      },
      { compat: "openfaas" },
    );
    const get = await invoke("of-http", "/orders?name=ada&name=bob", {
      headers: { "content-type": "text/csv" },
    });
    expect(get.status).toBe(200);
    expect(get.headers.get("location")).toBe("https://www.example.com/");
    expect(get.headers.get("content-type")).toBe("application/json");
    expect(await get.json()).toEqual({
      name: "ada",
      "content-type-received": "text/csv",
      path: "/orders",
      hostname: true,
    });
    const post = await invoke("of-http", "", { method: "POST", body: "hello" });
    expect(post.status).toBe(201);
    expect(post.headers.get("content-type")).toBe("text/html; charset=utf-8");
    // event.body is bytes, as in OpenFaaS.
    expect(await post.text()).toBe("You said: b'hello'");
  });

  it("runs a classic python3 handler: the body in, what it returns (and prints) out", async () => {
    // As OpenFaaS's classic python3 template writes its handler.
    await deployed(
      "of-classic",
      {
        "handler.py": `
def handle(req):
    """handle a request to the function
    Args:
        req (str): request body
    """

    return req
`,
      },
      { compat: "openfaas" },
    );
    const echoed = await invoke("of-classic", "", { method: "POST", body: "Hi there" });
    expect(echoed.status).toBe(200);
    expect(await echoed.text()).toBe("Hi there\n");
    await deployed(
      "of-classic-print",
      {
        "handler.py": `
def handle(req):
    print("Hello, " + req)
`,
      },
      { compat: "openfaas" },
    );
    const printed = await invoke("of-classic-print", "", { method: "POST", body: "Ada" });
    expect(await printed.text()).toBe("Hello, Ada\n");
  });
});

describe("python compat: kubeless", () => {
  it("gives a kubeless handler its event dict and context, and sends a dict as JSON", async () => {
    await deployed(
      "kl-hello",
      {
        "handler.py": `
def hello(event, context):
    return {"got": event["data"], "function": context["function-name"], "statusCode": "as data"}
`,
      },
      { compat: "kubeless", handler: "handler.hello" },
    );
    const response = await invoke("kl-hello", "", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ a: 1 }),
    });
    expect(await response.json()).toEqual({
      got: { a: 1 },
      function: "kl-hello",
      statusCode: "as data",
    });
  });

  it("gives extensions.request Bottle's request API and the event metadata from the headers", async () => {
    // As Kubeless' Python examples read the request (its runtime is a Bottle app).
    await deployed(
      "kl-bottle",
      {
        "handler.py": `
def inspect(event, context):
    request = event["extensions"]["request"]
    return {
        "token": request.get_header("x-token"),
        "missing": request.get_header("x-none", "default"),
        "json": request.json,
        "body": request.body.read().decode(),
        "q": request.query.get("q"),
        "method": request.method,
        "path": request.path,
        "id": event["event-id"],
        "type": event["event-type"],
        "namespace": event["event-namespace"],
    }
`,
      },
      { compat: "kubeless", handler: "handler.inspect" },
    );
    const response = await invoke("kl-bottle", "/sub?q=1", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-token": "t0k",
        "event-id": "evt-7",
        "event-type": "com.example.order",
        "event-namespace": "orders",
      },
      body: JSON.stringify({ a: 1 }),
    });
    expect(await response.json()).toEqual({
      token: "t0k",
      missing: "default",
      json: { a: 1 },
      body: '{"a":1}',
      q: "1",
      method: "POST",
      path: "/sub",
      id: "evt-7",
      type: "com.example.order",
      namespace: "orders",
    });
  });
});

describe("python compat: fission", () => {
  it("runs main() handlers that read flask.request, as Fission's Python environment does", async () => {
    // As Fission's Python examples write their handlers.
    await deployed(
      "fi-request",
      {
        "main.py": `
from flask import request
from flask import current_app

def main():
    current_app.logger.info("Received request")
    msg = "---HEADERS---\\n%s\\n--BODY--\\n%s\\n-----\\n" % (request.headers, request.get_data())
    return msg
`,
      },
      { compat: "fission", handler: "main.main" },
    );
    const response = await invoke("fi-request", "", {
      method: "POST",
      headers: { "content-type": "text/plain", "x-order": "7" },
      body: "hello",
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const text = await response.text();
    expect(text).toContain("X-Order: 7\r\n");
    expect(text).toContain("--BODY--\nb'hello'\n");
    await eventually(
      async () =>
        (await logs("fi-request")).some((l) => l.text === "Received request") || undefined,
      { what: "the current_app.logger line" },
    );
    await deployed(
      "fi-shapes",
      {
        "user.py": `
from flask import request, redirect, jsonify, abort

def main():
    if request.path == "/missing":
        return "Not Found\\n", 404
    if request.path == "/add":
        return redirect("/guestbook?item=" + request.form["text"], code=303)
    if request.path == "/json":
        return jsonify(name=request.args.get("name"), body=request.get_json())
    abort(403)
`,
      },
      { compat: "fission", handler: "user.main" },
    );
    const missing = await invoke("fi-shapes", "/missing");
    expect(missing.status).toBe(404);
    expect(await missing.text()).toBe("Not Found\n");
    const added = await invoke("fi-shapes", "/add", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "text=hi",
      redirect: "manual",
    });
    expect(added.status).toBe(303);
    expect(added.headers.get("location")).toBe("/guestbook?item=hi");
    const json = await invoke("fi-shapes", "/json?name=ada", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ n: 1 }),
    });
    expect(json.headers.get("content-type")).toBe("application/json");
    expect(await json.json()).toEqual({ name: "ada", body: { n: 1 } });
    expect((await invoke("fi-shapes", "/other")).status).toBe(403);
  });
});

describe("without a usable Python", () => {
  async function withPython<T>(path: string, run: () => Promise<T>): Promise<T> {
    const previous = process.env["RUNLET_PYTHON"];
    process.env["RUNLET_PYTHON"] = path;
    try {
      return await run();
    } finally {
      if (previous === undefined) {
        delete process.env["RUNLET_PYTHON"];
      } else {
        process.env["RUNLET_PYTHON"] = previous;
      }
    }
  }

  it("says which Python it needs and what to install", async () => {
    const dir = await mkdtemp(join(tmpdir(), "runlet-oldpython-"));
    try {
      const old = join(dir, "python3");
      await writeFile(old, "#!/bin/sh\necho /opt/old/bin/python3\necho 3.8\n", { mode: 0o755 });
      await withPython(old, async () => {
        expect(() => pythonInterpreter()).toThrow(
          expect.objectContaining({
            code: "RUNLET_UNSUPPORTED_RUNTIME",
            message: expect.stringMatching(
              /Python 3\.9 or newer .*python3: Python 3\.8 is too old.*apt-get install python3.*RUNLET_PYTHON/,
            ) as unknown,
          }),
        );
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    await withPython("/nonexistent/python3", async () => {
      // Its own platform: the shared one already has Python instances in its warm pool.
      const bare = withApi(
        await startRunlet({ port: 0, adminToken, dataDir: join(dataDir, "bare") }),
        join(dataDir, "bare"),
      );
      let status: number;
      let body: ApiError;
      try {
        const response = await bare.deploy(
          "py-nopython",
          { "handler.py": `def handle(e, c):\n    return 1\n` },
          { runtime: "python" },
        );
        status = response.status;
        body = (await response.json()) as ApiError;
      } finally {
        await bare.close(2000);
      }
      expect(status).toBe(400);
      expect(body.error.code).toBe("RUNLET_UNSUPPORTED_RUNTIME");
      expect(body.error.message).toContain("/nonexistent/python3: ENOENT");
    });
  });
});

describe("python template", () => {
  const templateDir = fileURLToPath(new URL("../../templates/python/", import.meta.url));

  it("passes its own test with python3 -m unittest", async () => {
    const dir = await mkdtemp(join(tmpdir(), "runlet-pytemplate-"));
    try {
      await cp(templateDir, dir, { recursive: true });
      const result = spawnSync(pythonInterpreter(), ["-m", "unittest", "-v"], {
        cwd: dir,
        encoding: "utf8",
        env: { PATH: process.env["PATH"] ?? "", PYTHONDONTWRITEBYTECODE: "1" },
      });
      expect(result.status, result.stderr).toBe(0);
      expect(result.stderr).toMatch(/Ran [1-9]\d* tests?/);
      expect(result.stderr).toContain("OK");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("deploys and answers as its test says", async () => {
    const files: Record<string, string> = {};
    for (const name of await readdir(templateDir)) {
      if (name.endsWith(".py")) {
        files[name] = await readFile(join(templateDir, name), "utf8");
      }
    }
    await deployed("py-template", files);
    const response = await invoke("py-template", "?name=Ada");
    expect(await response.json()).toEqual({ message: "Hello, Ada!" });
  });
});
