// Addresses and ports inside the real node's private network namespace (issue 15). They exist only there.

/** The node's name, and its InternalIP on the port-less bridge `node0`. */
export const NODE_NAME = "node0";
export const NODE_ADDRESS = "10.87.0.1";
export const NODE_NETWORK = "10.87.0.0/24";
/** The node address with its prefix, as `ip addr add` takes it. */
export const NODE_INTERFACE_ADDRESS = `${NODE_ADDRESS}/24`;
/** Pod addresses, on the CNI bridge `cni0` (host-local IPAM). */
export const POD_CIDR = "10.88.0.0/16";
/** ClusterIPs; kube-proxy's iptables rules in the namespace give them meaning. */
export const SERVICE_CIDR = "10.96.0.0/24";
/** The first Service IP: the `kubernetes` Service, which pods use to reach the apiserver. */
export const KUBERNETES_SERVICE_ADDRESS = "10.96.0.1";
export const CLUSTER_DOMAIN = "cluster.local";

/**
 * Fixed ports: the namespace is the cluster's own, so nothing else can hold them, and two
 * clusters can run side by side.
 */
export const PORTS = {
  etcdClient: 2379,
  etcdPeer: 2380,
  apiserver: 6443,
  kubelet: 10250,
  kubeletHealthz: 10248,
  kubeProxyHealthz: 10256,
  kubeProxyMetrics: 10249,
  controllerManager: 10257,
  scheduler: 10259,
  dns: 53,
  corednsReady: 8181,
  /** On the node address: the relay's way to a Unix socket the host listens on. */
  toHost: 18080,
} as const;

/** Where relayed connections may go: only addresses that exist inside the namespace. */
export const REACHABLE_RANGES = ["127.0.0.0/8", NODE_NETWORK, POD_CIDR, SERVICE_CIDR] as const;
