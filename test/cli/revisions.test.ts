/** `runlet revisions`, `runlet rollback` and `runlet scale` (issue 20), in-process against a real Runlet. */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { adminToken, startTestRunlet, tempDir } from "../helpers/runlet.js";

describe("runlet revisions, rollback, scale", () => {
  it("lists revisions, rolls back to the previous or a named one, and scales", async () => {
    const runlet = await startTestRunlet();
    const cwd = await tempDir("runlet-cli-");
    const env = { RUNLET_GATEWAY: runlet.url, RUNLET_TOKEN: adminToken };
    const cli = (argv: string[]) => runCli(argv, { cwd, env });
    await mkdir(join(cwd, "hello"));
    for (const n of [1, 2]) {
      await writeFile(join(cwd, "hello", "index.js"), `export default async () => "v${n}";`);
      expect((await cli(["deploy", "hello", "--runtime", "node", "--source", "hello"])).code).toBe(
        0,
      );
    }
    const listed = await cli(["revisions", "hello"]);
    expect(listed.stdout).toMatch(
      /REVISION\s+ACTIVE\s+CREATED\s+RUNTIME\s+SCALE\s+PACKAGE\n1\s+\S+\s+node\s+0-10\s+sha256:\S+\n2\s+\*\s+/,
    );

    expect((await cli(["rollback", "hello"])).stdout).toBe("✔ hello rolled back to revision 1\n");
    expect(await (await fetch(`${runlet.url}/function/hello`)).text()).toBe("v1");
    expect((await cli(["rollback", "hello", "--to", "1"])).stdout).toBe(
      "hello already runs revision 1\n",
    );
    expect((await cli(["rollback", "hello", "--to", "2"])).stdout).toContain("revision 2");
    expect(await (await fetch(`${runlet.url}/function/hello`)).text()).toBe("v2");
    const missing = await cli(["rollback", "hello", "--to", "7"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("Function hello has no revision 7");

    expect((await cli(["scale", "hello", "--min", "1", "--max", "4"])).stdout).toBe(
      "✔ hello scaled (revision 3)\n",
    );
    const json = JSON.parse((await cli(["revisions", "hello", "--json"])).stdout) as {
      revision: number;
      active: boolean;
      spec: { scale?: { min: number; max: number } };
    }[];
    expect(json.at(-1)).toMatchObject({
      revision: 3,
      active: true,
      spec: { scale: { min: 1, max: 4 } },
    });
    const none = await cli(["scale", "hello"]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("give --min, --max or both");
  });
});
