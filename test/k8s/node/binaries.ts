// Builds (once, cached outside the repo by build.sh) and locates what the real test node runs (issue 15).
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { runBuildScript, type BuildOptions } from "../build-script.js";

const BUILD_SCRIPT = fileURLToPath(new URL("./build.sh", import.meta.url));

/** Absolute paths of the node's binaries built by build.sh. */
export interface NodeBinaries {
  readonly dir: string;
  readonly runc: string;
  readonly containerd: string;
  readonly ctr: string;
  readonly crictl: string;
  readonly kubelet: string;
  readonly kubeProxy: string;
  readonly coredns: string;
  /** The static sandbox process, built from pause.c. */
  readonly pause: string;
  /** Holds bridge, host-local, loopback and portmap. */
  readonly cniDir: string;
}

/**
 * Runs build.sh, which does nothing when the binaries for its versions are already cached and
 * otherwise builds them (many minutes cold) under a lock.
 */
export async function buildNode(options: BuildOptions = {}): Promise<NodeBinaries> {
  const dir = await runBuildScript(
    BUILD_SCRIPT,
    [
      "runc",
      "containerd",
      "containerd-shim-runc-v2",
      "ctr",
      "crictl",
      "kubelet",
      "kube-proxy",
      "coredns",
      "pause",
      "cni/bridge",
      "cni/host-local",
      "cni/loopback",
      "cni/portmap",
    ],
    options,
  );
  const at = (name: string): string => path.join(dir, name);
  return {
    dir,
    runc: at("runc"),
    containerd: at("containerd"),
    ctr: at("ctr"),
    crictl: at("crictl"),
    kubelet: at("kubelet"),
    kubeProxy: at("kube-proxy"),
    coredns: at("coredns"),
    pause: at("pause"),
    cniDir: at("cni"),
  };
}
