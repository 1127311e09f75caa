import { createServer } from "node:net";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, readFile, readdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runBinary, startServer } from "../helpers/binary.js";
import { eventually, tempDir } from "../helpers/runlet.js";

describe("the runlet binary", () => {
  it("starts, prints a private admin token once, deploys and serves, drains on SIGTERM and keeps functions across a restart", async () => {
    const home = await tempDir("runlet-home-");
    const env = { HOME: home };
    const server = await startServer(["--port", "0"], env);
    const token = /admin token[^\n]*\n\s+(\S+)/.exec(server.output())?.[1];
    expect(token).toBeTruthy();
    expect(server.output()).toContain("Try it:  runlet new hello --runtime node");
    const tokenFile = join(home, ".runlet", "admin-token");
    expect((await stat(tokenFile)).mode & 0o777).toBe(0o600);

    const project = await tempDir("runlet-project-");
    await mkdir(join(project, "slow"));
    await writeFile(
      join(project, "slow", "index.js"),
      `export default async (event) => { if (event.query.wait) { await new Promise((r) => setTimeout(r, Number(event.query.wait))); } return "done"; }`,
    );
    // No login: the CLI finds the local platform's token in the default data dir.
    const clientEnv = { HOME: home, RUNLET_GATEWAY: server.url };
    const deployed = await runBinary(["deploy", "slow", "--runtime", "node", "--source", "slow"], {
      cwd: project,
      env: clientEnv,
    });
    expect(deployed.stderr).toContain("slow: packed");
    expect(deployed.code).toBe(0);
    expect((await runBinary(["invoke", "slow"], { cwd: project, env: clientEnv })).stdout).toBe(
      "done",
    );

    // A call in flight when SIGTERM arrives still gets its answer; then the process exits 0.
    const inFlight = fetch(`${server.url}/function/slow?wait=700`);
    await eventually(
      async () => {
        const fn = (await (
          await fetch(`${server.url}/api/v1/functions/slow`, {
            headers: { authorization: `Bearer ${token ?? ""}` },
          })
        ).json()) as { instances: { inFlight: number }[] };
        return fn.instances[0]?.inFlight === 1 ? true : undefined;
      },
      { what: "the slow call to be in flight" },
    );
    server.child.kill("SIGTERM");
    const answer = await inFlight;
    expect(answer.status).toBe(200);
    expect(await answer.text()).toBe("done");
    expect(await server.exited).toBe(0);
    expect(server.output()).toContain("Stopped.");

    const restarted = await startServer(["--port", "0"], env);
    expect(restarted.output()).toContain("functions  1 deployed");
    expect(restarted.output()).not.toContain("admin token");
    expect(restarted.output()).not.toContain("Try it"); // only shown while nothing is deployed
    expect(await (await fetch(`${restarted.url}/function/slow`)).text()).toBe("done");
    restarted.child.kill("SIGINT");
    expect(await restarted.exited).toBe(0);
  });

  it("on another port and data dir, prints the variables that let other shells use it", async () => {
    const home = await tempDir("runlet-home-");
    const dataDir = join(await tempDir("runlet-state-"), "state");
    const server = await startServer(["--port", "0", "--data-dir", dataDir], { HOME: home });
    const exported = /clients\s+export (.+?)\s{3}/.exec(server.output())?.[1];
    expect(exported).toBe(`RUNLET_GATEWAY=${server.url} RUNLET_DATA_DIR=${dataDir}`);

    // A shell with only those variables (and another HOME) reaches the gateway with its token.
    const clientEnv = Object.fromEntries(
      (exported ?? "").split(" ").map((pair) => pair.split("=", 2) as [string, string]),
    );
    const listed = await runBinary(["list"], {
      cwd: home,
      env: { ...clientEnv, HOME: await tempDir("runlet-other-home-") },
    });
    expect(listed.stderr).toBe("");
    expect(listed.code).toBe(0);
    server.child.kill("SIGTERM");
    expect(await server.exited).toBe(0);
  });

  it("says which port is in use and how to pick another", async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const home = await tempDir("runlet-home-");
      const result = await runBinary(["up", "--port", String(port)], {
        cwd: home,
        env: { HOME: home },
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`Port ${port} on 127.0.0.1 is already in use`);
      expect(result.stderr).toContain(`runlet up --port ${port + 1}`);
      expect(result.stderr).not.toContain("    at ");
    } finally {
      blocker.close();
    }
  });

  it("uses RUNLET_ADMIN_TOKEN when set", async () => {
    const home = await tempDir("runlet-home-");
    const server = await startServer(["--port", "0", "--data-dir", join(home, "state")], {
      HOME: home,
      RUNLET_ADMIN_TOKEN: "preset-token",
    });
    expect(server.output()).not.toContain("preset-token");
    expect(
      (
        await fetch(`${server.url}/system/functions`, {
          headers: { authorization: "Bearer preset-token" },
        })
      ).status,
    ).toBe(200);
    server.child.kill("SIGTERM");
    expect(await server.exited).toBe(0);
  });

  it("shows help and fails unknown commands with a suggestion", async () => {
    const home = await tempDir("runlet-home-");
    const help = await runBinary(["--help"], { cwd: home, env: { HOME: home } });
    expect(help.code).toBe(0);
    for (const command of [
      "up",
      "new",
      "deploy",
      "invoke",
      "list",
      "describe",
      "logs",
      "remove",
      "secret",
      "login",
      "logout",
      "version",
    ]) {
      expect(help.stdout).toContain(`  ${command}`);
    }
    const typo = await runBinary(["deplyo"], { cwd: home, env: { HOME: home } });
    expect(typo.code).toBe(1);
    expect(typo.stderr).toContain("Did you mean deploy?");
  });
});

describe("instances after a platform crash", () => {
  it("exit with the platform even unsandboxed, when it is killed with SIGKILL", async () => {
    const home = await tempDir("runlet-home-");
    const server = await startServer(["--port", "0", "--no-sandbox", "--pool-size", "2"], {
      HOME: home,
    });
    const platformPid = server.child.pid ?? 0;
    const children = await eventually(
      async () => {
        const pids = (await readdir("/proc")).filter((p) => /^\d+$/.test(p));
        const found: number[] = [];
        for (const pid of pids) {
          const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
          const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
          if (
            Number(stat.split(") ")[1]?.split(" ")[1]) === platformPid &&
            cmdline.includes("server.mjs")
          ) {
            found.push(Number(pid));
          }
        }
        return found.length === 2 ? found : undefined;
      },
      { what: "two pooled instances" },
    );
    server.child.kill("SIGKILL");
    await server.exited;
    await eventually(
      () =>
        children.every(
          (pid) =>
            !existsSync(`/proc/${pid}`) ||
            readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z "),
        )
          ? true
          : undefined,
      { what: "the instances to exit" },
    );
  });
});
