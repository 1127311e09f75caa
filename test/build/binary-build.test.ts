import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runBinary, startServer } from "../helpers/binary.js";
import { tempDir } from "../helpers/runlet.js";

describe("the runlet binary with a build", () => {
  it("deploys a TypeScript function with an npm dependency, printing the build", async () => {
    const home = await tempDir("runlet-home-");
    const server = await startServer(["--port", "0"], { HOME: home });
    const project = await tempDir("runlet-project-");
    await mkdir(join(project, "fn"));
    await writeFile(
      join(project, "fn", "package.json"),
      JSON.stringify({ type: "module", dependencies: { ms: "2.1.3" } }),
    );
    await writeFile(
      join(project, "fn", "index.ts"),
      `import ms from "ms";\nexport default async (): Promise<string> => ms(90_000);\n`,
    );
    const env = { HOME: home, RUNLET_GATEWAY: server.url };
    const deployed = await runBinary(
      ["deploy", "fn", "--runtime", "typescript", "--source", "fn"],
      { cwd: project, env },
    );
    expect(deployed.stderr).toContain("fn: ▸ npm install");
    expect(deployed.stderr).toMatch(/fn: ✔ esbuild \(\d+/);
    expect(deployed.code).toBe(0);
    expect((await runBinary(["invoke", "fn"], { cwd: project, env })).stdout).toBe("2m");
  });
});
