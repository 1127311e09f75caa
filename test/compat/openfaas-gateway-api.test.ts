/**
 * The OpenFaaS gateway API as faas-cli and the OpenFaaS Go client use it, where Runlet used to
 * answer differently: the namespace routes, secret statuses as faas-netes gives them, nulls
 * older clients send, replica scaling, X-Start-Time, and a limit error that names no kernel
 * detail.
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { packDirectory } from "../../src/packaging/pack.js";
import { eventually, startTestRunlet, writeSource, type TestRunlet } from "../helpers/runlet.js";

const json = { "content-type": "application/json" };

async function uploadHello(runlet: TestRunlet): Promise<string> {
  const packed = await packDirectory(
    await writeSource({ "index.js": `export default async () => "hello";` }),
  );
  const upload = await runlet.api("/api/v1/packages", {
    method: "POST",
    headers: { "content-type": "application/gzip" },
    body: packed.archive,
  });
  expect(upload.status).toBeLessThan(300);
  return packed.digest;
}

describe("the OpenFaaS gateway API as its clients use it", () => {
  it("lists the one namespace, openfaas-fn, and reports functions and secrets in it", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    expect(await (await runlet.api("/system/namespaces")).json()).toEqual(["openfaas-fn"]);
    const image = await uploadHello(runlet);
    const deployed = await runlet.api("/system/functions", {
      method: "POST",
      headers: json,
      // What older Go clients send for "no labels".
      body: JSON.stringify({ service: "nulls", image, labels: null, annotations: null }),
    });
    expect(deployed.status).toBe(202);
    const status = (await (await runlet.api("/system/function/nulls")).json()) as {
      namespace: string;
    };
    expect(status.namespace).toBe("openfaas-fn");
    expect((await fetch(`${runlet.url}/function/nulls.openfaas-fn`)).status).toBe(200);
  });

  it("answers secrets as faas-netes does: 409 for one that exists, 202 for a removal", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    const create = (value: string) =>
      runlet.api("/system/secrets", {
        method: "POST",
        headers: json,
        body: JSON.stringify({ name: "api-key", value }),
      });
    expect((await create("one")).status).toBe(201);
    const again = await create("two");
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ error: { code: "RUNLET_ALREADY_EXISTS" } });
    // The first value is kept.
    expect(runlet.platform.secrets.reveal(["api-key"])).toEqual({
      "api-key": { "api-key": Buffer.from("one") },
    });
    const removed = await runlet.api("/system/secrets", {
      method: "DELETE",
      headers: json,
      body: JSON.stringify({ name: "api-key" }),
    });
    expect(removed.status).toBe(202);
    expect(await (await runlet.api("/system/secrets")).json()).toEqual([]);
  });

  it("scales a function's replicas through /system/scale-function, to zero too", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    const image = await uploadHello(runlet);
    await runlet.api("/system/functions", {
      method: "POST",
      headers: json,
      body: JSON.stringify({ service: "scaled", image }),
    });
    const scale = (replicas: number) =>
      runlet.api("/system/scale-function/scaled", {
        method: "POST",
        headers: json,
        body: JSON.stringify({ serviceName: "scaled", replicas }),
      });
    expect((await scale(2)).status).toBe(202);
    await eventually(async () => {
      const status = (await (await runlet.api("/system/function/scaled")).json()) as {
        availableReplicas: number;
      };
      return status.availableReplicas === 2 ? true : undefined;
    });
    expect((await scale(0)).status).toBe(202);
    const view = (await (await runlet.api("/api/v1/functions/scaled")).json()) as {
      config: { scale: { min: number } };
    };
    expect(view.config.scale.min).toBe(0);
    const missing = await runlet.api("/system/scale-function/nobody", {
      method: "POST",
      headers: json,
      body: JSON.stringify({ replicas: 1 }),
    });
    expect(missing.status).toBe(404);
    const negative = await scale(-1);
    expect(negative.status).toBe(400);
  });

  it("stamps invocation answers with X-Start-Time in Unix nanoseconds", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    expect(
      (
        await runlet.deploy(
          "stamped",
          { "index.js": `export default () => "ok";` },
          { maxBody: "1Ki" },
        )
      ).status,
    ).toBe(201);
    const before = Date.now();
    const answer = await fetch(`${runlet.url}/function/stamped`);
    expect(answer.status).toBe(200);
    const stamp = answer.headers.get("x-start-time") ?? "";
    expect(stamp).toMatch(/^\d{19}$/);
    const ms = Number(BigInt(stamp) / 1_000_000n);
    expect(ms).toBeGreaterThanOrEqual(before);
    expect(ms).toBeLessThanOrEqual(Date.now());
    // Failures carry it too.
    const failed = await fetch(`${runlet.url}/function/stamped`, {
      method: "POST",
      body: "x".repeat(4096),
    });
    expect(failed.status).toBe(413);
    expect(failed.headers.get("x-start-time")).toMatch(/^\d{19}$/);
  });

  it("refuses a memory limit below what the runtime uses without the kernel's words", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    const answer = await runlet.deploy(
      "tiny",
      { "index.js": `export default () => "ok";` },
      { memory: "5Mi" },
    );
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(answer.status).toBeLessThan(500);
    const body = (await answer.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("RUNLET_INVALID_SPEC");
    expect(body.error.message).toContain("memory");
    expect(body.error.message).not.toMatch(/EBUSY|resource busy|write/);
  });

  it("runs an image's envProcess from the host, and refuses an image with no package", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    // faas-cli's `deploy --image functions/alpine:latest --fprocess sha512sum`.
    const deployed = await runlet.api("/system/functions", {
      method: "POST",
      headers: json,
      body: JSON.stringify({
        service: "sha512",
        image: "functions/alpine:latest",
        envProcess: "sha512sum",
      }),
    });
    expect(deployed.status).toBe(202);
    const answer = await fetch(`${runlet.url}/function/sha512`, { method: "POST", body: "hi" });
    expect(await answer.text()).toBe(`${createHash("sha512").update("hi").digest("hex")}  -\n`);
    const status = (await (await runlet.api("/system/function/sha512")).json()) as {
      image: string;
      envProcess: string;
      annotations: Record<string, string>;
    };
    expect(status).toMatchObject({
      image: "functions/alpine:latest",
      envProcess: "sha512sum",
      annotations: { "com.runlet.package-source": "envProcess" },
    });

    for (const [body, words] of [
      [{ service: "figlet", image: "ghcr.io/openfaas/figlet:latest" }, "runlet push -f stack.yml"],
      [
        { service: "nope", image: "functions/alpine:latest", envProcess: "no-such-program-here" },
        'envProcess "no-such-program-here" names no program on this host',
      ],
    ] as const) {
      const refused = await runlet.api("/system/functions", {
        method: "POST",
        headers: json,
        body: JSON.stringify(body),
      });
      expect(refused.status).toBe(400);
      const error = (await refused.json()) as { error: { code: string; message: string } };
      expect(error.error.code).toBe("RUNLET_PACKAGE_NOT_FOUND");
      expect(error.error.message).toContain(words);
    }
  });

  it("picks the OpenFaaS handler shape from a lang label, and fills /system/info's sha", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    // The node20 template's handler, as faas-cli new writes it.
    const packed = await packDirectory(
      await writeSource({
        "handler.js": `"use strict";
module.exports = async (event, context) => {
  const result = { status: "Received input: " + JSON.stringify(event.body) };
  return context.status(200).succeed(result);
};
`,
      }),
    );
    const upload = await runlet.api("/api/v1/packages", {
      method: "POST",
      headers: { "content-type": "application/gzip" },
      body: packed.archive,
    });
    expect(upload.status).toBeLessThan(300);
    const deployed = await runlet.api("/system/functions", {
      method: "POST",
      headers: json,
      body: JSON.stringify({
        service: "node20fn",
        image: packed.digest,
        labels: { "com.openfaas.lang": "node20" },
      }),
    });
    expect(deployed.status).toBe(202);
    const answer = await fetch(`${runlet.url}/function/node20fn`, {
      method: "POST",
      headers: json,
      body: '{"a":1}',
    });
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ status: 'Received input: {"a":1}' });

    const info = (await (await runlet.api("/system/info")).json()) as {
      version: { sha: string };
      provider: { version: { sha: string } };
    };
    expect(info.version.sha).not.toBe("");
    expect(info.provider.version.sha).not.toBe("");
  });
});
