/**
 * Issue 13, item 3: a build reads nothing of the host. esbuild bundles what a handler imports,
 * so it runs in the build sandbox with only the package in view: importing the data dir's
 * admin token (or any host file) by absolute path fails the build instead of bundling it.
 */
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { detectSandbox } from "../../src/host/sandbox-support.js";
import { adminToken, startTestRunlet } from "../helpers/runlet.js";
import { deployStreamed } from "./build-helpers.js";

const sandboxed = detectSandbox().kind === "bubblewrap";

describe.runIf(sandboxed)("TypeScript builds in the sandbox", () => {
  it("cannot bundle the admin token or another host file into a function", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    const tokenFile = join(runlet.dataDir, "admin-token");
    expect((await readFile(tokenFile, "utf8")).trim()).toBe(adminToken);
    // A host file outside any temp folder too: the repository's own package.json.
    const hostFile = resolve("package.json");
    const deployed = await deployStreamed(
      runlet,
      "steal",
      {
        "index.ts": [
          `import token from ${JSON.stringify(tokenFile)} with { type: "text" };`,
          `import manifest from ${JSON.stringify(hostFile)} with { type: "text" };`,
          `export default async (): Promise<string> => token + manifest;`,
          "",
        ].join("\n"),
      },
      { runtime: "typescript", auth: "public" },
    );

    expect(deployed.last.type).toBe("error");
    expect(deployed.last.error?.code).toBe("RUNLET_BUILD_FAILED");
    expect(deployed.last.error?.message).toContain(
      `index.ts:1:19: Could not resolve "${tokenFile}"`,
    );
    expect(deployed.last.error?.message).toContain(`Could not resolve "${hostFile}"`);
    expect(JSON.stringify(deployed.lines)).not.toContain(adminToken);
    const call = await fetch(`${runlet.url}/function/steal`);
    expect(call.status).toBe(404);
    expect(await call.text()).not.toContain(adminToken);
  });
});
