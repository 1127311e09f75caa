/**
 * Where builds cannot be sandboxed and the platform's credentials are at hand (Kubernetes mode:
 * the gateway pod), no code of the function's runs at build time: a hostile package's install
 * script that would read the platform's secrets never runs, its dependencies still install,
 * and a Maven build (whose pom names plugins, which are code) is refused saying why.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { deployStreamed } from "../build/build-helpers.js";
import { sharedBuildCache, startTestRunlet, tempDir } from "../helpers/runlet.js";

/**
 * A function whose own install script runs code of the caller's choosing: here it only leaves
 * a mark; an attacker's would read the platform's token and the service account's.
 */
function scripted(marker: string): Record<string, string> {
  return {
    "package.json": JSON.stringify({
      dependencies: { ms: "2.1.3" },
      scripts: {
        postinstall: `node -e "require('fs').writeFileSync(${JSON.stringify(marker).replaceAll('"', "'")}, 'ran')"`,
      },
    }),
    "index.js": "import ms from 'ms';\nexport default async () => ms(60000);\n",
  };
}

describe("builds without a sandbox", () => {
  it("run no install script of the function's when only sandboxed builds may run package code", async () => {
    const runlet = await startTestRunlet({
      poolSize: 0,
      sandbox: "none",
      buildPackageCode: "sandboxed-only",
      buildCacheDir: sharedBuildCache(),
    });
    const marker = join(await tempDir("runlet-marker-"), "ran");
    const deployed = await deployStreamed(runlet, "hostile", scripted(marker), { runtime: "node" });
    expect(deployed.last.type).toBe("result");
    expect(existsSync(marker)).toBe(false);
    // Its dependencies are installed all the same.
    expect(await (await fetch(`${runlet.url}/function/hostile`)).text()).toBe("1m");
  });

  it("run them when package code may run (the embedded default), so the check above can fail", async () => {
    const runlet = await startTestRunlet({
      poolSize: 0,
      sandbox: "none",
      buildCacheDir: sharedBuildCache(),
    });
    const marker = join(await tempDir("runlet-marker-"), "ran");
    const deployed = await deployStreamed(runlet, "scripted", scripted(marker), {
      runtime: "node",
    });
    expect(deployed.last.type).toBe("result");
    expect(existsSync(marker)).toBe(true);
  });

  it("refuse a Maven build, saying why and what builds instead", async () => {
    const runlet = await startTestRunlet({
      poolSize: 0,
      sandbox: "none",
      buildPackageCode: "sandboxed-only",
      buildCacheDir: sharedBuildCache(),
    });
    const deployed = await deployStreamed(
      runlet,
      "maven",
      {
        "pom.xml":
          "<project><modelVersion>4.0.0</modelVersion><groupId>a</groupId><artifactId>b</artifactId><version>1</version></project>",
        "Handler.java":
          'import dev.runlet.*;\npublic class Handler implements Function { public Object handle(Event e, Context c) { return "x"; } }\n',
      },
      { runtime: "java" },
    );
    expect(deployed.last.type).toBe("error");
    expect(deployed.last.error?.code).toBe("RUNLET_BUILD_FAILED");
    expect(deployed.last.error?.message).toMatch(/runs the plugins the pom names/);
    expect(deployed.last.error?.message).toMatch(/without pom\.xml is compiled with javac alone/);
  });
});
