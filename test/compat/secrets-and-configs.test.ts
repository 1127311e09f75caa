/**
 * Secrets and config maps where the peers' functions read them: Fission's
 * /secrets/<namespace>/<name>/<key> and /configs/<namespace>/<name>/<key> (created with
 * `runlet secret create --key` and `runlet config create`, named by `fission spec` files), and
 * OpenFaaS' /var/openfaas/secrets/<name> with a binary secret arriving byte for byte.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { adminToken, startTestRunlet, tempDir, type TestRunlet } from "../helpers/runlet.js";

const json = { "content-type": "application/json" };

// As Fission's docs write the function that shows both (its Python environment: main() returns
// the answer).
const leakerPy = `def main():
    path = "/configs/default/my-configmap/TEST_KEY"
    f = open(path, "r")
    config = f.read()

    path = "/secrets/default/my-secret/TEST_KEY"
    f = open(path, "r")
    secret = f.read()

    msg = "ConfigMap: %s\\nSecret: %s" % (config, secret)
    return msg
`;

// The same in Fission's Node environment.
const leakerJs = `const fs = require("fs");

module.exports = async function (context) {
  const config = fs.readFileSync("/configs/default/my-configmap/TEST_KEY", "utf8");
  const secret = await fs.promises.readFile("/secrets/default/my-secret/TEST_KEY", "utf8");
  return { status: 200, body: "ConfigMap: " + config + "\\nSecret: " + secret };
};
`;

async function cli(runlet: TestRunlet, cwd: string, ...argv: string[]) {
  return runCli([...argv, "--gateway", runlet.url, "--token", adminToken], { cwd });
}

async function createBoth(runlet: TestRunlet, cwd: string): Promise<void> {
  // What `kubectl create secret generic my-secret --from-literal=TEST_KEY=TESTVALUE` and
  // `kubectl create configmap my-configmap --from-literal=TEST_KEY=TESTVALUE` make.
  const secret = await cli(
    runlet,
    cwd,
    "secret",
    "create",
    "my-secret",
    "--key",
    "TEST_KEY=TESTVALUE",
  );
  expect(secret.stderr).toBe("");
  expect(secret.stdout).toContain("secret my-secret created");
  const config = await cli(
    runlet,
    cwd,
    "config",
    "create",
    "my-configmap",
    "--key",
    "TEST_KEY=TESTVALUE",
  );
  expect(config.stderr).toBe("");
  expect(config.stdout).toContain("config map my-configmap created");
}

describe("Fission's secret and config map paths", () => {
  it("a Fission Python function reads /configs/default/NAME/KEY and /secrets/default/NAME/KEY", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    const cwd = await tempDir("runlet-fission-files-");
    await createBoth(runlet, cwd);
    const deployed = await runlet.deploy(
      "leaker",
      { "leaker.py": leakerPy },
      {
        runtime: "python",
        compat: "fission",
        handler: "leaker.main",
        secrets: ["my-secret"],
        configs: ["my-configmap"],
      },
    );
    expect(deployed.status, await deployed.clone().text()).toBeLessThan(300);
    const answer = await fetch(`${runlet.url}/function/leaker`);
    expect(await answer.text()).toBe("ConfigMap: TESTVALUE\nSecret: TESTVALUE");
    expect(answer.status).toBe(200);
  });

  it("a Fission Node function reads them, from a spec folder that names them", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    const cwd = await tempDir("runlet-fission-spec-files-");
    await createBoth(runlet, cwd);
    await mkdir(join(cwd, "specs"));
    await writeFile(join(cwd, "leaker.js"), leakerJs);
    // As `fission fn create --name leaker --env nodejs --code leaker.js --secret my-secret
    // --configmap my-configmap --spec` writes it.
    await writeFile(
      join(cwd, "specs", "leaker.yaml"),
      `apiVersion: fission.io/v1
kind: Environment
metadata: {name: nodejs, namespace: default}
spec: {runtime: {image: fission/node-env}, version: 2}
---
include: [leaker.js]
kind: ArchiveUploadSpec
name: leaker-js
---
apiVersion: fission.io/v1
kind: Package
metadata: {name: leaker-pkg, namespace: default}
spec:
  environment: {name: nodejs, namespace: default}
  deployment: {type: url, url: "archive://leaker-js"}
---
apiVersion: fission.io/v1
kind: Function
metadata: {name: leaker, namespace: default}
spec:
  environment: {name: nodejs, namespace: default}
  package: {functionName: "", packageref: {name: leaker-pkg, namespace: default}}
  secrets:
  - name: my-secret
    namespace: default
  configmaps:
  - name: my-configmap
    namespace: default
`,
    );
    const imported = await cli(runlet, cwd, "import", "fission", "specs");
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stderr).toContain("config maps my-configmap are read from Runlet");
    const answer = await fetch(`${runlet.url}/function/leaker`);
    expect(await answer.text()).toBe("ConfigMap: TESTVALUE\nSecret: TESTVALUE");

    // Not secret: its values can be read back.
    const shown = await cli(runlet, cwd, "config", "get", "my-configmap", "TEST_KEY");
    expect(shown.stdout).toBe("TESTVALUE");
    // In use: it cannot be removed, and the answer says by whom.
    const removed = await runlet.api("/api/v1/configs/my-configmap", { method: "DELETE" });
    expect(removed.status).toBe(409);
    expect(await removed.json()).toEqual({
      error: {
        code: "RUNLET_INVALID_REQUEST",
        message: "Config map my-configmap is used by leaker; remove it from their specs first.",
      },
    });
  });

  it("refuses a function whose config map does not exist, saying how to make it", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    const deployed = await runlet.deploy(
      "needs-config",
      { "index.js": leakerJs },
      { compat: "fission", configs: ["missing-map"] },
    );
    expect(deployed.status).toBe(404);
    expect(await deployed.json()).toEqual({
      error: {
        code: "RUNLET_CONFIG_NOT_FOUND",
        message:
          "Function needs-config names config maps that do not exist: missing-map. Create them first: runlet config create NAME --key KEY=VALUE",
      },
    });
    const bad = await runlet.api("/api/v1/configs/settings", {
      method: "PUT",
      headers: json,
      body: JSON.stringify({ data: { "../escape": Buffer.from("x").toString("base64") } }),
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(
      /Invalid config map key "\.\.\/escape"/,
    );
  });
});

describe("binary secrets", () => {
  // Not UTF-8: read as text anywhere on the way, ff and 80 would become ef bf bd.
  const bytes = Buffer.from([0xff, 0x00, 0x80, 0xfe, 0x0a]);

  it("arrive byte for byte: faas-cli's rawValue, read at /var/openfaas/secrets by an OpenFaaS node20 handler", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    const created = await runlet.api("/system/secrets", {
      method: "POST",
      headers: json,
      body: JSON.stringify({ name: "raw-key", rawValue: bytes.toString("base64") }),
    });
    expect(created.status).toBe(201);
    const handler = `"use strict";
const fs = require("fs");

module.exports = async (event, context) => {
  const key = fs.readFileSync("/var/openfaas/secrets/raw-key");
  return context.status(200).succeed({ hex: key.toString("hex") });
};
`;
    const deployed = await runlet.deploy(
      "raw-reader",
      { "handler.js": handler },
      { compat: "openfaas", handler: "handler.js", secrets: ["raw-key"] },
    );
    expect(deployed.status, await deployed.clone().text()).toBeLessThan(300);
    const answer = await fetch(`${runlet.url}/function/raw-reader`);
    expect(await answer.json()).toEqual({ hex: bytes.toString("hex") });
  });

  // Unsandboxed, the Node runtime takes reads of those paths to the instance's own folders.
  it.each(["auto", "none"] as const)(
    "arrive byte for byte from runlet secret create --from-file and --key-file, at both platforms' paths (sandbox %s)",
    async (sandbox) => {
      const runlet = await startTestRunlet({ poolSize: 0, sandbox });
      const cwd = await tempDir("runlet-binary-secret-");
      await writeFile(join(cwd, "key.bin"), bytes);
      expect(
        (await cli(runlet, cwd, "secret", "create", "one-value", "--from-file", "key.bin")).code,
      ).toBe(0);
      expect(
        (
          await cli(
            runlet,
            cwd,
            "secret",
            "create",
            "keyed",
            "--key-file",
            "tls.key=key.bin",
            "--key",
            "user=admin",
          )
        ).code,
      ).toBe(0);
      const reader = `const fs = require("fs");
const hex = (path) => fs.readFileSync(path).toString("hex");

module.exports = async function (context) {
  return {
    status: 200,
    body: {
      openfaas: hex("/var/openfaas/secrets/one-value"),
      fission: hex("/secrets/default/keyed/tls.key"),
      user: fs.readFileSync("/secrets/default/keyed/user", "utf8"),
      keys: fs.readdirSync("/secrets/default/keyed").sort(),
    },
  };
};
`;
      const deployed = await runlet.deploy(
        "bytes",
        { "index.js": reader },
        { compat: "fission", secrets: ["one-value", "keyed"] },
      );
      expect(deployed.status, await deployed.clone().text()).toBeLessThan(300);
      const answer = await fetch(`${runlet.url}/function/bytes`);
      expect(await answer.json()).toEqual({
        openfaas: bytes.toString("hex"),
        fission: bytes.toString("hex"),
        user: "admin",
        keys: ["tls.key", "user"],
      });
    },
  );
});
