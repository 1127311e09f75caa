/**
 * Issue 17: `faas-cli deploy -f stack.yml` deploys the image its stack file names. `runlet push`
 * (faas-cli build + push without Docker) and `runlet deploy -f stack.yml` record each function's
 * `image:` as a tag of its package; faas-cli's own requests (PUT /system/functions, then POST on
 * 404, with the template's fprocess as envProcess) then deploy that package, and redeploy it
 * with other labels and env. faas-cli itself is not built here, so its requests are sent as it
 * sends them (faas-cli proxy/deploy.go).
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { packDirectory } from "../../src/packaging/pack.js";
import { runCli } from "../helpers/cli.js";
import {
  adminToken,
  startTestRunlet,
  tempDir,
  writeSource,
  type TestRunlet,
} from "../helpers/runlet.js";

// As `faas-cli new hello --lang node20` and `faas-cli new classic --lang node --append` write it.
const stackYml = `version: 1.0
provider:
  name: openfaas
  gateway: http://127.0.0.1:8080
functions:
  hello:
    lang: node20
    handler: ./hello
    image: hello:latest
    environment:
      GREETING: Hello
  classic:
    lang: node
    handler: ./classic
    image: docker.io/me/classic:0.1
`;

// The node20 template's handler, reading its environment.
const helloJs = `'use strict'

module.exports = async (event, context) => {
  return context
    .status(200)
    .succeed(process.env.GREETING + ' from ' + (event.query.who || 'node20'))
}
`;

// The classic node template's handler: (context, callback).
const classicJs = `'use strict'

module.exports = (context, callback) => {
  callback(undefined, { shouted: String(context).toUpperCase() })
}
`;

async function stackDir(): Promise<string> {
  const cwd = await tempDir("runlet-push-");
  for (const [name, file] of [
    ["hello", helloJs],
    ["classic", classicJs],
  ] as const) {
    await mkdir(join(cwd, name));
    await writeFile(join(cwd, name, "handler.js"), file);
    await writeFile(
      join(cwd, name, "package.json"),
      '{"name":"openfaas-function","version":"1.0.0","main":"handler.js"}',
    );
  }
  await writeFile(join(cwd, "stack.yml"), stackYml);
  return cwd;
}

const json = { "content-type": "application/json" };

/**
 * faas-cli deploy of one function: PUT (its default --update), and POST when the function does
 * not exist yet (404). Returns the statuses it saw and the last answer's text.
 */
async function faasCliDeploy(
  runlet: TestRunlet,
  body: Record<string, unknown>,
): Promise<{ statuses: number[]; text: string }> {
  const send = (method: string) =>
    runlet.api("/system/functions", { method, headers: json, body: JSON.stringify(body) });
  const updated = await send("PUT");
  if (updated.status !== 404) {
    return { statuses: [updated.status], text: await updated.text() };
  }
  await updated.body?.cancel();
  const created = await send("POST");
  return { statuses: [404, created.status], text: await created.text() };
}

/** The FunctionDeployment faas-cli 0.18 sends for a stack.yml function. */
function deploymentOf(
  service: string,
  image: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    service,
    image,
    namespace: "openfaas-fn",
    // faas-cli sends its template's fprocess (template/node20/template.yml) with every image.
    envProcess: "node index.js",
    labels: {},
    annotations: {},
    ...extra,
  };
}

async function errorOf(response: Response): Promise<{ code: string; message: string }> {
  return ((await response.json()) as { error: { code: string; message: string } }).error;
}

describe("runlet push, then faas-cli deploy of the pushed images", () => {
  it("pushes without deploying; faas-cli's deploy and redeploy of each image run its package", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    const cwd = await stackDir();
    const env = { RUNLET_GATEWAY: runlet.url, RUNLET_TOKEN: adminToken };
    const cli = (argv: string[]) => runCli(argv, { cwd, env });

    const pushed = await cli(["push", "-f", "stack.yml"]);
    expect(pushed.stderr).not.toContain("✘");
    expect(pushed.code).toBe(0);
    expect(pushed.stdout).toMatch(/✔ hello pushed as hello:latest → package sha256:/);
    expect(pushed.stdout).toMatch(/✔ classic pushed as me\/classic:0\.1 → package sha256:/);
    // Pushed, not deployed.
    expect(await (await runlet.api("/system/functions")).json()).toEqual([]);
    const images = (await (await runlet.api("/api/v1/images")).json()) as Record<string, unknown>[];
    expect(images).toEqual([
      expect.objectContaining({
        image: "hello:latest",
        runtime: "node",
        handler: "handler.js",
        compat: "openfaas",
        functions: [],
      }),
      expect.objectContaining({
        image: "me/classic:0.1",
        runtime: "node",
        compat: "openfaas-classic",
      }),
    ]);

    // faas-cli deploy -f stack.yml: PUT, 404, then POST.
    const hello = await faasCliDeploy(
      runlet,
      deploymentOf("hello", "hello:latest", { envVars: { GREETING: "Hello" } }),
    );
    expect(hello.statuses, hello.text).toEqual([404, 202]);
    // The same image spelled as the file spells it.
    const classic = await faasCliDeploy(
      runlet,
      deploymentOf("classic", "docker.io/me/classic:0.1", { envProcess: "node index.js" }),
    );
    expect(classic.statuses, classic.text).toEqual([404, 202]);

    const greeting = await fetch(`${runlet.url}/function/hello?who=faas-cli`);
    expect(greeting.status).toBe(200);
    expect(await greeting.text()).toBe("Hello from faas-cli");
    const shouted = await fetch(`${runlet.url}/function/classic`, { method: "POST", body: "hi" });
    expect(shouted.status).toBe(200);
    expect(await shouted.json()).toEqual({ shouted: "HI" });

    // describe, as faas-cli reads it and as Runlet's API and CLI show it.
    const status = (await (await runlet.api("/system/function/hello")).json()) as {
      image: string;
      annotations: Record<string, string>;
    };
    expect(status.image).toBe("hello:latest");
    expect(status.annotations["com.runlet.package-source"]).toBe("tag");
    const native = (await (await runlet.api("/api/v1/functions/hello")).json()) as {
      image: unknown;
    };
    expect(native.image).toEqual({ image: "hello:latest", source: "tag" });
    const described = await cli(["describe", "hello"]);
    expect(described.code).toBe(0);
    expect(described.stdout).toMatch(/Image:\s+hello:latest \(a tag of its package/);
    const tag = (await (await runlet.api("/api/v1/images/hello:latest")).json()) as {
      functions: string[];
    };
    expect(tag.functions).toEqual(["hello"]);

    // A redeploy that changes labels and env: PUT answers at once, and the new env is live.
    const redeployed = await faasCliDeploy(
      runlet,
      deploymentOf("hello", "hello:latest", {
        envVars: { GREETING: "Hola" },
        labels: { team: "web", "com.openfaas.scale.min": "1" },
      }),
    );
    expect(redeployed.statuses, redeployed.text).toEqual([202]);
    expect(await (await fetch(`${runlet.url}/function/hello`)).text()).toBe("Hola from node20");
    const after = (await (await runlet.api("/system/function/hello")).json()) as {
      labels: Record<string, string>;
      annotations: Record<string, string>;
    };
    expect(after.labels).toMatchObject({ team: "web" });
    expect(after.annotations["com.runlet.revision"]).toBe("2");

    // An image nothing pushed: a 400 that says to push it.
    const unknown = await faasCliDeploy(
      runlet,
      deploymentOf("figlet", "ghcr.io/openfaas/figlet:latest", { envProcess: "" }),
    );
    expect(unknown.statuses).toEqual([404, 400]);
    const error = (JSON.parse(unknown.text) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe("RUNLET_PACKAGE_NOT_FOUND");
    expect(error.message).toContain("runlet push -f stack.yml");
    expect(error.message).toContain("ghcr.io/openfaas/figlet:latest");
  });

  it("runlet deploy -f stack.yml records the tags too, so faas-cli deploys the same image elsewhere", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    const cwd = await stackDir();
    const env = { RUNLET_GATEWAY: runlet.url, RUNLET_TOKEN: adminToken };
    const deployed = await runCli(["deploy", "-f", "stack.yml", "hello"], { cwd, env });
    expect(deployed.code, deployed.stderr).toBe(0);
    expect(deployed.stderr).toContain("hello: tagged as hello:latest");
    const tag = (await (await runlet.api("/api/v1/images/hello")).json()) as { package: string };
    expect(tag.package).toMatch(/^sha256:[0-9a-f]{64}$/);
    const copy = await faasCliDeploy(
      runlet,
      deploymentOf("hello-copy", "hello", { envVars: { GREETING: "Hi" } }),
    );
    expect(copy.statuses, copy.text).toEqual([404, 202]);
    expect(await (await fetch(`${runlet.url}/function/hello-copy`)).text()).toBe("Hi from node20");
    // Only the function named was pushed.
    expect((await runlet.api("/api/v1/images/me/classic:0.1")).status).toBe(404);
  });

  it("push names what it cannot push: a function with no image, a bad image name, with their lines", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    const cwd = await stackDir();
    await writeFile(
      join(cwd, "stack.yml"),
      `${stackYml}  noimage:
    lang: node20
    handler: ./hello
  badimage:
    lang: node20
    handler: ./hello
    image: Hello World
`,
    );
    const env = { RUNLET_GATEWAY: runlet.url, RUNLET_TOKEN: adminToken };
    const pushed = await runCli(["push"], { cwd, env });
    expect(pushed.code).toBe(1);
    expect(pushed.stderr).toContain("noimage has no image: to push it as");
    expect(pushed.stderr).toMatch(/stack\.yml:\d+: functions\.badimage\.image: "Hello World"/);
    expect(pushed.stderr).toContain("2 functions were not pushed");
    expect(pushed.stderr).toContain("Pushed: hello, classic.");
    expect(pushed.stdout).toContain("✔ hello pushed as hello:latest");
  });
});

describe("image tags through the API", () => {
  async function upload(runlet: TestRunlet, text: string): Promise<string> {
    const packed = await packDirectory(
      await writeSource({ "index.js": `export default async () => ${JSON.stringify(text)};\n` }),
    );
    const response = await runlet.api("/api/v1/packages", {
      method: "POST",
      headers: { "content-type": "application/gzip" },
      body: packed.archive,
    });
    expect(response.status).toBe(201);
    return packed.digest;
  }

  const tag = (runlet: TestRunlet, image: string, body: unknown, headers = {}) =>
    fetch(`${runlet.url}/api/v1/images/${image}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${adminToken}`, ...json, ...headers },
      body: JSON.stringify(body),
    });

  it("refuses bad names, packages and shapes with 400s that say what to fix", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    const digest = await upload(runlet, "v1");
    for (const [image, body, code, words] of [
      [
        "Hello:latest",
        { package: digest, runtime: "node" },
        "RUNLET_INVALID_NAME",
        "Invalid image name",
      ],
      [
        `x:${"t".repeat(129)}`,
        { package: digest, runtime: "node" },
        "RUNLET_INVALID_NAME",
        "the limit is 128",
      ],
      [
        `${"a".repeat(256)}:1`,
        { package: digest, runtime: "node" },
        "RUNLET_INVALID_NAME",
        "the limit is 255",
      ],
      [
        "x%40sha256:abc",
        { package: digest, runtime: "node" },
        "RUNLET_INVALID_NAME",
        "pinned to a registry digest",
      ],
      ["x:1", { package: "latest", runtime: "node" }, "RUNLET_INVALID_REQUEST", "sha256:<64 hex>"],
      [
        "x:1",
        { package: `sha256:${"0".repeat(64)}`, runtime: "node" },
        "RUNLET_PACKAGE_NOT_FOUND",
        "has not been uploaded",
      ],
      ["x:1", { package: digest, runtime: "cobol" }, "RUNLET_INVALID_SPEC", "cobol"],
      ["x:1", { runtime: "node" }, "RUNLET_INVALID_SPEC", "package is required"],
    ] as const) {
      const refused = await tag(runlet, image, body);
      expect(refused.status, `${image} ${JSON.stringify(body)}`).toBe(400);
      const error = await errorOf(refused);
      expect(error.code).toBe(code);
      expect(error.message).toContain(words);
    }
    expect(await (await runlet.api("/api/v1/images")).json()).toEqual([]);
  });

  it("a retag moves the name, not a function deployed from it, until that function is deployed again", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    const v1 = await upload(runlet, "v1");
    const v2 = await upload(runlet, "v2");
    expect((await tag(runlet, "docker.io/me/app:1", { package: v1, runtime: "node" })).status).toBe(
      201,
    );
    expect((await faasCliDeploy(runlet, deploymentOf("app", "me/app:1"))).statuses).toEqual([
      404, 202,
    ]);
    expect(await (await fetch(`${runlet.url}/function/app`)).text()).toBe("v1");
    const retag = await tag(runlet, "me/app:1", { package: v2, runtime: "node" });
    expect(retag.status).toBe(200);
    expect(await retag.json()).toEqual({
      image: "me/app:1",
      package: v2,
      created: false,
      previous: v1,
    });
    expect(await (await fetch(`${runlet.url}/function/app`)).text()).toBe("v1");
    expect((await faasCliDeploy(runlet, deploymentOf("app", "me/app:1"))).statuses).toEqual([202]);
    expect(await (await fetch(`${runlet.url}/function/app`)).text()).toBe("v2");
    // Untagged, the function keeps running; the name is gone.
    expect((await runlet.api("/api/v1/images/me/app:1", { method: "DELETE" })).status).toBe(204);
    const again = await runlet.api("/api/v1/images/me/app:1", { method: "DELETE" });
    expect(again.status).toBe(404);
    expect((await errorOf(again)).message).toContain("runlet push -f stack.yml");
    expect(await (await fetch(`${runlet.url}/function/app`)).text()).toBe("v2");
  });

  it("lets only deployers tag: a viewer's and an invoker's retag of a deployed image are refused", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    const good = await upload(runlet, "good");
    const evil = await upload(runlet, "evil");
    expect((await tag(runlet, "app:1", { package: good, runtime: "node" })).status).toBe(201);
    for (const role of ["viewer", "invoker"]) {
      const made = await runlet.api("/api/v1/tokens", {
        method: "POST",
        headers: json,
        body: JSON.stringify({ name: `ci-${role}`, role }),
      });
      expect(made.status).toBe(201);
      const { token } = (await made.json()) as { token: string };
      const attack = await tag(
        runlet,
        "app:1",
        { package: evil, runtime: "node" },
        { authorization: `Bearer ${token}` },
      );
      expect(attack.status).toBe(403);
      expect((await errorOf(attack)).code).toBe("RUNLET_FORBIDDEN");
    }
    const anonymous = await fetch(`${runlet.url}/api/v1/images/app:1`, {
      method: "PUT",
      headers: json,
      body: JSON.stringify({ package: evil, runtime: "node" }),
    });
    expect(anonymous.status).toBe(401);
    const kept = (await (await runlet.api("/api/v1/images/app:1")).json()) as { package: string };
    expect(kept.package).toBe(good);
    // The tag and each refused retag are in the audit log.
    const audit = (await (await runlet.api("/api/v1/audit")).json()) as {
      actor: string;
      action: string;
      object: string;
      status: number;
    }[];
    const tagging = audit.filter((entry) => entry.action === "PUT /api/v1/images/*");
    expect(tagging.map((entry) => [entry.actor, entry.object, entry.status])).toEqual(
      expect.arrayContaining([
        ["admin", "images app:1", 201],
        ["ci-viewer", "images app:1", 403],
        ["ci-invoker", "images app:1", 403],
      ]),
    );
  });

  it("keeps a pushed package from collection while it is tagged", async () => {
    let now = Date.parse("2030-01-01T00:00:00Z");
    const hour = 3600 * 1000;
    const runlet = await startTestRunlet({
      poolSize: 0,
      sandbox: "none",
      packages: { gcGraceMs: hour, now: () => now },
    });
    const pushed = await upload(runlet, "pushed");
    const loose = await upload(runlet, "loose");
    expect((await tag(runlet, "pushed:1", { package: pushed, runtime: "node" })).status).toBe(201);
    const other = await upload(runlet, "other");
    expect((await runlet.deploy("other", { "index.js": "export default () => 1;" })).status).toBe(
      201,
    );
    now += 2 * hour;
    // Removing a function collects what nothing refers to.
    expect((await runlet.api("/api/v1/functions/other", { method: "DELETE" })).status).toBe(204);
    const stored = async (digest: string) =>
      (await runlet.api(`/api/v1/packages/${digest}`, { method: "HEAD" })).status;
    expect(await stored(loose)).toBe(404);
    expect(await stored(other)).toBe(404);
    expect(await stored(pushed)).toBe(200);
    expect((await faasCliDeploy(runlet, deploymentOf("pushed", "pushed:1"))).statuses).toEqual([
      404, 202,
    ]);
    expect(await (await fetch(`${runlet.url}/function/pushed`)).text()).toBe("pushed");
  });
});
