/**
 * Namespaces (issue 18) over real HTTP against a started platform: two functions of one name in
 * two namespaces are two functions, each reads only its own namespace's secrets, tokens act in
 * their namespace only (403 as the wrong tenant, 2xx as the right one), an HTTP route belongs
 * to one namespace, and calls of one namespace are not found from another.
 */
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import {
  adminToken,
  startTestRunlet,
  tempDir,
  writeSource,
  type TestRunlet,
} from "../helpers/runlet.js";

const says = (text: string) => `export default async () => ${JSON.stringify(text)};\n`;
const readsSecret = `export default async (_event, context) => {
  const fs = await import("node:fs");
  const mine = await context.secret("db");
  // Fission's path of another namespace's secret of the same name: not there.
  const other = fs.existsSync("/secrets/team-a/db/db") && fs.existsSync("/secrets/team-b/db/db");
  return mine + (other ? " and both" : "");
};\n`;

function as(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

async function errorOf(response: Response): Promise<{ code: string; message: string }> {
  return ((await response.json()) as { error: { code: string; message: string } }).error;
}

async function makeToken(
  runlet: TestRunlet,
  name: string,
  namespace: string,
  role: string,
): Promise<string> {
  const response = await runlet.api("/api/v1/tokens", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name, namespace, role }),
  });
  expect(response.status, await response.clone().text()).toBe(201);
  return ((await response.json()) as { token: string }).token;
}

async function putSecret(runlet: TestRunlet, namespace: string, value: string): Promise<void> {
  const response = await runlet.api(`/api/v1/secrets/db?namespace=${namespace}`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ value }),
  });
  expect(response.status, await response.clone().text()).toBe(201);
}

describe("namespaces", () => {
  it("keeps two functions of one name in two namespaces apart, each at /function/NAME.NAMESPACE", async () => {
    const runlet = await startTestRunlet({ sandbox: "none", poolSize: 0 });
    expect((await runlet.deploy("hello", { "index.js": says("default") })).status).toBe(201);
    expect((await runlet.deploy("hello?namespace=team-a", { "index.js": says("a") })).status).toBe(
      201,
    );
    expect((await runlet.deploy("hello?namespace=team-b", { "index.js": says("b") })).status).toBe(
      201,
    );

    const call = async (address: string) =>
      (await fetch(`${runlet.url}/function/${address}`)).text();
    expect(await call("hello")).toBe("default");
    expect(await call("hello.openfaas-fn")).toBe("default");
    expect(await call("hello.team-a")).toBe("a");
    expect(await call("hello.team-b")).toBe("b");
    expect((await fetch(`${runlet.url}/function/hello.team-c`)).status).toBe(404);

    // Lists show one namespace, names bare with the namespace beside them.
    const listed = (await (await runlet.api("/api/v1/functions?namespace=team-a")).json()) as {
      name: string;
      namespace: string;
    }[];
    expect(listed.map((fn) => [fn.name, fn.namespace])).toEqual([["hello", "team-a"]]);
    const openfaas = (await (await runlet.api("/system/functions?namespace=team-b")).json()) as {
      name: string;
      namespace: string;
    }[];
    expect(openfaas.map((fn) => [fn.name, fn.namespace])).toEqual([["hello", "team-b"]]);
    // The dashboard's routes take ?namespace= too.
    const summary = await runlet.api("/api/v1/metrics/summary?namespace=team-a&window=60");
    expect(summary.status).toBe(200);
    const live = (await summary.json()) as { functions: { name: string; namespace: string }[] };
    expect(live.functions.map((fn) => [fn.name, fn.namespace])).toEqual([["hello", "team-a"]]);
    expect(
      (await runlet.api("/api/v1/metrics/history?namespace=team-a&function=hello")).status,
    ).toBe(200);
    const fallback = (await (await runlet.api("/system/functions")).json()) as {
      namespace: string;
    }[];
    expect(fallback.map((fn) => fn.namespace)).toEqual(["openfaas-fn"]);
    expect(await (await runlet.api("/system/namespaces")).json()).toEqual([
      "openfaas-fn",
      "team-a",
      "team-b",
    ]);

    // Removing one leaves the other of the same name serving.
    expect(
      (await runlet.api("/api/v1/functions/hello?namespace=team-a", { method: "DELETE" })).status,
    ).toBe(204);
    expect((await fetch(`${runlet.url}/function/hello.team-a`)).status).toBe(404);
    expect(await call("hello.team-b")).toBe("b");

    // A namespace that is not a valid name is the caller's mistake.
    const bad = await runlet.api("/api/v1/functions?namespace=Team_A");
    expect(bad.status).toBe(400);
    expect((await errorOf(bad)).message).toMatch(
      /^Invalid namespace: "Team_A" is not a valid name/,
    );
  });

  it("gives a function the secrets of its own namespace only", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    await putSecret(runlet, "team-a", "a-secret");
    // team-b has no secret db yet: naming it is refused, team-a's does not count.
    const refused = await runlet.deploy(
      "reader?namespace=team-b",
      { "index.js": readsSecret },
      {
        secrets: ["db"],
      },
    );
    expect(refused.status).toBe(404);
    expect((await errorOf(refused)).message).toBe(
      "Function reader.team-b names secrets that do not exist in namespace team-b: db. Create them first: runlet secret create NAME --from-literal VALUE -n team-b",
    );
    await putSecret(runlet, "team-b", "b-secret");
    for (const namespace of ["team-a", "team-b"]) {
      const deployed = await runlet.deploy(
        `reader?namespace=${namespace}`,
        { "index.js": readsSecret },
        { secrets: ["db"] },
      );
      expect(deployed.status, await deployed.clone().text()).toBe(201);
    }
    expect(await (await fetch(`${runlet.url}/function/reader.team-a`)).text()).toBe("a-secret");
    expect(await (await fetch(`${runlet.url}/function/reader.team-b`)).text()).toBe("b-secret");

    const listed = (await (await runlet.api("/api/v1/secrets?namespace=team-b")).json()) as {
      name: string;
      namespace: string;
    }[];
    expect(listed.map((secret) => [secret.name, secret.namespace])).toEqual([["db", "team-b"]]);
    expect(await (await runlet.api("/system/secrets")).json()).toEqual([]);
    // In use by its own namespace's function only: team-a's removal is refused for team-a's.
    const inUse = await runlet.api("/api/v1/secrets/db?namespace=team-a", { method: "DELETE" });
    expect(inUse.status).toBe(409);
    expect((await errorOf(inUse)).message).toBe(
      "Secret db.team-a is used by reader.team-a; remove it from their specs first.",
    );
  });

  it("lets a token act in its own namespace only, as the wrong tenant and the right one", async () => {
    const runlet = await startTestRunlet({ sandbox: "none", poolSize: 0 });
    const deployerA = await makeToken(runlet, "deploy-a", "team-a", "deployer");
    const invokerA = await makeToken(runlet, "call-a", "team-a", "invoker");
    const spec = { auth: "required" };
    expect(
      (await runlet.deploy("hello?namespace=team-b", { "index.js": says("b") }, spec)).status,
    ).toBe(201);

    // Each credential can ask who it is (what the dashboard shows), and nothing more from that.
    const whoami = await fetch(`${runlet.url}/api/v1/whoami`, { headers: as(invokerA) });
    expect(await whoami.json()).toEqual({
      kind: "token",
      name: "call-a",
      namespace: "team-a",
      role: "invoker",
    });
    expect(await (await runlet.api("/api/v1/whoami")).json()).toMatchObject({ kind: "admin" });
    expect((await fetch(`${runlet.url}/api/v1/whoami`)).status).toBe(401);

    // Deploying: 2xx in its namespace, 403 naming the namespace in another.
    const upload = async (namespace: string) => {
      const own = await runlet.deploy(`hello?namespace=${namespace}`, { "index.js": says("a") });
      await own.body?.cancel();
    };
    await upload("team-c");
    const view = (await (await runlet.api("/api/v1/functions/hello?namespace=team-c")).json()) as {
      package: string;
    };
    const put = (namespace: string) =>
      fetch(`${runlet.url}/api/v1/functions/hello?namespace=${namespace}`, {
        method: "PUT",
        headers: { ...as(deployerA), "content-type": "application/json" },
        body: JSON.stringify({ runtime: "node", package: view.package, auth: "required" }),
      });
    expect((await put("team-a")).status).toBe(201);
    const wrong = await put("team-b");
    expect(wrong.status).toBe(403);
    expect((await errorOf(wrong)).message).toBe(
      "Token deploy-a (role deployer, namespace team-a) may not deploy in namespace team-b: it acts only in namespace team-a; use a token of namespace team-b.",
    );
    // The OpenFaaS routes take the namespace from the body, as faas-cli sends it.
    const openfaas = await fetch(`${runlet.url}/system/functions`, {
      method: "DELETE",
      headers: { ...as(deployerA), "content-type": "application/json" },
      body: JSON.stringify({ functionName: "hello", namespace: "team-b" }),
    });
    expect(openfaas.status).toBe(403);
    expect(
      (await fetch(`${runlet.url}/api/v1/functions?namespace=team-b`, { headers: as(deployerA) }))
        .status,
    ).toBe(403);
    expect(
      (await fetch(`${runlet.url}/api/v1/functions?namespace=team-a`, { headers: as(deployerA) }))
        .status,
    ).toBe(200);

    // Calling an auth: required function: its namespace's invoker, never another's.
    const own = await fetch(`${runlet.url}/function/hello.team-a`, { headers: as(invokerA) });
    expect(own.status).toBe(200);
    expect(await own.text()).toBe("a");
    const other = await fetch(`${runlet.url}/function/hello.team-b`, { headers: as(invokerA) });
    expect(other.status).toBe(403);
    expect((await errorOf(other)).message).toContain(
      "may not invoke functions in namespace team-b",
    );
    // team-b's function still stands.
    expect(
      (await fetch(`${runlet.url}/function/hello.team-b`, { headers: as(adminToken) })).status,
    ).toBe(200);
  });

  it("gives an HTTP route to one namespace, and keeps calls of one namespace from another", async () => {
    const runlet = await startTestRunlet({ sandbox: "none", poolSize: 0 });
    for (const namespace of ["team-a", "team-b"]) {
      const deployed = await runlet.deploy(`shop?namespace=${namespace}`, {
        "index.js": says(namespace),
      });
      expect(deployed.status).toBe(201);
    }
    const trigger = (namespace: string) =>
      runlet.api(`/api/v1/triggers?namespace=${namespace}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: "shop-route", function: "shop", http: "GET /shop" }),
      });
    const created = await trigger("team-a");
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({
      name: "shop-route",
      function: "shop",
      namespace: "team-a",
    });
    const taken = await trigger("team-b");
    expect(taken.status).toBe(409);
    expect((await errorOf(taken)).code).toBe("RUNLET_TRIGGER_CONFLICT");
    expect(await (await fetch(`${runlet.url}/shop`)).text()).toBe("team-a");
    expect(await (await runlet.api("/api/v1/triggers?namespace=team-b")).json()).toEqual([]);
    expect((await runlet.api("/api/v1/triggers/shop-route?namespace=team-b")).status).toBe(404);

    const queued = await fetch(`${runlet.url}/async-function/shop.team-a`, { method: "POST" });
    expect(queued.status).toBe(202);
    const { callId } = (await queued.json()) as { callId: string };
    expect((await runlet.api(`/api/v1/calls/${callId}?namespace=team-b`)).status).toBe(404);
    expect((await runlet.api(`/api/v1/calls/${callId}?namespace=team-a`)).status).toBe(200);
    const listB = (await (await runlet.api("/api/v1/calls?namespace=team-b")).json()) as unknown[];
    expect(listB).toEqual([]);
    const listA = (await (await runlet.api("/api/v1/calls?namespace=team-a")).json()) as {
      function: string;
      namespace: string;
    }[];
    expect(listA.map((c) => [c.function, c.namespace])).toEqual([["shop", "team-a"]]);
  });

  it("deploys, lists and calls in a namespace from the CLI: -n, and runlet.yaml's namespace:", async () => {
    const runlet = await startTestRunlet({ sandbox: "none", poolSize: 0 });
    const env = { RUNLET_GATEWAY: runlet.url, RUNLET_TOKEN: adminToken, HOME: await tempDir() };
    const source = await writeSource({ "index.js": says("from a") });
    const deployed = await runCli(
      ["deploy", "hello", "--runtime", "node", "--source", source, "-n", "team-a"],
      { cwd: await tempDir(), env },
    );
    expect(deployed.code, deployed.stderr).toBe(0);
    expect(deployed.stdout).toContain(`${runlet.url}/function/hello.team-a`);
    const invoked = await runCli(["invoke", "hello", "-n", "team-a"], {
      cwd: await tempDir(),
      env,
    });
    expect(invoked.stdout).toBe("from a");
    const listed = await runCli(["list", "--namespace", "team-a", "--json"], {
      cwd: await tempDir(),
      env,
    });
    expect((JSON.parse(listed.stdout) as { name: string }[]).map((fn) => fn.name)).toEqual([
      "hello",
    ]);
    const defaultList = await runCli(["list", "--json"], { cwd: await tempDir(), env });
    expect(JSON.parse(defaultList.stdout)).toEqual([]);

    // runlet.yaml's namespace: the stack's functions go there; -n would override it.
    const project = await writeSource({
      "runlet.yaml": "version: 1\nnamespace: team-b\nfunctions:\n  hi:\n    runtime: node\n",
      "hi/index.js": says("from b"),
    });
    const fromStack = await runCli(["deploy"], { cwd: project, env });
    expect(fromStack.code, fromStack.stderr).toBe(0);
    expect(await (await fetch(`${runlet.url}/function/hi.team-b`)).text()).toBe("from b");
    expect((await fetch(`${runlet.url}/function/hi`)).status).toBe(404);
    // An OpenFaaS stack.yml's per-function namespace: that function goes there, as faas-cli does.
    const openfaas = await writeSource({
      "stack.yml": `version: 1.0
provider:
  name: openfaas
functions:
  there:
    lang: node20
    handler: ./there
    namespace: team-c
  here:
    lang: node20
    handler: ./here
`,
      "there/handler.js": "module.exports = async () => 'in c';\n",
      "here/handler.js": "module.exports = async () => 'in default';\n",
    });
    const fromOpenfaas = await runCli(["deploy", "-f", "stack.yml"], { cwd: openfaas, env });
    expect(fromOpenfaas.code, fromOpenfaas.stderr).toBe(0);
    expect(await (await fetch(`${runlet.url}/function/there.team-c`)).text()).toBe("in c");
    expect(await (await fetch(`${runlet.url}/function/here`)).text()).toBe("in default");
    const secret = await runCli(["secret", "create", "db", "--from-literal", "x", "-n", "team-b"], {
      cwd: project,
      env,
    });
    expect(secret.code, secret.stderr).toBe(0);
    const secrets = (await (await runlet.api("/api/v1/secrets?namespace=team-b")).json()) as {
      name: string;
    }[];
    expect(secrets.map((s) => s.name)).toEqual(["db"]);
  });

  it("refuses other namespaces where the stores keep one (Kubernetes mode), saying so", async () => {
    const runlet = await startTestRunlet({
      sandbox: "none",
      poolSize: 0,
      namespaces: "default-only",
    });
    const refused = await runlet.deploy("hello?namespace=team-a", { "index.js": says("a") });
    expect(refused.status).toBe(400);
    expect((await errorOf(refused)).message).toMatch(
      /^Namespace team-a: Runlet on Kubernetes keeps its objects in one namespace for now, openfaas-fn/,
    );
    expect((await runlet.deploy("hello", { "index.js": says("default") })).status).toBe(201);
  });
});
