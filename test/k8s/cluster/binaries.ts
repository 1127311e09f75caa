// Builds (once, cached outside the repo by build.sh) and locates the test control plane's binaries (issue 7).
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { runBuildScript, type BuildOptions } from "../build-script.js";

export type { BuildOptions } from "../build-script.js";

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

/**
 * Runs build.sh, which does nothing when the binaries for its versions are already cached and
 * otherwise builds them under a lock.
 */
export async function buildControlPlane(options: BuildOptions = {}): Promise<ControlPlaneBinaries> {
  const names = {
    etcd: "etcd",
    kubeApiserver: "kube-apiserver",
    kubeControllerManager: "kube-controller-manager",
    kubeScheduler: "kube-scheduler",
    kubectl: "kubectl",
    kwok: "kwok",
  } as const;
  const dir = await runBuildScript(BUILD_SCRIPT, Object.values(names), options);
  const at = (name: string): string => path.join(dir, name);
  return {
    dir,
    etcd: at(names.etcd),
    kubeApiserver: at(names.kubeApiserver),
    kubeControllerManager: at(names.kubeControllerManager),
    kubeScheduler: at(names.kubeScheduler),
    kubectl: at(names.kubectl),
    kwok: at(names.kwok),
  };
}
