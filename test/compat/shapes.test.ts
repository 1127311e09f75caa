/**
 * Each compatibility shape with a function written the way that platform's own docs write
 * it, deployed through the API and called through the gateway.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { adminToken, startTestRunlet, tempDir } from "../helpers/runlet.js";

describe("OpenFaaS node template shape", () => {
  it("passes event {body, headers, method, query, path}; context sets status and headers", async () => {
    const runlet = await startTestRunlet();
    const handler = `'use strict'

module.exports = async (event, context) => {
  const result = {
    'body': JSON.stringify(event.body),
    'content-type': event.headers["content-type"],
    'method': event.method,
    'query': event.query,
    'path': event.path
  }

  return context
    .status(201)
    .headers({'X-Fn': 'of'})
    .succeed(result)
}
`;
    const deployed = await runlet.deploy(
      "of-echo",
      { "handler.js": handler, "package.json": '{"name":"openfaas-function","version":"1.0.0"}' },
      { handler: "handler.js", compat: "openfaas" },
    );
    expect(deployed.status).toBeLessThan(300);

    const json = await fetch(`${runlet.url}/function/of-echo/items/7?color=red`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ n: 1 }),
    });
    expect(json.status).toBe(201);
    expect(json.headers.get("x-fn")).toBe("of");
    // The template sends JSON.stringify(result) with res.send, which Express types as HTML.
    expect(json.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(await json.json()).toEqual({
      body: '{"n":1}',
      "content-type": "application/json",
      method: "POST",
      query: { color: "red" },
      path: "/items/7",
    });

    // No content type: the template reads the body as text/plain.
    const text = await fetch(`${runlet.url}/function/of-echo`, {
      method: "POST",
      body: Buffer.from("hi"),
    });
    expect((await text.json()) as { body: string; "content-type": string }).toMatchObject({
      body: '"hi"',
      "content-type": "text/plain",
    });

    // A GET has no body: the parsers leave {}.
    const get = await fetch(`${runlet.url}/function/of-echo`);
    expect(((await get.json()) as { body: string }).body).toBe("{}");
  });

  it("answers context.fail with 500 and the error text, and a plain return as the body", async () => {
    const runlet = await startTestRunlet();
    const handler = `'use strict'

module.exports = async (event, context) => {
  if (event.query.fail) {
    return context.fail(new Error('Unable to process this event.'))
  }
  if (event.query.missing) {
    return context.status(404).succeed({ message: 'The record requested was not found.' })
  }
  return 'Hello ' + (event.body.name || 'world')
}
`;
    await runlet.deploy(
      "of-fail",
      { "handler.js": handler },
      {
        handler: "handler.js",
        compat: "openfaas",
      },
    );
    const failed = await fetch(`${runlet.url}/function/of-fail?fail=1`);
    expect(failed.status).toBe(500);
    expect(await failed.text()).toBe("Error: Unable to process this event.");
    const missing = await fetch(`${runlet.url}/function/of-fail?missing=1`);
    expect(missing.status).toBe(404);
    expect(await missing.text()).toBe('{"message":"The record requested was not found."}');
    const hello = await fetch(`${runlet.url}/function/of-fail`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"name":"Ada"}',
    });
    expect(hello.status).toBe(200);
    expect(await hello.text()).toBe("Hello Ada");
  });
});

describe("Fission Node environment shape", () => {
  it("calls module.exports = async function (context) and sends {status, body, headers}", async () => {
    const runlet = await startTestRunlet();
    const hello = `module.exports = async function(context) {
    console.log(context.request.headers);
    return {
        status: 200,
        body: "hello, world!\\n"
    };
}
`;
    const echo = `module.exports = async function(context) {
    const b = context.request.body;
    return {
        status: 202,
        body: {
            received: b,
            method: context.request.method,
            q: context.request.query.q,
            fn: context.request.headers['x-fission-function-name'],
        },
        headers: { 'X-Fission': 'yes' }
    };
}
`;
    await runlet.deploy(
      "fi-hello",
      { "hello.js": hello },
      {
        handler: "hello.js",
        compat: "fission",
      },
    );
    const answer = await fetch(`${runlet.url}/function/fi-hello`);
    expect(answer.status).toBe(200);
    expect(answer.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(await answer.text()).toBe("hello, world!\n");

    await runlet.deploy("fi-echo", { "echo.js": echo }, { handler: "echo.js", compat: "fission" });
    const echoed = await fetch(`${runlet.url}/function/fi-echo?q=x`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: '{"a":[1,2]}',
    });
    expect(echoed.status).toBe(202);
    expect(echoed.headers.get("x-fission")).toBe("yes");
    expect(echoed.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(await echoed.json()).toEqual({
      received: { a: [1, 2] },
      method: "PUT",
      q: "x",
      fn: "fi-echo",
    });
  });

  it("takes a callback (context, callback), answers on context.response, and fails with 500", async () => {
    const runlet = await startTestRunlet();
    const source = `module.exports = {
  viaCallback: function (context, callback) {
    callback(201, 'made it', { 'Content-Type': 'text/plain' });
  },
  viaResponse: async function (context) {
    context.response.status(203).json({ direct: true });
  },
  broken: async function (context) {
    throw new Error('boom');
  },
  brokenWithCallback: async function (context, callback) {
    if (context.request.query.pid !== undefined) {
      callback(200, String(process.pid));
      return;
    }
    throw new Error('boom');
  },
};
`;
    for (const name of ["viaCallback", "viaResponse", "broken", "brokenWithCallback"]) {
      const deployed = await runlet.deploy(
        `fi-${name.toLowerCase()}`,
        { "multi.js": source },
        {
          handler: `multi.js:${name}`,
          compat: "fission",
        },
      );
      expect(deployed.status).toBeLessThan(300);
    }
    const viaCallback = await fetch(`${runlet.url}/function/fi-viacallback`);
    expect(viaCallback.status).toBe(201);
    expect(viaCallback.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(await viaCallback.text()).toBe("made it");
    const viaResponse = await fetch(`${runlet.url}/function/fi-viaresponse`);
    expect(viaResponse.status).toBe(203);
    expect(await viaResponse.json()).toEqual({ direct: true });
    const broken = await fetch(`${runlet.url}/function/fi-broken`);
    expect(broken.status).toBe(500);
    expect(await broken.text()).toBe("Internal server error");
    // An async (context, callback) function that throws: a 500, and the instance stays.
    const pid = async () =>
      (await fetch(`${runlet.url}/function/fi-brokenwithcallback?pid`)).text();
    const before = await pid();
    for (let attempt = 0; attempt < 3; attempt++) {
      const thrown = await fetch(`${runlet.url}/function/fi-brokenwithcallback`);
      expect(thrown.status).toBe(500);
      expect(await thrown.text()).toBe("Internal server error");
    }
    expect(await pid()).toBe(before);
  });
});

describe("Kubeless Node runtime shape", () => {
  it("passes event.data and extensions, context, and answers with CORS open", async () => {
    const runlet = await startTestRunlet();
    const source = `module.exports = {
  foo: function (event, context) {
    console.log(event);
    return event.data;
  },
  info: function (event, context) {
    return {
      id: event['event-id'],
      type: event['event-type'],
      name: context['function-name'],
      timeout: context.timeout,
      path: event.extensions.request.path,
      hasResponse: typeof event.extensions.response.end === 'function',
    };
  },
  greet: async function (event, context) {
    return 'Hello ' + event.data;
  },
};
`;
    for (const fn of ["foo", "info", "greet"]) {
      const deployed = await runlet.deploy(
        `kl-${fn}`,
        { "test.js": source },
        {
          handler: `test.js:${fn}`,
          compat: "kubeless",
          timeout: "20s",
        },
      );
      expect(deployed.status).toBeLessThan(300);
    }
    const echoed = await fetch(`${runlet.url}/function/kl-foo`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"hello":"world"}',
    });
    expect(echoed.status).toBe(200);
    expect(echoed.headers.get("access-control-allow-origin")).toBe("*");
    expect(echoed.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(await echoed.json()).toEqual({ hello: "world" });

    const info = await fetch(`${runlet.url}/function/kl-info/sub`, {
      headers: { "event-id": "abc", "event-type": "application/json" },
    });
    expect(await info.json()).toEqual({
      id: "abc",
      type: "application/json",
      name: "info",
      timeout: 20,
      path: "/sub",
      hasResponse: true,
    });

    const greeted = await fetch(`${runlet.url}/function/kl-greet`, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: "Ada",
    });
    expect(greeted.status).toBe(200);
    // A string is written as it is: no content type.
    expect(greeted.headers.get("content-type")).toBeNull();
    expect(await greeted.text()).toBe("Hello Ada");

    const preflight = await fetch(`${runlet.url}/function/kl-foo`, {
      method: "OPTIONS",
      headers: { "access-control-request-method": "PUT" },
    });
    expect(preflight.status).toBe(200);
    expect(preflight.headers.get("access-control-allow-methods")).toBe("PUT");
  });
});

describe("Kubeless extensions.request and extensions.response are streams", () => {
  it("reads the request as a stream and pipes an answer into the response", async () => {
    const runlet = await startTestRunlet();
    // As Kubeless examples do: multer/busboy read extensions.request, files are piped out.
    const source = `const { Readable, Transform, pipeline } = require('stream');
module.exports = {
  count: (event) => new Promise((resolve, reject) => {
    const req = event.extensions.request;
    let bytes = 0;
    req.on('data', (chunk) => { bytes += chunk.length; });
    req.on('end', () => resolve({ bytes, type: req.headers['content-type'] }));
    req.on('error', reject);
  }),
  piped: (event) => {
    const res = event.extensions.response;
    res.setHeader('content-type', 'text/plain');
    Readable.from(['one ', 'two ', 'three']).pipe(res);
  },
  upper: (event) => new Promise((resolve, reject) => {
    const shout = new Transform({ transform(chunk, _e, done) { done(null, chunk.toString().toUpperCase()); } });
    pipeline(event.extensions.request, shout, event.extensions.response, (err) => err ? reject(err) : resolve());
  }),
};
`;
    for (const fn of ["count", "piped", "upper"]) {
      const deployed = await runlet.deploy(
        `kls-${fn}`,
        { "streams.js": source },
        { handler: `streams.js:${fn}`, compat: "kubeless" },
      );
      expect(deployed.status).toBeLessThan(300);
    }
    const form = new FormData();
    form.append("file", new Blob([Buffer.alloc(1000, 1)]), "data.bin");
    const counted = await fetch(`${runlet.url}/function/kls-count`, { method: "POST", body: form });
    const count = (await counted.json()) as { bytes: number; type: string };
    expect(count.type).toMatch(/^multipart\/form-data; boundary=/);
    expect(count.bytes).toBeGreaterThan(1000);
    const piped = await fetch(`${runlet.url}/function/kls-piped`);
    expect(piped.status).toBe(200);
    expect(await piped.text()).toBe("one two three");
    const upper = await fetch(`${runlet.url}/function/kls-upper`, {
      method: "POST",
      body: "quiet",
    });
    expect(await upper.text()).toBe("QUIET");
  });
});

describe("Kubeless timeouts", () => {
  it("answers a call past the function's timeout with 408, as Kubeless' runtimes do", async () => {
    const runlet = await startTestRunlet();
    const source = "module.exports = { wait: () => new Promise(() => {}) };\n";
    for (const [name, compat] of [
      ["kl-wait", "kubeless"],
      ["plain-wait", undefined],
    ] as const) {
      const deployed = await runlet.deploy(
        name,
        { "test.js": source },
        { handler: "test.js:wait", timeout: "1s", ...(compat ? { compat } : {}) },
      );
      expect(deployed.status).toBeLessThan(300);
    }
    const late = await fetch(`${runlet.url}/function/kl-wait`);
    expect(late.status).toBe(408);
    expect(await late.json()).toMatchObject({ error: { code: "RUNLET_FUNCTION_TIMEOUT" } });
    // Runlet's own shape keeps its 504.
    expect((await fetch(`${runlet.url}/function/plain-wait`)).status).toBe(504);
  });
});

describe("runlet deploy --compat", () => {
  it("deploys a folder with a platform's shape, and refuses an unknown one with the known ones", async () => {
    const runlet = await startTestRunlet();
    const cwd = await tempDir("runlet-compat-");
    await writeFile(
      join(cwd, "test.js"),
      `module.exports = { foo: function (event, context) { return 'got ' + event.data; } }\n`,
    );
    const env = { RUNLET_GATEWAY: runlet.url, RUNLET_TOKEN: adminToken };
    const cli = (argv: string[]) => runCli(argv, { cwd, env });
    const deployed = await cli([
      "deploy",
      "kl",
      "--runtime",
      "node",
      "--source",
      ".",
      "--handler",
      "test.foo",
      "--compat",
      "kubeless",
    ]);
    expect(deployed.code).toBe(0);
    const answer = await fetch(`${runlet.url}/function/kl`, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: "it",
    });
    expect(answer.headers.get("access-control-allow-origin")).toBe("*");
    expect(await answer.text()).toBe("got it");

    const unknown = await cli(["deploy", "x", "--source", ".", "--compat", "lambda"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/compat.*openfaas.*fission.*kubeless/);

    const exec = await cli([
      "deploy",
      "x",
      "--runtime",
      "exec",
      "--command",
      "cat",
      "--source",
      ".",
      "--compat",
      "openfaas",
    ]);
    expect(exec.code).toBe(1);
    expect(exec.stderr).toContain(
      "compat openfaas is a handler shape for node and python functions; runtime exec runs a program",
    );
  });
});
