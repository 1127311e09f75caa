import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { adminToken, startTestRunlet, tempDir } from "../helpers/runlet.js";
import { deployStreamed } from "./build-helpers.js";

const example = fileURLToPath(new URL("../../examples/node-dependencies/", import.meta.url));

describe("the Node dependencies example", () => {
  it("deploys with npm ci from its lockfile and uses the installed package", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    const cwd = await tempDir("runlet-cli-");
    const env = { RUNLET_GATEWAY: runlet.url, RUNLET_TOKEN: adminToken };
    const deployed = await runCli(["deploy", "-f", join(example, "runlet.yaml")], { cwd, env });
    expect(deployed.stderr).toContain("uptime: ▸ npm ci --omit=dev");
    expect(deployed.stderr).toContain("package-lock.json");
    expect(deployed.code).toBe(0);
    const response = await fetch(`${runlet.url}/function/uptime?timeout=2h`);
    expect(((await response.json()) as { timeoutMs: number }).timeoutMs).toBe(7_200_000);
  });
});

describe("build timeouts", () => {
  it("stops a tool that runs past the build timeout and fails the deploy saying so", async () => {
    const runlet = await startTestRunlet({ poolSize: 0, buildTimeoutMs: 3000 });
    const deployed = await deployStreamed(
      runlet,
      "slow",
      {
        "package.json": JSON.stringify({
          dependencies: { ms: "2.1.3" },
          scripts: { postinstall: 'node -e "setTimeout(() => {}, 600000)"' },
        }),
        "index.js": "export default async () => 'never';\n",
      },
      { runtime: "node" },
    );
    expect(deployed.last.type).toBe("error");
    expect(deployed.last.error?.code).toBe("RUNLET_BUILD_FAILED");
    expect(deployed.last.error?.message).toContain("did not finish within 3s");
    expect((await runlet.api("/api/v1/functions/slow")).status).toBe(404);
  });
});
