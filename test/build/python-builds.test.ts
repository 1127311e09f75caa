import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { startTestRunlet } from "../helpers/runlet.js";
import { deployStreamed } from "./build-helpers.js";
import { buildSource, cachedSteps, started } from "./builder-helpers.js";

const run = promisify(execFile);

// Real installs from PyPI: `six`, pinned, a single pure-Python module.
describe("Python requirements", () => {
  it("installs requirements.txt into .runlet/python, and reuses it when only the code changes", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    const first = await buildSource(runlet, "python", "handler.py", {
      "requirements.txt": "six==1.16.0\n",
      "handler.py": "import six\ndef handle(event, context):\n    return six.__version__\n",
    });
    expect(first.error).toBeUndefined();
    expect(started(first.events)).toContain("pip install");
    const tree = first.tree ?? "";
    expect(existsSync(join(tree, ".runlet/python/six.py"))).toBe(true);
    expect(existsSync(join(tree, "handler.py"))).toBe(true);
    // The installed package imports from the built tree, as the Python runtime will load it.
    const { stdout } = await run("python3", [
      "-c",
      `import sys; sys.path[:0] = [${JSON.stringify(join(tree, ".runlet/python"))}, ${JSON.stringify(tree)}]; import handler; print(handler.handle({}, None))`,
    ]);
    expect(stdout.trim()).toBe("1.16.0");

    const second = await buildSource(runlet, "python", "handler.py", {
      "requirements.txt": "six==1.16.0\n",
      "handler.py": "import six\ndef handle(event, context):\n    return 'v2 ' + six.__version__\n",
    });
    expect(second.error).toBeUndefined();
    expect(started(second.events)).not.toContain("pip install");
    expect(cachedSteps(second.events)).toContain("pip install");
    expect(existsSync(join(second.tree ?? "", ".runlet/python/six.py"))).toBe(true);
  });

  it("deploys a Python function whose requirement the runtime imports from .runlet/python", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    const deployed = await deployStreamed(
      runlet,
      "py",
      {
        // Not installed on the system: it can only come from the build.
        "requirements.txt": "inflection==0.5.1\n",
        "handler.py":
          "import inflection\n\ndef handle(event, context):\n    where = 'from .runlet/python' if '.runlet/python' in inflection.__file__ else inflection.__file__\n    return inflection.camelize('runlet_builds') + ' ' + where\n",
      },
      { runtime: "python" },
    );
    expect(deployed.last).toMatchObject({ type: "result", outcome: "created" });
    expect(await (await fetch(`${runlet.url}/function/py`)).text()).toBe(
      "RunletBuilds from .runlet/python",
    );
  });

  it("fails with pip's message when a requirement cannot be installed", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    const failed = await buildSource(runlet, "python", "handler.py", {
      "requirements.txt": "runlet-no-such-package-4f9c2e==1.0.0\n",
      "handler.py": "def handle(event, context):\n    return 'x'\n",
    });
    expect(failed.error?.code).toBe("RUNLET_BUILD_FAILED");
    expect(failed.error?.status).toBe(422);
    expect(failed.error?.message).toContain("pip install failed");
    expect(failed.error?.message).toMatch(/No matching distribution|Could not find a version/);
    expect(failed.error?.message).not.toMatch(/Traceback/);
  });

  it("leaves a Python function without requirements unbuilt", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    const plain = await buildSource(runlet, "python", "handler.py", {
      "handler.py": "def handle(event, context):\n    return 'x'\n",
    });
    expect(plain.result?.built).toBe(false);
    expect(plain.events).toEqual([]);
  });
});
