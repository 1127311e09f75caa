// containerd's config for the real test node (issue 15): all state under the run dir, runc and CNI from the node's build.
import * as path from "node:path";
import type { NodeBinaries } from "./binaries.js";

export interface ContainerdConfigOptions {
  /** containerd's root, state, sockets and CNI config all go below this. */
  readonly dir: string;
  readonly binaries: NodeBinaries;
  /** Image reference of the pod sandbox (pause) image; it is imported, never pulled. */
  readonly sandboxImage: string;
}

/** The socket the kubelet, ctr and crictl use. */
export function containerdSocket(dir: string): string {
  return path.join(dir, "containerd.sock");
}

/** The directory containerd reads the pod network's CNI config from. */
export function cniConfigDir(dir: string): string {
  return path.join(dir, "cni", "net.d");
}

/** containerd 2.x config, version 4. */
export function containerdConfig(options: ContainerdConfigOptions): string {
  const { dir, binaries } = options;
  const q = (value: string): string => JSON.stringify(value);
  return `version = 4
root = ${q(path.join(dir, "root"))}
state = ${q(path.join(dir, "state"))}
# Pods are the kubelet's; containerd itself keeps the machine's default OOM score.
oom_score = 0

[plugins]
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = 'overlayfs'
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      # Built from test/k8s/node/pause.c and imported: there is no registry to pull from.
      sandbox = ${q(options.sandboxImage)}

  [plugins.'io.containerd.cri.v1.runtime']
    # No process on these machines may lower its oom_score_adj (the capability bounding set
    # lacks CAP_SYS_RESOURCE), and the kubelet asks -998 for sandboxes: keep containerd's own.
    restrict_oom_score_adj = true
    netns_mounts_under_state_dir = true
    enable_unprivileged_ports = true
    enable_unprivileged_icmp = true
    cdi_spec_dirs = []
    [plugins.'io.containerd.cri.v1.runtime'.containerd]
      default_runtime_name = 'runc'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
        runtime_type = 'io.containerd.runc.v2'
        sandboxer = 'podsandbox'
        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
          BinaryName = ${q(binaries.runc)}
          SystemdCgroup = false
    [plugins.'io.containerd.cri.v1.runtime'.cni]
      bin_dirs = [${q(binaries.cniDir)}]
      conf_dir = ${q(cniConfigDir(dir))}
      max_conf_num = 1

  [plugins.'io.containerd.grpc.v1.cri']
    disable_tcp_service = true
    # exec, attach and port-forward streams; loopback inside the node's namespace.
    stream_server_address = '127.0.0.1'
    stream_server_port = '0'

  [plugins.'io.containerd.internal.v1.opt']
    path = ${q(path.join(dir, "opt"))}

  [plugins.'io.containerd.image-verifier.v1.bindir']
    bin_dir = ${q(path.join(dir, "image-verifiers"))}

  [plugins.'io.containerd.server.v1.grpc']
    address = ${q(containerdSocket(dir))}

  [plugins.'io.containerd.server.v1.ttrpc']
    address = ${q(`${containerdSocket(dir)}.ttrpc`)}

  [plugins.'io.containerd.server.v1.debug']
    address = ''

  [plugins.'io.containerd.server.v1.metrics']
    address = ''
`;
}
