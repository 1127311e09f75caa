// Builds (once, cached outside the repo by build.sh) and locates the test control plane's binaries (issue 7).
import { spawn } from "node:child_process";
import { access, constants } from "node:fs/promises";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const BUILD_SCRIPT = fileURLToPath(new URL("./build.sh", import.meta.url));

/** Absolute paths of the control-plane binaries built by build.sh. */
export interface ControlPlaneBinaries {
  readonly dir: string;
  readonly etcd: string;
  readonly kubeApiserver: string;
  readonly kubeControllerManager: string;
  readonly kubeScheduler: string;
  readonly kubectl: string;
  readonly kwok: string;
}

export interface BuildOptions {
  /**
   * Where build.sh's progress lines go; they matter on a cold build, which takes many minutes.
   * @default process.stderr
   */
  readonly progress?: NodeJS.WritableStream;
}

/**
 * Runs build.sh, which does nothing when the binaries for its versions are already cached and
 * otherwise builds them under a lock. Rejects with the script's last lines (naming the failed
 * step) when the build fails.
 */
export async function buildControlPlane(options: BuildOptions = {}): Promise<ControlPlaneBinaries> {
  const progress = options.progress ?? process.stderr;
  const { code, signal, stdout, stderrTail } = await runScript(progress);
  if (code !== 0) {
    throw new Error(
      `test/k8s/cluster/build.sh failed (${signal ?? `exit ${String(code)}`}); its last output:\n` +
        stderrTail.join("\n"),
    );
  }
  const dir = stdout.trim().split("\n").pop()?.trim() ?? "";
  if (!path.isAbsolute(dir)) {
    throw new Error(
      `test/k8s/cluster/build.sh printed no bin dir (stdout: ${JSON.stringify(stdout)})`,
    );
  }
  const binaries: ControlPlaneBinaries = {
    dir,
    etcd: path.join(dir, "etcd"),
    kubeApiserver: path.join(dir, "kube-apiserver"),
    kubeControllerManager: path.join(dir, "kube-controller-manager"),
    kubeScheduler: path.join(dir, "kube-scheduler"),
    kubectl: path.join(dir, "kubectl"),
    kwok: path.join(dir, "kwok"),
  };
  for (const [name, file] of Object.entries(binaries)) {
    if (name !== "dir") {
      await access(file, constants.X_OK);
    }
  }
  return binaries;
}

interface ScriptResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderrTail: readonly string[];
}

function runScript(progress: NodeJS.WritableStream): Promise<ScriptResult> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [BUILD_SCRIPT], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    const tail: string[] = [];
    let partial = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      progress.write(chunk);
      const lines = (partial + chunk).split("\n");
      partial = lines.pop() ?? "";
      tail.push(...lines);
      tail.splice(0, Math.max(0, tail.length - 60));
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (partial !== "") {
        tail.push(partial);
      }
      resolve({ code, signal, stdout, stderrTail: tail });
    });
  });
}
