// `runlet operator`: what it refuses before it talks to a cluster (its reconciling is shown on kwok in test/operator/).
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { tempDir } from "../helpers/runlet.js";

describe("runlet operator", () => {
  it("refuses an unknown peer kind and names the known ones", async () => {
    const result = await runCli(["operator", "--peers", "kubeless,knative"], {
      cwd: await tempDir(),
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/unknown kind knative; known: kubeless, openfaas/);
  });

  it("refuses --gateway without the admin token, saying where it comes from", async () => {
    const result = await runCli(["operator", "--gateway", "http://127.0.0.1:9"], {
      cwd: await tempDir(),
      env: { RUNLET_ADMIN_TOKEN: "" },
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/RUNLET_ADMIN_TOKEN/);
  });

  it("takes the gateway from RUNLET_GATEWAY, and refuses it too without the token", async () => {
    const result = await runCli(["operator"], {
      cwd: await tempDir(),
      env: { RUNLET_GATEWAY: "http://127.0.0.1:9", RUNLET_ADMIN_TOKEN: "" },
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/RUNLET_ADMIN_TOKEN/);
  });

  it("is listed in runlet --help", async () => {
    const result = await runCli(["--help"], { cwd: await tempDir() });
    expect(result.stdout).toMatch(/operator \[options\]\s+run the Kubernetes operator/);
  });
});
