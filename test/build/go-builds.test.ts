import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { createServer } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { promisify } from "node:util";
import { execFile } from "node:child_process";
import { runCli } from "../helpers/cli.js";
import { deployStreamed } from "./build-helpers.js";
import { adminToken, eventually, startBuildRunlet, type TestRunlet } from "../helpers/runlet.js";
import { buildSource, started } from "./builder-helpers.js";

const server = `package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Hello, %s!", r.URL.Query().Get("name"))
	})
	http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), nil)
}
`;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === "object" && address
          ? resolve(address.port)
          : reject(new Error("no port")),
      );
    });
  });
}

/** Starts a built server with $PORT as the exec runtime would, and fetches `path` from it. */
async function serveOnce(binary: string, cwd: string, path: string): Promise<string> {
  const port = await freePort();
  const child = spawn(binary, [], { cwd, env: { PORT: String(port) }, stdio: "ignore" });
  onTestFinished(() => {
    child.kill("SIGKILL");
  });
  return eventually(
    async () => {
      const response = await fetch(`http://127.0.0.1:${port}${path}`).catch(() => undefined);
      return response ? await response.text() : undefined;
    },
    { what: "the Go server to answer" },
  );
}

const run = promisify(execFile);

describe("Go", () => {
  // One platform for these tests: its GOCACHE keeps the standard library compiled after the first build.
  let runlet: TestRunlet;
  beforeAll(async () => {
    runlet = await startBuildRunlet("runlet-go-");
  });
  afterAll(async () => {
    await runlet.close(1000);
    await rm(runlet.dataDir, { recursive: true, force: true });
  });

  it("compiles the main package to a static binary that serves HTTP on $PORT", async () => {
    const built = await buildSource(runlet, "go", "main.go", { "main.go": server });
    expect(built.error).toBeUndefined();
    expect(started(built.events)).toContain("go build");
    const binary = join(built.tree ?? "", ".runlet/bin/function");
    expect(existsSync(binary)).toBe(true);
    // The revision runs it on the exec runtime in HTTP mode, from the package directory.
    expect(await serveOnce(binary, built.tree ?? "", "/?name=Go")).toBe("Hello, Go!");
  }, 300_000);

  it("deploys the Go template created by runlet new (its own test passes), and it answers", async () => {
    const cwd = await mkdtemp(join(tmpdir(), "runlet-go-new-"));
    onTestFinished(() => rm(cwd, { recursive: true, force: true }));
    expect((await runCli(["new", "hello", "--runtime", "go"], { cwd })).code).toBe(0);
    const dir = join(cwd, "hello");
    const tested = await run("go", ["test", "./..."], { cwd: dir });
    expect(tested.stdout).toMatch(/^ok\s/m);
    const env = { RUNLET_GATEWAY: runlet.url, RUNLET_TOKEN: adminToken };
    const deployed = await runCli(["deploy"], { cwd, env });
    expect(deployed.stderr).toContain("hello: ✔ go build");
    expect(deployed.code).toBe(0);
    const response = await fetch(`${runlet.url}/function/hello?name=Ada`);
    expect(await response.json()).toEqual({ message: "Hello, Ada!" });
  }, 300_000);

  it("deploys a Go function that the exec runtime serves, and a failed build keeps it serving", async () => {
    const deployed = await deployStreamed(
      runlet,
      "goapp",
      { "main.go": `// goapp\n${server}` },
      { runtime: "go" },
    );
    expect(deployed.ran).toContain("go build");
    expect(deployed.last).toMatchObject({ type: "result", outcome: "created" });
    expect(await (await fetch(`${runlet.url}/function/goapp?name=Gopher`)).text()).toBe(
      "Hello, Gopher!",
    );
    const broken = await deployStreamed(
      runlet,
      "goapp",
      { "main.go": server.replace("fmt.Fprintf(w,", "fmt.Fprintf(w, missing,") },
      { runtime: "go" },
    );
    expect(broken.last.error?.code).toBe("RUNLET_BUILD_FAILED");
    expect(broken.last.error?.message).toMatch(/main\.go:\d+:\d+: undefined: missing/);
    expect(await (await fetch(`${runlet.url}/function/goapp?name=again`)).text()).toBe(
      "Hello, again!",
    );
  }, 300_000);

  it("refuses a command or stdio mode for runtime go", async () => {
    const response = await runlet.deploy(
      "gocmd",
      { "main.go": server },
      { runtime: "go", command: "./server", mode: "stdio" },
    );
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("RUNLET_INVALID_SPEC");
    expect(body.error.message).toContain("command: runtime go runs the program its build compiles");
    expect(body.error.message).toContain("mode: runtime go runs an HTTP server on $PORT");
  });

  it("fails a compile error with Go's file:line message", async () => {
    const failed = await buildSource(runlet, "go", "main.go", {
      "main.go": "package main\n\nfunc main() {\n\tundefinedThing()\n}\n",
    });
    expect(failed.error?.code).toBe("RUNLET_BUILD_FAILED");
    expect(failed.error?.message).toContain("go build failed");
    expect(failed.error?.message).toMatch(/main\.go:4:2: undefined: undefinedThing/);
  });

  it("names the missing module when an import has no requirement", async () => {
    const failed = await buildSource(runlet, "go", "main.go", {
      "go.mod": "module example.com/fn\n\ngo 1.21\n",
      "main.go":
        'package main\n\nimport "example.com/runlet/no/such/module"\n\nfunc main() { module.Run() }\n',
    });
    expect(failed.error?.code).toBe("RUNLET_BUILD_FAILED");
    expect(failed.error?.message).toContain("example.com/runlet/no/such/module");
  });
});
