/**
 * The CLI's developer loop (issue 20): `runlet dev` redeploying on save and tailing logs,
 * `runlet top`, shell completions, `--version`, and `invoke` ending its answer's line on a
 * terminal, each against a real Runlet (and a real bash for the completions).
 */
import { spawnSync } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { VERSION } from "../../src/version.js";
import { runCli } from "../helpers/cli.js";
import { adminToken, eventually, startTestRunlet, tempDir } from "../helpers/runlet.js";

/** main(argv) with output read as it comes, a terminal or not, and a stop the test gives. */
function startCli(argv: string[], cwd: string, env: Record<string, string>, tty = false) {
  const stdout = Object.assign(new PassThrough(), { isTTY: tty });
  const stderr = new PassThrough();
  const output = { stdout: "", stderr: "" };
  stdout.on("data", (chunk: Buffer) => (output.stdout += chunk.toString("utf8")));
  stderr.on("data", (chunk: Buffer) => (output.stderr += chunk.toString("utf8")));
  let stop: (signal: NodeJS.Signals) => void = () => undefined;
  const stopped = new Promise<NodeJS.Signals>((resolve) => (stop = resolve));
  const stdin = Object.assign(Readable.from([]), { isTTY: true });
  const exit = main(argv, {
    stdout,
    stderr,
    stdin,
    env: { HOME: cwd, ...env },
    cwd,
    stopSignal: () => stopped,
  });
  return { output, exit, stop: () => stop("SIGINT") };
}

async function setup() {
  const runlet = await startTestRunlet();
  const cwd = await tempDir("runlet-dev-");
  const env = { RUNLET_GATEWAY: runlet.url, RUNLET_TOKEN: adminToken };
  return { runlet, cwd, env };
}

describe("runlet dev", () => {
  it("deploys, redeploys on every save, tails the logs, and survives a broken save", async () => {
    const { runlet, cwd, env } = await setup();
    await mkdir(join(cwd, "hello"));
    const handler = join(cwd, "hello", "index.js");
    const version = (n: number) =>
      `export default async () => { console.log("serving v${n}"); return "v${n}"; };\n`;
    await writeFile(handler, version(1));
    await writeFile(
      join(cwd, "runlet.yaml"),
      "version: 1\nfunctions:\n  hello:\n    runtime: node\n    source: ./hello\n",
    );
    const dev = startCli(["dev"], cwd, env);
    await eventually(() => dev.output.stdout.includes("✔ hello revision 1"), {
      what: "the first deploy",
    });
    expect(await (await fetch(`${runlet.url}/function/hello`)).text()).toBe("v1");
    await eventually(() => dev.output.stdout.includes("serving v1"), { what: "its log line" });
    expect(dev.output.stdout).toMatch(/\[[0-9a-f]{8}\] serving v1/);

    await writeFile(handler, version(2));
    await eventually(
      () => /✔ hello revision 2, serving \d+ ms after the change/.test(dev.output.stdout),
      {
        what: "the redeploy",
      },
    );
    expect(await (await fetch(`${runlet.url}/function/hello`)).text()).toBe("v2");

    await writeFile(handler, "export default async () => {\n");
    await eventually(() => dev.output.stderr.includes("✖"), { what: "the failed deploy" });
    expect(dev.output.stderr).toContain("the previous revision keeps serving");
    expect(await (await fetch(`${runlet.url}/function/hello`)).text()).toBe("v2");

    await writeFile(handler, version(3));
    await eventually(() => dev.output.stdout.includes("✔ hello revision 3"), {
      what: "the deploy after the fix",
    });
    dev.stop();
    expect(await dev.exit).toBe(0);
  });

  it("deploys a save of a function that has printed nothing yet (the log stream waits aside)", async () => {
    const { runlet, cwd, env } = await setup();
    await mkdir(join(cwd, "quiet"));
    const handler = join(cwd, "quiet", "index.js");
    await writeFile(handler, 'export default async () => "one";\n');
    await writeFile(
      join(cwd, "runlet.yaml"),
      "version: 1\nfunctions:\n  quiet:\n    runtime: node\n",
    );
    const dev = startCli(["dev", "quiet"], cwd, env);
    await eventually(() => dev.output.stdout.includes("✔ quiet revision 1"), {
      what: "the first deploy",
    });
    await writeFile(handler, 'export default async () => "two";\n');
    await eventually(() => dev.output.stdout.includes("✔ quiet revision 2"), {
      what: "the deploy of the save",
    });
    expect(await (await fetch(`${runlet.url}/function/quiet`)).text()).toBe("two");
    dev.stop();
    expect(await dev.exit).toBe(0);
  });

  it("names the functions to choose from when runlet.yaml has several", async () => {
    const { cwd, env } = await setup();
    await writeFile(
      join(cwd, "runlet.yaml"),
      "version: 1\nfunctions:\n  a:\n    runtime: node\n  b:\n    runtime: node\n",
    );
    const result = await runCli(["dev"], { cwd, env });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("name the one to develop: runlet dev NAME (a, b)");
  });
});

describe("runlet top, completion, --version, invoke on a terminal", () => {
  it("prints the functions' live numbers", async () => {
    const { runlet, cwd, env } = await setup();
    await runlet.deploy("busy", { "index.js": "export default async () => 'ok';" });
    await runlet.deploy("quiet", { "index.js": "export default async () => 'ok';" });
    await eventually(
      async () => {
        await fetch(`${runlet.url}/function/busy`);
        const top = await runCli(["top", "--once"], { cwd, env });
        return /^busy\s+1\s+1\/1\s+0\s+[1-9]/m.test(top.stdout) ? top : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 200, what: "busy's requests in top" },
    );
    const top = await runCli(["top", "--once"], { cwd, env });
    expect(top.stdout).toMatch(/^2 functions · [\d.]+ req\/s · \d+ instances/);
    expect(top.stdout).toMatch(
      /NAME\s+REV\s+READY\s+INFLIGHT\s+REQ\/S\s+5XX\s+P50 MS\s+P99 MS\s+COLD/,
    );
    // Busiest first.
    expect(top.stdout.indexOf("busy")).toBeLessThan(top.stdout.indexOf("quiet"));
    const live = startCli(["top", "--interval", "200ms"], cwd, env, true);
    await eventually(() => live.output.stdout.split("\x1b[H\x1b[2J").length > 2, {
      what: "two redraws",
    });
    live.stop();
    expect(await live.exit).toBe(0);
  });

  it("completes verbs, subcommands and flags in bash, and writes zsh and fish scripts", async () => {
    const cwd = await tempDir();
    const script = join(cwd, "runlet.bash");
    const bash = await runCli(["completion", "bash"], { cwd });
    expect(bash.code).toBe(0);
    await writeFile(script, bash.stdout);
    const complete = (words: string[]) =>
      spawnSync(
        "bash",
        [
          "-c",
          `source ${script}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _runlet; echo "\${COMPREPLY[*]}"`,
        ],
        { encoding: "utf8" },
      ).stdout.trim();
    expect(complete(["runlet", "ro"])).toBe("rollback");
    expect(complete(["runlet", "secret", ""])).toBe("create list remove --help");
    expect(complete(["runlet", "rollback", "hello", "--t"]).split(" ")).toEqual([
      "--to",
      "--token",
    ]);
    expect(complete(["runlet", "scale", "x", "--m"])).toBe("--min --max");
    const zsh = await runCli(["completion", "zsh"], { cwd });
    expect(zsh.stdout).toMatch(/^#compdef runlet\n/);
    expect(zsh.stdout).toContain("complete -o default -F _runlet runlet");
    const fish = await runCli(["completion", "fish"], { cwd });
    expect(fish.stdout).toContain("complete -c runlet -n __fish_use_subcommand -f -a 'dev'");
    expect(fish.stdout).toContain(
      "complete -c runlet -n '__fish_seen_subcommand_from scale' -l min",
    );
    const wrong = await runCli(["completion", "tcsh"], { cwd });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("pick a shell: bash, zsh, fish");
  });

  it("prints the version with --version and -V", async () => {
    const cwd = await tempDir();
    for (const flag of ["--version", "-V"]) {
      expect(await runCli([flag], { cwd })).toMatchObject({ code: 0, stdout: `${VERSION}\n` });
    }
  });

  it("ends the answer with a newline on a terminal, and keeps the bytes as they are when piped", async () => {
    const { runlet, cwd, env } = await setup();
    await runlet.deploy("bare", { "index.js": "export default async () => 'no newline';" });
    const onTerminal = startCli(["invoke", "bare"], cwd, env, true);
    expect(await onTerminal.exit).toBe(0);
    expect(onTerminal.output.stdout).toBe("no newline\n");
    const piped = startCli(["invoke", "bare"], cwd, env, false);
    expect(await piped.exit).toBe(0);
    expect(piped.output.stdout).toBe("no newline");
  });
});
