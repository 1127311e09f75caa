// The kubelet's configuration for the real test node (issue 15): cgroup v1, its own cgroup subtree, nothing written outside the run dir.
import { CLUSTER_DOMAIN, NODE_ADDRESS, PORTS } from "./layout.js";

export interface KubeletConfigOptions {
  /** e.g. `/runlet-k8s-ab12cd`: the kubelet's subtree in every cgroup hierarchy. */
  readonly cgroupRoot: string;
  readonly containerdSocket: string;
  readonly podLogsDir: string;
  /** The cluster's CA, which signed the apiserver's client certificate. */
  readonly clientCaFile: string;
}

/** A KubeletConfiguration as JSON (which the kubelet reads as the YAML it is). */
export function kubeletConfig(options: KubeletConfigOptions): string {
  const config = {
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    // These machines have cgroup v1, which the kubelet refuses by default since 1.35.
    failCgroupV1: false,
    failSwapOn: false,
    cgroupDriver: "cgroupfs",
    // A subtree of its own, so two clusters can run side by side and teardown finds it all.
    cgroupRoot: options.cgroupRoot,
    containerRuntimeEndpoint: `unix://${options.containerdSocket}`,
    // Every address the kubelet listens on is inside the node's private namespace.
    address: "0.0.0.0",
    port: PORTS.kubelet,
    readOnlyPort: 0,
    healthzBindAddress: "127.0.0.1",
    healthzPort: PORTS.kubeletHealthz,
    // Pods can reach the node address, so only a client certificate of the cluster's CA gets
    // in, and only the apiserver has one; whoever has it may do anything.
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: false },
      x509: { clientCAFile: options.clientCaFile },
    },
    authorization: { mode: "AlwaysAllow" },
    podLogsDir: options.podLogsDir,
    // Pods resolve through CoreDNS only; the host's resolvers are not reachable.
    resolvConf: "",
    clusterDomain: CLUSTER_DOMAIN,
    clusterDNS: [NODE_ADDRESS],
    // Imported images cannot be pulled again: never collect them.
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    // A busy shared machine must not make the test node evict its pods.
    evictionHard: {
      "memory.available": "50Mi",
      "nodefs.available": "1%",
      "nodefs.inodesFree": "1%",
      "imagefs.available": "1%",
    },
    serializeImagePulls: false,
    rotateCertificates: false,
    // Status and probes quickly, so tests do not wait on the kubelet's defaults.
    nodeStatusUpdateFrequency: "4s",
    syncFrequency: "10s",
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}
