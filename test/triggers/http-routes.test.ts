import { describe, expect, it } from "vitest";
import { RouteTable } from "../../src/triggers/route-table.js";
import type { TriggerRecord } from "../../src/store/trigger-store.js";
import { startTestRunlet, type TestRunlet } from "../helpers/runlet.js";

const echo = (label: string): string => `export default async function (event) {
  return { label: ${JSON.stringify(label)}, method: event.method, path: event.path, query: event.query, params: event.params };
}
`;

async function createTrigger(runlet: TestRunlet, body: Record<string, unknown>): Promise<Response> {
  return runlet.api("/api/v1/triggers", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

describe("HTTP trigger routes", () => {
  it("serves a spec route with path parameters as event.params, and a prefix route", async () => {
    const runlet = await startTestRunlet();
    const deployed = await runlet.deploy(
      "greet",
      { "index.js": echo("greet") },
      { triggers: [{ http: "GET /hello/{who}" }, { http: "ANY /files/*" }] },
    );
    expect(deployed.status).toBe(201);

    const hello = await fetch(`${runlet.url}/hello/ada%20l?x=1`);
    expect(hello.status).toBe(200);
    expect(await hello.json()).toEqual({
      label: "greet",
      method: "GET",
      path: "/hello/ada%20l",
      query: { x: "1" },
      params: { who: "ada l" },
    });
    // Wrong method: the route does not serve it.
    expect((await runlet.api("/hello/ada", { method: "POST" })).status).toBe(404);

    const file = await fetch(`${runlet.url}/files/a/b.txt`, { method: "PUT", body: "x" });
    expect(file.status).toBe(200);
    expect(((await file.json()) as { params: unknown }).params).toEqual({ "*": "a/b.txt" });

    const list = (await (await runlet.api("/api/v1/triggers")).json()) as { name: string }[];
    expect(list.map((t) => t.name).sort()).toEqual(["greet.http-1", "greet.http-2"]);
    // Spec triggers belong to the function's spec: removing one on its own is refused.
    const removal = await runlet.api("/api/v1/triggers/greet.http-1", { method: "DELETE" });
    expect(removal.status).toBe(409);

    // A redeploy without triggers takes the routes away.
    expect((await runlet.deploy("greet", { "index.js": echo("greet") })).status).toBe(200);
    expect((await runlet.api("/hello/ada")).status).toBe(404);
  });

  it("picks the most specific route and refuses conflicts and platform paths", async () => {
    const runlet = await startTestRunlet();
    expect((await runlet.deploy("a", { "index.js": echo("a") })).status).toBe(201);
    expect((await runlet.deploy("b", { "index.js": echo("b") })).status).toBe(201);
    expect(
      (await createTrigger(runlet, { name: "users", function: "a", http: "GET /users/{id}" }))
        .status,
    ).toBe(201);
    expect(
      (await createTrigger(runlet, { name: "me", function: "b", http: "GET /users/me" })).status,
    ).toBe(201);
    expect(
      (await createTrigger(runlet, { name: "all", function: "b", http: "ANY /*" })).status,
    ).toBe(201);

    const label = async (path: string): Promise<unknown> =>
      ((await (await fetch(`${runlet.url}${path}`)).json()) as { label: string }).label;
    expect(await label("/users/7")).toBe("a");
    expect(await label("/users/me")).toBe("b");
    expect(await label("/elsewhere/x")).toBe("b");
    // Platform paths are never routed.
    expect((await fetch(`${runlet.url}/healthz`)).status).toBe(200);

    const conflict = await createTrigger(runlet, {
      name: "users2",
      function: "b",
      http: "GET /users/{user}",
    });
    expect(conflict.status).toBe(409);
    const body = (await conflict.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("RUNLET_TRIGGER_CONFLICT");
    expect(body.error.message).toContain("trigger users");

    // The same conflict from a deploy is refused too, and the deploy does not happen.
    const deploy = await runlet.deploy(
      "c",
      { "index.js": echo("c") },
      { triggers: [{ http: "GET /users/{x}" }] },
    );
    expect(deploy.status).toBe(409);
    expect((await runlet.api("/api/v1/functions/c")).status).toBe(404);

    const platformPath = await createTrigger(runlet, {
      name: "bad",
      function: "a",
      http: "GET /api/things",
    });
    expect(platformPath.status).toBe(400);
    expect(((await platformPath.json()) as { error: { message: string } }).error.message).toContain(
      "/api is a platform path",
    );
    const badPattern = await createTrigger(runlet, {
      name: "bad",
      function: "a",
      http: "GET /a/{x",
    });
    expect(badPattern.status).toBe(400);
    const unknownFunction = await createTrigger(runlet, {
      name: "bad",
      function: "zzz",
      http: "GET /z",
    });
    expect(unknownFunction.status).toBe(404);

    // Removing a trigger frees its route.
    expect((await runlet.api("/api/v1/triggers/users", { method: "DELETE" })).status).toBe(204);
    expect(
      (await createTrigger(runlet, { name: "users2", function: "b", http: "GET /users/{user}" }))
        .status,
    ).toBe(201);
    expect(await label("/users/7")).toBe("b");
  });

  it("splits a weighted route between two revisions of a function (canary)", async () => {
    const runlet = await startTestRunlet();
    expect((await runlet.deploy("shop", { "index.js": echo("v1") })).status).toBe(201);
    expect((await runlet.deploy("shop", { "index.js": echo("v2") })).status).toBe(200);
    expect(
      (
        await createTrigger(runlet, {
          name: "shop-stable",
          function: "shop@1",
          http: "GET /shop",
          weight: 50,
        })
      ).status,
    ).toBe(201);
    // Sharing a route needs a weight on both sides.
    expect(
      (await createTrigger(runlet, { name: "shop-x", function: "shop", http: "GET /shop" })).status,
    ).toBe(409);
    expect(
      (
        await createTrigger(runlet, {
          name: "shop-canary",
          function: "shop",
          http: "GET /shop",
          weight: 50,
        })
      ).status,
    ).toBe(201);
    const counts: Record<string, number> = {};
    for (let i = 0; i < 200; i += 1) {
      const response = await fetch(`${runlet.url}/shop`);
      expect(response.status).toBe(200);
      const { label } = (await response.json()) as { label: string };
      counts[label] = (counts[label] ?? 0) + 1;
    }
    expect(Object.keys(counts).sort()).toEqual(["v1", "v2"]);
    expect((counts["v1"] ?? 0) + (counts["v2"] ?? 0)).toBe(200);
    // Revision targets are for routes only.
    const cron = await createTrigger(runlet, { name: "c", function: "shop@1", cron: "@every 1m" });
    expect(cron.status).toBe(400);
  });
});

describe("RouteTable", () => {
  const record = (name: string, http: string, weight?: number): TriggerRecord => ({
    name,
    functionName: name,
    target: name,
    origin: "api",
    spec: weight === undefined ? { http } : { http, weight },
    createdAt: 0,
  });

  it("orders exact before prefix, literal before parameter, named method before ANY", () => {
    const table = new RouteTable([
      record("any", "ANY /a/{x}"),
      record("get", "GET /a/{x}"),
      record("lit", "GET /a/b"),
      record("pre", "GET /a/*"),
      record("deep", "GET /a/b/*"),
    ]);
    expect(table.match("GET", "/a/b")?.trigger).toBe("lit");
    expect(table.match("GET", "/a/c")?.trigger).toBe("get");
    expect(table.match("POST", "/a/c")?.trigger).toBe("any");
    expect(table.match("GET", "/a/b/c")?.trigger).toBe("deep");
    expect(table.match("GET", "/a/c/d")).toMatchObject({ trigger: "pre", params: { "*": "c/d" } });
    expect(table.match("GET", "/b")).toBeUndefined();
  });

  it("splits weighted owners by weight", () => {
    const table = new RouteTable([record("x", "GET /w", 1), record("y", "GET /w", 3)]);
    expect(table.match("GET", "/w", () => 0.2)?.trigger).toBe("x");
    expect(table.match("GET", "/w", () => 0.3)?.trigger).toBe("y");
  });
});
