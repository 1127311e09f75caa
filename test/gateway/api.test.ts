import { describe, expect, it } from "vitest";
import { packDirectory } from "../../src/packaging/pack.js";
import { adminToken, startTestRunlet, writeSource } from "../helpers/runlet.js";

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

describe("control API auth", () => {
  it("needs the admin token on every control route, as Bearer or Basic admin:<token>", async () => {
    const runlet = await startTestRunlet();
    for (const path of [
      "/system/functions",
      "/system/info",
      "/system/secrets",
      "/api/v1/functions",
      "/api/v1/secrets",
    ]) {
      const anonymous = await fetch(`${runlet.url}${path}`);
      expect(anonymous.status, path).toBe(401);
      expect(((await anonymous.json()) as { error: { code: string } }).error.code).toBe(
        "RUNLET_UNAUTHORIZED",
      );
    }
    expect(
      (await fetch(`${runlet.url}/system/functions`, { headers: { authorization: "Bearer nope" } }))
        .status,
    ).toBe(401);
    // A path that serves nothing is a 404 that says where functions are, token or not.
    for (const path of ["/hello", "/api/v1/nothing-here"]) {
      const missing = await fetch(`${runlet.url}${path}`);
      expect(missing.status, path).toBe(404);
      expect(((await missing.json()) as { error: { message: string } }).error.message).toContain(
        `No route GET ${path}; functions answer at /function/NAME`,
      );
    }
    expect(
      (
        await fetch(`${runlet.url}/system/functions`, {
          headers: { authorization: basic("admin", "nope") },
        })
      ).status,
    ).toBe(401);
    expect(
      (
        await fetch(`${runlet.url}/system/functions`, {
          headers: { authorization: basic("root", adminToken) },
        })
      ).status,
    ).toBe(401);
    expect(
      (
        await fetch(`${runlet.url}/system/functions`, {
          headers: { authorization: basic("admin", adminToken) },
        })
      ).status,
    ).toBe(200);
    expect(
      (
        await fetch(`${runlet.url}/system/functions`, {
          headers: { authorization: `Bearer ${adminToken}` },
        })
      ).status,
    ).toBe(200);
    // Health, metrics and the API description stay public.
    expect((await fetch(`${runlet.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${runlet.url}/metrics`)).status).toBe(200);
    expect((await fetch(`${runlet.url}/api/v1/openapi.json`)).status).toBe(200);
  });

  it("answers malformed JSON with 400, not 500", async () => {
    const runlet = await startTestRunlet();
    const response = await runlet.api("/api/v1/functions/x", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: "{nope",
    });
    expect(response.status).toBe(400);
    const invalid = await runlet.api("/api/v1/functions/x", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ runtime: "cobol", package: "sha256:x", timeout: "soon" }),
    });
    expect(invalid.status).toBe(400);
    const body = (await invalid.json()) as { error: { message: string } };
    expect(body.error.message).toContain('unknown runtime "cobol"; known runtimes: node');
    expect(body.error.message).toContain("timeout");
    expect(body.error.message).toContain("package");
  });
});

describe("OpenFaaS gateway routes", () => {
  it("deploy, list, get, invoke, logs and delete with OpenFaaS field names", async () => {
    const runlet = await startTestRunlet();
    const source = await writeSource({
      "index.js": `export default async (event) => { console.log("of call"); return "from openfaas " + event.method; }`,
    });
    const packed = await packDirectory(source);
    await runlet.api("/api/v1/packages", {
      method: "POST",
      headers: { "content-type": "application/gzip" },
      body: packed.archive,
    });
    const auth = { authorization: basic("admin", adminToken), "content-type": "application/json" };
    const deployed = await fetch(`${runlet.url}/system/functions`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({
        service: "of-fn",
        image: packed.digest,
        envVars: { A: "1" },
        labels: { "com.openfaas.scale.min": "1" },
        limits: { memory: "64Mi" },
      }),
    });
    expect(deployed.status).toBe(202);
    expect(await (await fetch(`${runlet.url}/function/of-fn`, { method: "POST" })).text()).toBe(
      "from openfaas POST",
    );
    // The OpenFaaS NAME.NAMESPACE form reaches the same function.
    expect((await fetch(`${runlet.url}/function/of-fn.openfaas-fn`)).status).toBe(200);
    const list = (await (
      await fetch(`${runlet.url}/system/functions`, { headers: auth })
    ).json()) as Record<string, unknown>[];
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({
      name: "of-fn",
      image: packed.digest,
      namespace: "openfaas-fn",
      envVars: { A: "1" },
      limits: { memory: "64Mi" },
      replicas: 1,
      availableReplicas: 1,
      invocationCount: 2,
    });
    const one = (await (
      await fetch(`${runlet.url}/system/function/of-fn`, { headers: auth })
    ).json()) as Record<string, unknown>;
    expect(one["name"]).toBe("of-fn");
    expect((await fetch(`${runlet.url}/system/function/absent`, { headers: auth })).status).toBe(
      404,
    );
    const logs = await fetch(`${runlet.url}/system/logs?name=of-fn&tail=10`, { headers: auth });
    expect(logs.headers.get("content-type")).toContain("application/x-ndjson");
    const line = JSON.parse((await logs.text()).trim().split("\n")[0] ?? "{}") as Record<
      string,
      unknown
    >;
    expect(line).toMatchObject({ name: "of-fn", namespace: "openfaas-fn", text: "of call" });
    expect(typeof line["timestamp"]).toBe("string");
    expect((await fetch(`${runlet.url}/system/logs`, { headers: auth })).status).toBe(422);
    const updated = await fetch(`${runlet.url}/system/functions`, {
      method: "PUT",
      headers: auth,
      body: JSON.stringify({ service: "of-fn", image: packed.digest, envVars: { A: "2" } }),
    });
    expect(updated.status).toBe(202);
    expect(
      (
        await fetch(`${runlet.url}/system/functions`, {
          method: "PUT",
          headers: auth,
          body: JSON.stringify({ service: "ghost", image: packed.digest }),
        })
      ).status,
    ).toBe(404);
    const removed = await fetch(`${runlet.url}/system/functions`, {
      method: "DELETE",
      headers: auth,
      body: JSON.stringify({ functionName: "of-fn" }),
    });
    expect(removed.status).toBe(202);
    expect((await fetch(`${runlet.url}/function/of-fn`)).status).toBe(404);
  });

  it("manages secrets and reports system info", async () => {
    const runlet = await startTestRunlet();
    const json = { "content-type": "application/json" };
    expect(
      (
        await runlet.api("/system/secrets", {
          method: "POST",
          headers: json,
          body: JSON.stringify({ name: "db-pass", value: "pw" }),
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await runlet.api("/system/secrets", {
          method: "POST",
          headers: json,
          body: JSON.stringify({ name: "raw", rawValue: Buffer.from("bytes").toString("base64") }),
        })
      ).status,
    ).toBe(201);
    expect(await (await runlet.api("/system/secrets")).json()).toEqual([
      { name: "db-pass", namespace: "openfaas-fn" },
      { name: "raw", namespace: "openfaas-fn" },
    ]);
    expect(runlet.platform.secrets.reveal(["raw"])).toEqual({ raw: { raw: Buffer.from("bytes") } });
    expect(
      (
        await runlet.api("/system/secrets", {
          method: "PUT",
          headers: json,
          body: JSON.stringify({ name: "db-pass", value: "pw2" }),
        })
      ).status,
    ).toBe(200);
    expect(
      (
        await runlet.api("/system/secrets", {
          method: "DELETE",
          headers: json,
          body: JSON.stringify({ name: "db-pass" }),
        })
      ).status,
    ).toBe(202);
    expect(
      (
        await runlet.api("/system/secrets", {
          method: "POST",
          headers: json,
          body: JSON.stringify({ name: "Bad Name", value: "x" }),
        })
      ).status,
    ).toBe(400);
    const info = (await (await runlet.api("/system/info")).json()) as {
      provider: { provider: string; orchestration: string };
      version: { release: string };
    };
    expect(info.provider).toMatchObject({ provider: "runlet", orchestration: "local" });
    expect(info.version.release).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe("metrics and API description", () => {
  it("counts invocations by function and code in Prometheus format", async () => {
    const runlet = await startTestRunlet();
    await runlet.deploy("counted", {
      "index.js": `export default async (e) => { if (e.query.fail) throw new Error("x"); return "ok"; }`,
    });
    await (await fetch(`${runlet.url}/function/counted`)).text();
    await (await fetch(`${runlet.url}/function/counted`)).text();
    await (await fetch(`${runlet.url}/function/counted?fail=1`)).text();
    const metrics = await (await fetch(`${runlet.url}/metrics`)).text();
    expect(metrics).toContain(
      'gateway_function_invocation_total{function_name="counted",code="200"} 2',
    );
    expect(metrics).toContain(
      'gateway_function_invocation_total{function_name="counted",code="500"} 1',
    );
    expect(metrics).toMatch(
      /gateway_functions_seconds_count\{function_name="counted",code="200"\} 2/,
    );
    expect(metrics).toContain('gateway_service_count{function_name="counted"} 1');
  });

  it("serves an OpenAPI document whose deploy schema comes from the validator", async () => {
    const runlet = await startTestRunlet();
    const doc = (await (await fetch(`${runlet.url}/api/v1/openapi.json`)).json()) as {
      openapi: string;
      paths: Record<
        string,
        Record<
          string,
          {
            requestBody?: {
              content: Record<
                string,
                { schema: { properties: Record<string, unknown>; required: string[] } }
              >;
            };
          }
        >
      >;
    };
    expect(doc.openapi).toMatch(/^3\./);
    const schema =
      doc.paths["/api/v1/functions/{name}"]?.["put"]?.requestBody?.content["application/json"]
        ?.schema;
    expect(Object.keys(schema?.properties ?? {})).toEqual(
      expect.arrayContaining([
        "runtime",
        "handler",
        "env",
        "timeout",
        "memory",
        "scale",
        "package",
      ]),
    );
    expect(schema?.required).toEqual(expect.arrayContaining(["runtime", "package"]));
  });
});
