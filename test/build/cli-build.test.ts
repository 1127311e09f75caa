import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { adminToken, startTestRunlet, tempDir } from "../helpers/runlet.js";

async function writeFunction(dir: string, files: Record<string, string>): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) {
    await writeFile(join(dir, name), content);
  }
}

describe("runlet deploy with a build", () => {
  it("prints the build live with step names and durations, and the cache on redeploy", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    const cwd = await tempDir("runlet-cli-");
    const env = { RUNLET_GATEWAY: runlet.url, RUNLET_TOKEN: adminToken };
    const source = join(cwd, "fn");
    const manifest = JSON.stringify({ type: "module", dependencies: { ms: "2.1.3" } });
    await writeFunction(source, {
      "package.json": manifest,
      "index.ts": `import ms from "ms";\nexport default async (): Promise<string> => "v1 " + ms(2000);\n`,
    });
    const argv = ["deploy", "fn", "--runtime", "typescript", "--source", "./fn"];
    const first = await runCli(argv, { cwd, env });
    expect(first.stderr).toContain("fn: ▸ npm install");
    expect(first.stderr).toMatch(/fn: {3}│ added 1 package/);
    expect(first.stderr).toMatch(/fn: ✔ npm install \(\d+(ms|\.\ds)\)/);
    expect(first.stderr).toMatch(/fn: ✔ esbuild \(/);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain("✔ fn deployed (revision 1)");
    expect(await (await fetch(`${runlet.url}/function/fn`)).text()).toBe("v1 2s");

    await writeFunction(source, {
      "index.ts": `import ms from "ms";\nexport default async (): Promise<string> => "v2 " + ms(2000);\n`,
    });
    const second = await runCli(argv, { cwd, env });
    expect(second.code).toBe(0);
    expect(second.stderr).toContain("fn: ✔ npm install cached");
    expect(second.stderr).not.toContain("▸ npm install");
    expect(await (await fetch(`${runlet.url}/function/fn`)).text()).toBe("v2 2s");

    await writeFunction(source, {
      "package.json": JSON.stringify({
        dependencies: { ms: "2.1.3", "runlet-no-such-package-4f9c2e": "1.0.0" },
      }),
    });
    const failed = await runCli(argv, { cwd, env });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain("fn: ✘ npm install failed after");
    expect(failed.stderr).toContain("npm error 404");
    expect(failed.stderr).not.toMatch(/\n\s+at .*\.(js|ts):\d+/);
    expect(await (await fetch(`${runlet.url}/function/fn`)).text()).toBe("v2 2s");
  });
});
