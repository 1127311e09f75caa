// Where a test cluster's processes listen and how the host reaches them: the host's loopback, or the real node's private namespace.
import { freePorts } from "./free-ports.js";
import { launchDirectly, type Launcher } from "./supervisor.js";

export interface ControlPlanePorts {
  readonly etcdClient: number;
  readonly etcdPeer: number;
  readonly apiserver: number;
  readonly controllerManager: number;
  readonly scheduler: number;
}

export interface HostAddress {
  readonly host: string;
  readonly port: number;
}

export interface ClusterNetwork {
  readonly kind: "host-loopback" | "node-namespace";
  /** Ports of the control plane, on 127.0.0.1 of the network the components run in. */
  readonly ports: ControlPlanePorts;
  /** What the apiserver binds to and advertises (its `kubernetes` Service endpoint). */
  readonly apiserverBindAddress: string;
  readonly apiserverAdvertiseAddress: string;
  /**
   * Extra names for the apiserver's serving certificate (besides 127.0.0.1 and localhost),
   * e.g. the node address and the `kubernetes` Service IP.
   */
  readonly apiserverNames: readonly string[];
  readonly launch: Launcher;
  /** An address on the host's loopback for `host:port` in the network. */
  reach(host: string, port: number): Promise<HostAddress>;
}

/**
 * The kwok-only cluster of issue 7: every component on the host's 127.0.0.1, on ports free
 * at start. Needs no privileges, and nothing but loopback is ever dialled.
 */
export async function hostLoopbackNetwork(): Promise<ClusterNetwork> {
  const ports = await freePorts([
    "etcdClient",
    "etcdPeer",
    "apiserver",
    "controllerManager",
    "scheduler",
  ] as const);
  return {
    kind: "host-loopback",
    ports,
    apiserverBindAddress: "127.0.0.1",
    apiserverAdvertiseAddress: "127.0.0.1",
    apiserverNames: [],
    launch: launchDirectly,
    reach: (host, port) => Promise.resolve({ host, port }),
  };
}
