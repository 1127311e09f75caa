/**
 * Every HTTP way into a function (sync `/function/NAME`, async `/async-function/NAME`, trigger
 * routes) is let in or turned away by admitCall(): the same 400, 404 and 401 bodies, the same
 * WWW-Authenticate challenge, whichever way the call came.
 */
import { describe, expect, it } from "vitest";
import { errorJson } from "../../src/errors.js";
import { unauthorizedMessage } from "../../src/gateway/auth.js";
import { admitCall, badNameMessage, CallRefusal } from "../../src/gateway/call-admission.js";
import { adminToken, startTestRunlet } from "../helpers/runlet.js";

const hello = `export default async () => "hello"`;
const unauthorizedBody = errorJson("RUNLET_UNAUTHORIZED", unauthorizedMessage);
const notFound = (name: string): string =>
  errorJson(
    "RUNLET_FUNCTION_NOT_FOUND",
    `Function ${name} does not exist; see the deployed ones with: runlet list`,
  );

describe("call admission", () => {
  it("answers sync, async and route calls to a function with auth: required alike: 401, challenge, no call", async () => {
    const runlet = await startTestRunlet();
    const deployed = await runlet.deploy(
      "locked",
      { "index.js": hello },
      { auth: "required", triggers: [{ http: "POST /locked" }] },
    );
    expect(deployed.status).toBe(201);
    for (const path of ["/function/locked", "/async-function/locked", "/locked"]) {
      const attempts: Record<string, string>[] = [{}, { authorization: "Bearer wrong" }];
      for (const headers of attempts) {
        const response = await fetch(`${runlet.url}${path}`, {
          method: "POST",
          headers,
          body: "x",
        });
        expect(response.status, path).toBe(401);
        expect(response.headers.get("www-authenticate"), path).toBe('Bearer realm="runlet"');
        expect(response.headers.get("content-type"), path).toBe("application/json");
        expect(await response.text(), path).toBe(unauthorizedBody);
      }
      const allowed = await fetch(`${runlet.url}${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${adminToken}` },
        body: "x",
      });
      expect(allowed.status, path).toBe(path.startsWith("/async") ? 202 : 200);
      await allowed.text();
    }
    // The refused calls stored nothing: only the admitted async call is in the queue.
    const calls = (await (await runlet.api("/api/v1/calls?function=locked")).json()) as unknown[];
    expect(calls).toHaveLength(1);
  });

  it("answers an unknown function and a broken name alike, sync and async, with the call id on sync calls", async () => {
    const runlet = await startTestRunlet();
    for (const prefix of ["/function", "/async-function"]) {
      const missing = await fetch(`${runlet.url}${prefix}/ghost`, {
        method: "POST",
        headers: { "x-call-id": "call-1" },
      });
      expect(missing.status, prefix).toBe(404);
      expect(missing.headers.get("www-authenticate")).toBeNull();
      expect(missing.headers.get("x-call-id")).toBe(prefix === "/function" ? "call-1" : null);
      expect(await missing.text()).toBe(notFound("ghost"));

      const broken = await fetch(`${runlet.url}${prefix}/%E0%A4%A`, { method: "POST" });
      expect(broken.status, prefix).toBe(400);
      expect(await broken.text()).toBe(errorJson("RUNLET_INVALID_REQUEST", badNameMessage));
    }
  });

  it("refuses a route whose function is gone with a 404 naming the trigger, looked up in the platform's revisions", async () => {
    const runlet = await startTestRunlet();
    expect((await runlet.deploy("there", { "index.js": hello })).status).toBe(201);
    const { targets, credentials } = runlet.platform;
    const route = { trigger: "orders", target: "gone@2", params: {} };
    const refusal = admitCall(targets, credentials, {}, route);
    expect(refusal).toBeInstanceOf(CallRefusal);
    expect(refusal instanceof CallRefusal && refusal.status).toBe(404);
    expect(refusal instanceof CallRefusal && JSON.parse(refusal.json)).toEqual({
      error: {
        code: "RUNLET_FUNCTION_NOT_FOUND",
        message:
          "Trigger orders calls gone@2, which does not exist; redeploy it or remove the trigger: runlet trigger remove orders",
      },
    });
    // A pinned revision that exists is let in, as the active one is.
    const pinned = admitCall(targets, credentials, {}, { ...route, target: "there@1" });
    expect(pinned instanceof CallRefusal ? pinned.json : pinned.functionName).toBe("there");
    expect(admitCall(targets, credentials, {}, "there")).toBe(targets.find("there"));
  });
});
