import { describe, expect, it } from "vitest";
import { startTestRunlet } from "../helpers/runlet.js";

const hello = `export default async function (event, context) {
  console.log("hello called", event.method, event.path);
  return { statusCode: 200, headers: { "x-handled-by": context.functionName }, body: { method: event.method, path: event.path, query: event.query, body: event.body, header: event.headers["x-test"] ?? null } };
}
`;

describe("invocation end to end", () => {
  it("deploys a function from source and passes method, path, query, headers and body", async () => {
    const runlet = await startTestRunlet();
    const deployed = await runlet.deploy("hello", { "index.js": hello });
    expect(deployed.status).toBe(201);
    const response = await fetch(`${runlet.url}/function/hello/sub/path?a=1&a=2&b=x`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-test": "yes" },
      body: JSON.stringify({ n: 42 }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("x-call-id")).toMatch(/[0-9a-f-]{36}/);
    expect(Number(response.headers.get("x-duration-seconds"))).toBeGreaterThan(0);
    expect(response.headers.get("x-handled-by")).toBe("hello");
    expect(await response.json()).toEqual({
      method: "POST",
      path: "/sub/path",
      query: { a: ["1", "2"], b: "x" },
      body: { n: 42 },
      header: "yes",
    });
  });
});
