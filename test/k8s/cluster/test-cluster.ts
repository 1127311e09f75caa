// Starts a real Kubernetes control plane for tests, with kwok nodes (issue 7), a real node whose pods run under runc (issue 15), or both.
import { execFile } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { buildImages } from "../images/image-cache.js";
import { pauseImage, type ImageSpec } from "../images/image-specs.js";
import type { NodeBinaries } from "../node/binaries.js";
import { NODE_NAME, SERVICE_CIDR } from "../node/layout.js";
import { startContainerRuntime, type ContainerRuntime } from "../node/container-runtime.js";
import { createNodeNetwork } from "../node/node-network.js";
import { startRealNode, type RealNode } from "../node/real-node.js";
import type { ControlPlaneBinaries } from "./binaries.js";
import { hostLoopbackNetwork, type ClusterNetwork } from "./cluster-network.js";
import { startControlPlane } from "./control-plane.js";
import { startKwokNodes } from "./kwok-nodes.js";
import { createCredentials } from "./pki.js";
import { Supervisor } from "./supervisor.js";

const execFileAsync = promisify(execFile);

export interface RealNodeSetup {
  readonly binaries: NodeBinaries;
  /** Images to import into the node's containerd (the pause image is added). */
  readonly images: readonly ImageSpec[];
}

export interface TestClusterOptions {
  readonly binaries: ControlPlaneBinaries;
  /**
   * A real node: containerd, runc, CNI, the kubelet, kube-proxy and CoreDNS, whose pods really
   * run. With it the whole cluster (control plane included) lives in a private network and
   * mount namespace with no way out, and the host reaches it through loopback forwarders.
   * Needs root.
   */
  readonly realNode?: RealNodeSetup;
  /**
   * How many simulated (kwok) nodes to register, named `kwok-node-<i>`. Beside a real node they
   * are tainted with KWOK_TAINT (kwok-nodes.ts), so only pods that tolerate it go there.
   * @default 1 without a real node, 0 with one
   */
  readonly kwokNodes?: number;
  /**
   * How long each component may take to become ready. Generous: on a busy 2-core machine the
   * apiserver's first start (bootstrap RBAC, priority levels) is slow.
   * @default 180_000
   */
  readonly startTimeoutMs?: number;
  /**
   * Keep the run dir (data, logs, kubeconfig) after stop(), for debugging.
   * @default process.env.RUNLET_K8S_KEEP_DIR === "1"
   */
  readonly keepDir?: boolean;
}

export interface TestCluster {
  /** A kubeconfig (token auth, CA pinned) for kubectl and `@kubernetes/client-node` on the host. */
  readonly kubeconfigPath: string;
  /** `https://127.0.0.1:<port>` on the host. */
  readonly server: string;
  /** Bearer token of a `system:masters` user. */
  readonly token: string;
  /** PEM of the CA that signed the apiserver's serving certificate. */
  readonly caPem: string;
  /** Run dir holding data, logs (`logs/<component>.log`) and the kubeconfig. */
  readonly dir: string;
  /** Where pods go unless they ask otherwise: the real node, else the first kwok node. */
  readonly nodeName: string;
  readonly kwokNodeNames: readonly string[];
  /** The real node, when the cluster has one. */
  readonly realNode: RealNode | undefined;
  readonly binaries: ControlPlaneBinaries;
  /** Milliseconds from the start of startTestCluster() to each step, for the record. */
  readonly startTimes: Readonly<Record<string, number>>;
  /** Runs kubectl against this cluster and returns its stdout. */
  kubectl(args: readonly string[]): Promise<string>;
  /**
   * Ends every component, the namespaces and cgroups, and removes the run dir (teardown.sh).
   * Rejects, after cleaning up, when a component had crashed while the cluster was in use.
   */
  stop(): Promise<void>;
}

interface Resolved {
  readonly binaries: ControlPlaneBinaries;
  readonly realNode: RealNodeSetup | undefined;
  readonly kwokNodes: number;
  readonly startTimeoutMs: number;
  readonly keepDir: boolean;
}

function resolveOptions(options: TestClusterOptions): Resolved {
  return {
    binaries: options.binaries,
    realNode: options.realNode,
    kwokNodes: options.kwokNodes ?? (options.realNode === undefined ? 1 : 0),
    startTimeoutMs: options.startTimeoutMs ?? 180_000,
    keepDir: options.keepDir ?? process.env["RUNLET_K8S_KEEP_DIR"] === "1",
  };
}

/**
 * Starts etcd, kube-apiserver, kube-controller-manager and kube-scheduler, then the nodes, and
 * returns once every node is Ready and the `default` ServiceAccount exists (so pods can be
 * created). On any failure everything started so far is torn down and the error quotes the
 * failing component's log.
 */
export async function startTestCluster(options: TestClusterOptions): Promise<TestCluster> {
  const opts = resolveOptions(options);
  if (opts.realNode === undefined && opts.kwokNodes === 0) {
    throw new Error("a test cluster needs a real node or at least one kwok node");
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), "runlet-k8s-"));
  const supervisor = new Supervisor(dir, opts.keepDir);
  try {
    return await boot(opts, supervisor);
  } catch (error) {
    const detail = await supervisor.describeFailure();
    await supervisor.stopAll().catch(() => undefined);
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(
      `test cluster did not start: ${message}${detail}` +
        (opts.keepDir
          ? `\n(files kept in ${dir})`
          : "\n(set RUNLET_K8S_KEEP_DIR=1 to keep the logs and data dir)"),
      { cause: error },
    );
  }
}

async function boot(opts: Resolved, supervisor: Supervisor): Promise<TestCluster> {
  const t0 = performance.now();
  const startTimes: Record<string, number> = {};
  const mark = (step: string): void => {
    startTimes[step] = Math.round(performance.now() - t0);
  };
  const dir = supervisor.dir;
  const timeout = opts.startTimeoutMs;
  const realNodeSetup = opts.realNode;
  let network: ClusterNetwork;
  let nodeNetwork: Awaited<ReturnType<typeof createNodeNetwork>> | undefined;
  let runtime: Promise<ContainerRuntime> | undefined;
  if (realNodeSetup === undefined) {
    network = await hostLoopbackNetwork();
  } else {
    // The images are written (or found in the cache) and imported into containerd while the
    // control plane starts: neither needs the other.
    const pause = pauseImage(realNodeSetup.binaries.pause);
    const images = buildImages([pause, ...realNodeSetup.images]);
    images.catch(() => undefined); // awaited through runtime.imported
    nodeNetwork = await createNodeNetwork(supervisor, timeout);
    mark("namespace");
    network = nodeNetwork.network;
    runtime = startContainerRuntime({
      supervisor,
      namespace: nodeNetwork.namespace,
      binaries: realNodeSetup.binaries,
      sandboxImage: pause.reference,
      images,
      startTimeoutMs: timeout,
    });
    // Awaited below; failures are reported there, not as unhandled rejections here.
    runtime.then(
      (started) => {
        mark("containerd");
        started.imported.then(
          () => mark("images imported"),
          () => undefined,
        );
      },
      () => undefined,
    );
  }
  const realNodeName = realNodeSetup === undefined ? undefined : NODE_NAME;
  const credentials = await createCredentials({
    dir: path.join(dir, "pki"),
    apiserverNames: network.apiserverNames,
    ...(realNodeName === undefined ? {} : { nodeName: realNodeName }),
  });
  const controlPlane = await startControlPlane({
    supervisor,
    network,
    binaries: opts.binaries,
    credentials,
    serviceCidr: SERVICE_CIDR,
    startTimeoutMs: timeout,
  });
  mark("control plane");
  const api = controlPlane.api;

  // containerd came up long ago, while the control plane started; its images may still be
  // on their way in.
  const containerRuntime = runtime === undefined ? undefined : await runtime;
  const kwokNodeNames = Array.from({ length: opts.kwokNodes }, (_, i) => `kwok-node-${String(i)}`);
  const starting: Promise<unknown>[] = [];
  if (kwokNodeNames.length > 0) {
    starting.push(
      startKwokNodes({
        supervisor,
        network,
        binaries: opts.binaries,
        api,
        componentKubeconfig: controlPlane.componentKubeconfig,
        names: kwokNodeNames,
        taint: realNodeSetup !== undefined,
        startTimeoutMs: timeout,
      }),
    );
  }
  let realNode: Promise<RealNode> | undefined;
  if (realNodeSetup !== undefined && nodeNetwork !== undefined && containerRuntime !== undefined) {
    realNode = startRealNode({
      supervisor,
      namespace: nodeNetwork.namespace,
      forwarders: nodeNetwork.forwarders,
      toHost: nodeNetwork.toHost,
      binaries: realNodeSetup.binaries,
      credentials,
      api,
      componentKubeconfig: controlPlane.componentKubeconfig,
      innerServer: controlPlane.innerServer,
      runtime: containerRuntime,
      startTimeoutMs: timeout,
    });
    starting.push(realNode);
  }
  await Promise.all(starting);
  mark("nodes Ready");

  // The ServiceAccount admission plugin rejects pods until the controller manager has made
  // the namespace's `default` ServiceAccount.
  const kcm = supervisor.components.find((c) => c.name === "kube-controller-manager");
  if (kcm === undefined) {
    throw new Error("kube-controller-manager was not started");
  }
  await supervisor.waitFor(kcm, "ServiceAccount default/default", timeout, async () =>
    (await api.get("/api/v1/namespaces/default/serviceaccounts/default")).status === 200
      ? true
      : undefined,
  );

  mark("ready");
  const env = { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: dir };
  const node = realNode === undefined ? undefined : await realNode;
  const firstKwok = kwokNodeNames[0];
  return {
    kubeconfigPath: controlPlane.hostKubeconfig,
    server: controlPlane.hostServer,
    token: credentials.adminToken,
    caPem: credentials.caPem,
    dir,
    nodeName: node?.name ?? firstKwok ?? "",
    kwokNodeNames,
    realNode: node,
    binaries: opts.binaries,
    startTimes,
    kubectl: async (args) =>
      (
        await execFileAsync(
          opts.binaries.kubectl,
          [`--kubeconfig=${controlPlane.hostKubeconfig}`, ...args],
          { env, maxBuffer: 16 * 1024 * 1024, timeout: 120_000 },
        )
      ).stdout,
    stop: async () => {
      const crashes = await supervisor.stopAll();
      if (crashes !== "") {
        throw new Error(`test cluster component(s) crashed while in use:${crashes}`);
      }
    },
  };
}
