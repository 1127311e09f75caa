// The real test node's safety rails (issue 15): its setup refuses the host's namespaces, and a killed test process leaves nothing behind.
import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, readlink, rm } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { pollUntil } from "./cluster/wait.js";

const execFileAsync = promisify(execFile);
const SETUP = fileURLToPath(new URL("./node/namespace-setup.sh", import.meta.url));
const FIXTURE = fileURLToPath(new URL("./fixtures/real-cluster-process.ts", import.meta.url));
// Builds may still be running on a cold machine when this file starts.
const BUILD_AND_START_TIMEOUT_MS = 75 * 60_000;

interface Traces {
  readonly dir: string;
  readonly net: string;
  readonly cgroupRoot: string;
}

/** What of a cluster is still there: processes, mounts, cgroups, the run dir. */
async function leftovers(traces: Traces): Promise<string[]> {
  const found: string[] = [];
  for (const pid of (await readdir("/proc")).filter((p) => /^\d+$/.test(p))) {
    const [net, cmdline, status] = await Promise.all([
      readlink(`/proc/${pid}/ns/net`).catch(() => ""),
      readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => ""),
      readFile(`/proc/${pid}/status`, "utf8").catch(() => ""),
    ]);
    if (/^State:\s+Z/m.test(status)) {
      continue; // exited, waiting for its parent to reap it
    }
    if (net === traces.net || cmdline.includes(traces.dir)) {
      found.push(`process ${pid}: ${cmdline.replaceAll("\0", " ").trim()}`);
    }
  }
  if ((await readFile("/proc/self/mountinfo", "utf8")).includes(traces.dir)) {
    found.push(`a mount under ${traces.dir}`);
  }
  for (const hierarchy of await readdir("/sys/fs/cgroup")) {
    if (existsSync(`/sys/fs/cgroup/${hierarchy}${traces.cgroupRoot}`)) {
      found.push(`cgroup ${hierarchy}${traces.cgroupRoot}`);
    }
  }
  if (existsSync(traces.dir)) {
    found.push(`run dir ${traces.dir}`);
  }
  return found;
}

describe("the real test node's safety rails", () => {
  it("namespace-setup.sh refuses to run in the namespaces it was started from, or in any it was not given", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "runlet-setup-guard-"));
    try {
      // Run inside a throwaway namespace pair standing in for "the host": if the guard were
      // broken, what the script then did would go with that namespace, not touch the machine.
      const asIfHost = `n=$(readlink /proc/self/ns/net); m=$(readlink /proc/self/ns/mnt); exec bash "$1" "$2" 10.87.0.1/24 10.96.0.0/24 "$n" "$m" "$n" "$m"`;
      const notOurs = `exec bash "$1" "$2" 10.87.0.1/24 10.96.0.0/24 "net:[1]" "mnt:[1]" "$3" "$4"`;
      const [hostNet, hostMnt] = [
        await readlink("/proc/self/ns/net"),
        await readlink("/proc/self/ns/mnt"),
      ];
      for (const script of [asIfHost, notOurs]) {
        const run = execFileAsync("unshare", [
          "--net",
          "--mount",
          "--propagation",
          "private",
          "--",
          "bash",
          "-c",
          `${script}`,
          "guard",
          SETUP,
          dir,
          hostNet,
          hostMnt,
        ]);
        const failure = await run.then(
          () => undefined,
          (error: unknown) => error,
        );
        expect(failure, "namespace-setup.sh should have refused").toBeDefined();
        expect(failure).toMatchObject({ code: 3, stderr: expect.stringContaining("refusing") });
      }
      // It wrote nothing: the guard comes before any change.
      expect(await readdir(dir)).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it(
    "tears the whole cluster down through its watchdog when the process that started it is SIGKILLed",
    async () => {
      const child = spawn(process.execPath, ["--import", "tsx", FIXTURE], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stderr = "";
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
        stderr = (stderr + chunk).slice(-20_000);
      });
      const traces = await new Promise<Traces>((resolve, reject) => {
        let stdout = "";
        child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
          stdout += chunk;
          const line = stdout.split("\n").find((l) => l.startsWith("{"));
          if (line !== undefined) {
            resolve(JSON.parse(line) as Traces);
          }
        });
        child.on("exit", (code, signal) =>
          reject(
            new Error(
              `the cluster process ended (${String(signal ?? code)}) before it was up:\n${stderr}`,
            ),
          ),
        );
      });
      expect(await leftovers(traces)).not.toEqual([]);
      child.kill("SIGKILL");
      const t0 = performance.now();
      let last: string[] = [];
      await pollUntil(
        "the watchdog to remove every trace of the cluster",
        async () => {
          last = await leftovers(traces);
          return last.length === 0 ? true : undefined;
        },
        { timeoutMs: 90_000, describe: () => last.join("; ") },
      );
      console.log(
        `after SIGKILL, the watchdog left nothing behind within ${((performance.now() - t0) / 1000).toFixed(1)} s`,
      );
    },
    BUILD_AND_START_TIMEOUT_MS,
  );
});
