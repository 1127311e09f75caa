/**
 * A function's build runs the function's own code (here an npm root preinstall script; Maven
 * plugins and setup.py builds are the same) with write access to the tool's cache. A hostile
 * build that leaves something there must not reach another function's build: each function
 * has its own npm, pip and Maven caches (build/builder.ts).
 */
import { describe, expect, it } from "vitest";
import { startTestRunlet } from "../helpers/runlet.js";

const handler = "export default async () => 'ok';\n";

/** A package.json whose preinstall runs `script` in the sandboxed build (npm runs for its dependency). */
function packageJson(name: string, script: string): string {
  return JSON.stringify({
    name,
    version: "1.0.0",
    private: true,
    scripts: { preinstall: script },
    dependencies: { ms: "2.1.3" },
  });
}

describe("build caches", () => {
  it("keep what one function's build leaves in the npm cache away from another function's build", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    // The attacker's build plants a file in the cache its npm is given.
    const planted = await runlet.deploy(
      "poisoner",
      {
        "index.js": handler,
        "package.json": packageJson("poisoner", 'touch "$npm_config_cache/planted"'),
      },
      { runtime: "node", handler: "index.js" },
    );
    expect(planted.status, await planted.text()).toBeLessThan(300);
    // Its own next build (another package.json, so npm runs again) finds it: the plant worked.
    const again = await runlet.deploy(
      "poisoner",
      {
        "index.js": handler,
        "package.json": packageJson("poisoner-2", 'test -e "$npm_config_cache/planted"'),
      },
      { runtime: "node", handler: "index.js" },
    );
    expect(again.status, await again.text()).toBeLessThan(300);
    // Another function's build does not: its preinstall fails the deploy if it does.
    const victim = await runlet.deploy(
      "victim",
      {
        "index.js": handler,
        "package.json": packageJson("victim", 'test ! -e "$npm_config_cache/planted"'),
      },
      { runtime: "node", handler: "index.js" },
    );
    expect(victim.status, await victim.text()).toBeLessThan(300);
  });
});
