// Simulated nodes for a test cluster (issue 7): kwok makes registered nodes Ready and their pods Running without running anything.
import { fileURLToPath } from "node:url";
import type { ControlPlaneBinaries } from "./binaries.js";
import type { ClusterNetwork } from "./cluster-network.js";
import type { ApiClient } from "./http-probe.js";
import type { Supervisor } from "./supervisor.js";

const KWOK_STAGES = fileURLToPath(new URL("./kwok-stages.yaml", import.meta.url));

/** Pods that tolerate this run on kwok nodes that share a cluster with the real node. */
export const KWOK_TAINT = { key: "kwok.x-k8s.io/node", value: "fake", effect: "NoSchedule" };

export interface KwokNodesOptions {
  readonly supervisor: Supervisor;
  readonly network: ClusterNetwork;
  readonly binaries: ControlPlaneBinaries;
  readonly api: ApiClient;
  readonly componentKubeconfig: string;
  readonly names: readonly string[];
  /**
   * Taint the nodes with KWOK_TAINT, so that only pods that ask for simulated nodes land on
   * them; used when a real node is in the cluster too.
   */
  readonly taint: boolean;
  readonly startTimeoutMs: number;
}

/** Starts kwok, registers the nodes and returns once all are Ready. */
export async function startKwokNodes(options: KwokNodesOptions): Promise<void> {
  const { supervisor, api } = options;
  const kwok = await supervisor.start(
    {
      name: "kwok",
      command: options.binaries.kwok,
      args: [
        `--kubeconfig=${options.componentKubeconfig}`,
        `--config=${KWOK_STAGES}`,
        // Only the nodes registered here: never the real node, whose kubelet owns it.
        "--manage-all-nodes=false",
        "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
        // Simulated addresses written into node and pod status; nothing connects to them.
        "--node-ip=10.0.0.1",
        "--cidr=10.244.0.0/16",
        "--node-lease-duration-seconds=40",
      ],
      env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: supervisor.dir },
    },
    options.network.launch,
  );
  for (const name of options.names) {
    const created = await api.post("/api/v1/nodes", {
      apiVersion: "v1",
      kind: "Node",
      metadata: {
        name,
        labels: {
          type: "kwok",
          "kubernetes.io/hostname": name,
          "kubernetes.io/os": "linux",
          "kubernetes.io/arch": "amd64",
        },
        annotations: { "kwok.x-k8s.io/node": "fake" },
      },
      spec: options.taint ? { taints: [KWOK_TAINT] } : {},
    });
    if (created.status !== 201) {
      throw new Error(`registering node ${name}: HTTP ${String(created.status)} ${created.body}`);
    }
  }
  for (const name of options.names) {
    await supervisor.waitFor(kwok, `kwok: node ${name} Ready`, options.startTimeoutMs, async () =>
      (await api.nodeIsReady(name)) ? true : undefined,
    );
  }
}
