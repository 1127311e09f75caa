// CoreDNS's Corefile for the real test node (issue 15): cluster names only, served on the node address.
import { CLUSTER_DOMAIN, NODE_ADDRESS, PORTS } from "./layout.js";

/**
 * Answers for Services and pods of the cluster and nothing else: there is no upstream
 * resolver to forward to. It runs as a process in the node's namespace (not a pod), on the
 * node address, which is the kubelet's `clusterDNS`.
 */
export function corefile(kubeconfigPath: string): string {
  return `.:${String(PORTS.dns)} {
    bind ${NODE_ADDRESS}
    errors
    ready 127.0.0.1:${String(PORTS.corednsReady)}
    kubernetes ${CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {
        kubeconfig ${kubeconfigPath}
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    cache 5
}
`;
}

/** /etc/resolv.conf of processes in the node's namespace, once CoreDNS runs. */
export function namespaceResolvConf(): string {
  return (
    `nameserver ${NODE_ADDRESS}\n` +
    `search default.svc.${CLUSTER_DOMAIN} svc.${CLUSTER_DOMAIN} ${CLUSTER_DOMAIN}\n` +
    "options ndots:5 timeout:1 attempts:2\n"
  );
}
