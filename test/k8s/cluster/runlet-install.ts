/**
 * Runlet installed on a test cluster with a real node, as a user installs it: the CRDs, then
 * the Helm chart's own output applied with kubectl (gateway and operator Deployments of two
 * replicas each, NATS, pools, RBAC, NetworkPolicies), the images imported into the node's
 * containerd. The only addition is what a cluster's storage provisioner would do: a hostPath
 * PersistentVolume for each claim (the packages volume, NATS's JetStream files), in the run dir.
 * The host reaches the gateway Service through the node's forwarder.
 */
import { spawn } from "node:child_process";
import { chown, mkdir } from "node:fs/promises";
import * as path from "node:path";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { buildControlPlane } from "./binaries.js";
import { startTestCluster, type TestCluster } from "./test-cluster.js";
import { natsImage, REPO_ROOT, RUNLET_IMAGES, RUNLET_UID } from "../images/image-specs.js";
import { buildNode } from "../node/binaries.js";
import type { RealNode } from "../node/real-node.js";
import { buildTool } from "../tools/binaries.js";

export const SYSTEM_NAMESPACE = "runlet-system";
export const FUNCTION_NAMESPACE = "openfaas-fn";
const CHART = path.join(REPO_ROOT, "deploy", "helm", "runlet");

export interface RunletInCluster {
  readonly cluster: TestCluster;
  readonly realNode: RealNode;
  readonly kubeConfig: KubeConfig;
  /** The gateway Service as the host reaches it. */
  readonly gatewayUrl: string;
  /** From the Secret the chart made. */
  readonly adminToken: string;
  kubectl(args: readonly string[], input?: string): Promise<string>;
  stop(): Promise<void>;
}

export interface RunletInstallOptions {
  readonly startTimeoutMs: number;
  /** `helm --set` values beside the ones every install here needs. */
  readonly values?: readonly string[];
}

export async function installRunletInCluster(
  options: RunletInstallOptions,
): Promise<RunletInCluster> {
  const [helm, natsServer] = [await buildTool("helm"), await buildTool("nats-server")];
  const [controlPlane, node] = [await buildControlPlane(), await buildNode()];
  const cluster = await startTestCluster({
    binaries: controlPlane,
    realNode: { binaries: node, images: [...RUNLET_IMAGES, natsImage(natsServer)] },
    startTimeoutMs: options.startTimeoutMs,
  });
  try {
    const realNode = cluster.realNode;
    if (!realNode) {
      throw new Error("the cluster has no real node");
    }
    const kubectl = (args: readonly string[], input?: string): Promise<string> =>
      run(cluster.binaries.kubectl, ["--kubeconfig", cluster.kubeconfigPath, ...args], input);
    await applyCrds(kubectl);
    await kubectl([
      "apply",
      "-f",
      path.join(REPO_ROOT, "deploy", "manifests", "00-namespaces.yaml"),
    ]);
    await kubectl(["apply", "-f", "-"], await volumesFor(cluster.dir));
    const rendered = await run(helm, [
      "template",
      "runlet",
      CHART,
      ...[
        // One node: the packages volume is ReadWriteOnce, and every replica runs there.
        "packages.storage=1Gi",
        "nats.storage=1Gi",
        ...(options.values ?? []),
      ].flatMap((value) => ["--set", value]),
    ]);
    await kubectl(["apply", "-f", "-"], rendered);
    const timeout = `--timeout=${Math.round(options.startTimeoutMs / 1000)}s`;
    for (const workload of [
      "statefulset/runlet-nats",
      "deployment/runlet-gateway",
      "deployment/runlet-operator",
    ]) {
      await kubectl(["-n", SYSTEM_NAMESPACE, "rollout", "status", workload, timeout]);
    }
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(cluster.kubeconfigPath);
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const secret = await core.readNamespacedSecret({
      name: "runlet-admin-token",
      namespace: SYSTEM_NAMESPACE,
    });
    const adminToken = Buffer.from(secret.data?.["token"] ?? "", "base64").toString("utf8");
    const service = await core.readNamespacedService({
      name: "runlet-gateway",
      namespace: SYSTEM_NAMESPACE,
    });
    const at = await realNode.expose(service.spec?.clusterIP ?? "", 8080);
    return {
      cluster,
      realNode,
      kubeConfig,
      gatewayUrl: `http://${at.host}:${String(at.port)}`,
      adminToken,
      kubectl,
      stop: () => cluster.stop(),
    };
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}

/**
 * Runlet's CRDs, as an install applies them first (the chart's crds/ directory, or
 * 01-crds.yaml), and the peers' Function kinds, as a cluster running Kubeless or OpenFaaS has
 * them; resolves once all are Established.
 */
export async function applyCrds(
  kubectl: (args: readonly string[]) => Promise<unknown>,
): Promise<void> {
  await kubectl(["apply", "-f", path.join(REPO_ROOT, "deploy", "crds")]);
  await kubectl([
    "apply",
    "-f",
    path.join(REPO_ROOT, "test", "operator", "fixtures", "peer-crds.yaml"),
  ]);
  await kubectl(["wait", "--for=condition=Established", "--timeout=60s", "crd", "--all"]);
}

/** A hostPath PersistentVolume for each of the chart's claims, owned by Runlet's user. */
async function volumesFor(runDir: string): Promise<string> {
  const claims = [
    { pv: "runlet-packages", claim: "runlet-packages" },
    { pv: "runlet-nats-0", claim: "jetstream-runlet-nats-0" },
  ];
  const documents: string[] = [];
  for (const { pv, claim } of claims) {
    const dir = path.join(runDir, "volumes", pv);
    await mkdir(dir, { recursive: true, mode: 0o770 });
    await chown(dir, RUNLET_UID, RUNLET_UID);
    documents.push(
      JSON.stringify({
        apiVersion: "v1",
        kind: "PersistentVolume",
        metadata: { name: pv },
        spec: {
          capacity: { storage: "1Gi" },
          accessModes: ["ReadWriteOnce"],
          persistentVolumeReclaimPolicy: "Retain",
          storageClassName: "",
          claimRef: { namespace: SYSTEM_NAMESPACE, name: claim },
          hostPath: { path: dir, type: "Directory" },
        },
      }),
    );
  }
  return documents.join("\n---\n");
}

function run(command: string, args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: REPO_ROOT, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0
        ? resolve(stdout)
        : reject(
            new Error(
              `${path.basename(command)} ${args.join(" ")} failed (${String(code)}):\n${stderr}`,
            ),
          ),
    );
    child.stdin.end(input ?? "");
  });
}
