// The ClusterNetwork of a cluster with a real node (issue 15): everything inside the node's private namespace, the host in through loopback forwarders.
import { mkdir } from "node:fs/promises";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import type { ClusterNetwork } from "../cluster/cluster-network.js";
import type { Supervisor } from "../cluster/supervisor.js";
import { KUBERNETES_SERVICE_ADDRESS, NODE_ADDRESS, PORTS, REACHABLE_RANGES } from "./layout.js";
import { LoopbackForwarders } from "./loopback-forwarder.js";
import { NodeNamespace } from "./namespace.js";

const RELAY_SCRIPT = fileURLToPath(new URL("./namespace-relay.mjs", import.meta.url));

export interface NodeNetwork {
  readonly network: ClusterNetwork;
  readonly namespace: NodeNamespace;
  readonly forwarders: LoopbackForwarders;
  /** Pods connect to `address:port`; the relay carries each connection to `socketPath`. */
  readonly toHost: PodsToHost;
}

/**
 * The one way from inside the namespace to the host: connections to the node address's
 * `port` go to the Unix socket `socketPath` in the run dir (root-only), where a process on
 * the host may listen. Nothing listens there unless a test does.
 */
export interface PodsToHost {
  readonly address: string;
  readonly port: number;
  readonly socketPath: string;
}

/**
 * Makes the namespace, starts the relay inside it, and returns a network whose components
 * are launched inside and reached from the host through forwarders.
 */
export async function createNodeNetwork(
  supervisor: Supervisor,
  startTimeoutMs: number,
): Promise<NodeNetwork> {
  const namespace = await NodeNamespace.create(supervisor, startTimeoutMs);
  // Only root may connect to the relay: it opens a way into the namespace.
  const relayDir = path.join(supervisor.dir, "relay");
  await mkdir(relayDir, { mode: 0o700 });
  const relaySocket = path.join(relayDir, "relay.sock");
  const toHost: PodsToHost = {
    address: NODE_ADDRESS,
    port: PORTS.toHost,
    socketPath: path.join(relayDir, "to-host.sock"),
  };
  const relay = await supervisor.start(
    {
      name: "namespace-relay",
      command: process.execPath,
      args: [
        RELAY_SCRIPT,
        relaySocket,
        "--to-host",
        `${toHost.address}:${toHost.port}`,
        toHost.socketPath,
        ...REACHABLE_RANGES,
      ],
      env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin" },
    },
    namespace.launcher,
  );
  await supervisor.waitFor(relay, "the namespace relay", startTimeoutMs, async () => {
    const log = await relay.logTail(5);
    return log.includes("listening on") ? true : undefined;
  });
  const forwarders = new LoopbackForwarders(relaySocket);
  supervisor.beforeStop(() => forwarders.close());
  const network: ClusterNetwork = {
    kind: "node-namespace",
    ports: {
      etcdClient: PORTS.etcdClient,
      etcdPeer: PORTS.etcdPeer,
      apiserver: PORTS.apiserver,
      controllerManager: PORTS.controllerManager,
      scheduler: PORTS.scheduler,
    },
    // Pods reach the apiserver through the `kubernetes` Service, whose endpoint is the node
    // address; 127.0.0.1 in the namespace serves the components and the host's forwarder.
    apiserverBindAddress: "0.0.0.0",
    apiserverAdvertiseAddress: NODE_ADDRESS,
    apiserverNames: [
      NODE_ADDRESS,
      KUBERNETES_SERVICE_ADDRESS,
      "kubernetes",
      "kubernetes.default",
      "kubernetes.default.svc",
      "kubernetes.default.svc.cluster.local",
    ],
    launch: namespace.launcher,
    reach: (host, port) => forwarders.expose(host, port),
  };
  return { network, namespace, forwarders, toHost };
}
