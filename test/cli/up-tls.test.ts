/**
 * TLS (issue 18): `runlet up --tls` makes a self-signed certificate into the data dir once and
 * prints its fingerprint, serves the control API and function calls (both fronts) over HTTPS,
 * and the CLI trusts it with --ca or RUNLET_CA; --tls-cert/--tls-key serve a given pair.
 */
import { X509Certificate } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { Agent, fetch as undiciFetch } from "undici";
import { describe, expect, it, onTestFinished } from "vitest";
import { startRunlet } from "../../src/gateway/start.js";
import { selfSignedCertificate } from "../../src/host/tls-certificate.js";
import { packDirectory } from "../../src/packaging/pack.js";
import { startServer } from "../helpers/binary.js";
import { runCli } from "../helpers/cli.js";
import { adminToken, tempDir, writeSource } from "../helpers/runlet.js";

describe("runlet up with TLS", () => {
  it("makes a self-signed certificate once, prints its fingerprint, and the CLI trusts it with --ca", async () => {
    const dataDir = join(await tempDir("runlet-tls-"), "state");
    const home = await tempDir("runlet-home-");
    const server = await startServer(
      ["--port", "0", "--no-sandbox", "--pool-size", "0", "--data-dir", dataDir, "--tls"],
      { HOME: home, RUNLET_ADMIN_TOKEN: adminToken },
    );
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const certPath = join(dataDir, "tls", "cert.pem");
    const cert = new X509Certificate(await readFile(certPath));
    expect(server.output()).toContain(`sha256     ${cert.fingerprint256}`);
    expect(server.output()).toContain("(self-signed, made now)");
    expect(server.output()).toContain(`RUNLET_CA=${certPath}`);
    expect((await stat(join(dataDir, "tls", "key.pem"))).mode & 0o777).toBe(0o600);
    expect(cert.checkIP("127.0.0.1")).toBe("127.0.0.1");

    const cwd = await tempDir();
    const env = { RUNLET_GATEWAY: server.url, RUNLET_TOKEN: adminToken };
    // Not trusted by default: the CLI says it cannot reach the gateway, and why.
    const untrusted = await runCli(["list"], { cwd, env });
    expect(untrusted.code).toBe(1);
    expect(untrusted.stderr).toMatch(/Cannot reach the Runlet gateway at https:.*certificate/i);
    const trusted = await runCli(["list", "--ca", certPath], { cwd, env });
    expect(trusted.stderr).toBe("");
    expect(trusted.stdout).toContain("No functions");
    const fromEnv = await runCli(["token", "create", "ci", "--role", "viewer"], {
      cwd,
      env: { ...env, RUNLET_CA: certPath },
    });
    expect(fromEnv.stdout).toContain("✔ token ci");
    // Plain HTTP on the TLS port gets nothing.
    await expect(fetch(server.url.replace("https:", "http:") + "/healthz")).rejects.toThrow();

    // The next start keeps the certificate (clients that trust it keep working).
    server.child.kill("SIGTERM");
    await server.exited;
    const again = await selfSignedCertificate(dataDir);
    expect(again.created).toBe(false);
    expect(again.fingerprint).toBe(cert.fingerprint256);
  });

  it("serves the control API and calls on both fronts over HTTPS with a given certificate", async () => {
    const material = await selfSignedCertificate(await tempDir("runlet-cert-"));
    const runlet = await startRunlet({
      port: 0,
      adminToken,
      dataDir: await tempDir(),
      sandbox: "none",
      poolSize: 0,
      tls: { cert: material.cert, key: material.key },
    });
    onTestFinished(() => runlet.close(2000));
    expect(runlet.url).toMatch(/^https:/);
    const dispatcher = new Agent({ connect: { ca: material.cert } });
    onTestFinished(() => dispatcher.close());
    const auth = { authorization: `Bearer ${adminToken}` };
    const packed = await packDirectory(
      await writeSource({ "index.js": "export default async (e) => 'got ' + String(e.body)" }),
    );
    const upload = await undiciFetch(`${runlet.url}/api/v1/packages`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/gzip" },
      body: packed.archive,
      dispatcher,
    });
    expect(upload.status).toBe(201);
    const deployed = await undiciFetch(`${runlet.url}/api/v1/functions/hello`, {
      method: "PUT",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ runtime: "node", package: packed.digest }),
      dispatcher,
    });
    expect(deployed.status).toBe(201);
    // A plain-shaped call (the lean front) and a chunked one (node:http), on one TLS port.
    const plain = await undiciFetch(`${runlet.url}/function/hello`, {
      method: "POST",
      body: "a",
      dispatcher,
    });
    expect(await plain.text()).toBe("got a");
    const chunked = await undiciFetch(`${runlet.url}/function/hello`, {
      method: "POST",
      body: new Blob(["b"]).stream(),
      duplex: "half",
      dispatcher,
    });
    expect(await chunked.text()).toBe("got b");
  });

  it("refuses a certificate without its key", async () => {
    const cwd = await tempDir();
    const result = await runCli(["up", "--port", "0", "--tls-cert", "cert.pem"], {
      cwd,
      env: { RUNLET_DATA_DIR: join(cwd, "data") },
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("Give both --tls-cert FILE and --tls-key FILE");
  });
});
