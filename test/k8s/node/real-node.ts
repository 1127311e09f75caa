// Starts the real node's agents inside its private namespace (issue 15): CoreDNS, the kubelet and kube-proxy, beside containerd.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { promisify } from "node:util";
import type { HostAddress } from "../cluster/cluster-network.js";
import { httpCall, type ApiClient } from "../cluster/http-probe.js";
import { kubeconfig, type ClusterCredentials } from "../cluster/pki.js";
import type { Supervisor } from "../cluster/supervisor.js";
import type { ImageBuild } from "../images/image-cache.js";
import type { NodeBinaries } from "./binaries.js";
import { createCgroupRoot } from "./cgroup-root.js";
import type { ContainerRuntime } from "./container-runtime.js";
import { corefile, namespaceResolvConf } from "./coredns-config.js";
import { kubeletConfig } from "./kubelet-config.js";
import { NODE_ADDRESS, NODE_NAME, POD_CIDR, PORTS, SERVICE_CIDR } from "./layout.js";
import type { LoopbackForwarders } from "./loopback-forwarder.js";
import type { PodsToHost } from "./node-network.js";
import type { NamespaceIds, NodeNamespace } from "./namespace.js";

const execFileAsync = promisify(execFile);

export interface RealNodeOptions {
  readonly supervisor: Supervisor;
  readonly namespace: NodeNamespace;
  readonly forwarders: LoopbackForwarders;
  readonly toHost: PodsToHost;
  readonly binaries: NodeBinaries;
  readonly credentials: ClusterCredentials;
  readonly api: ApiClient;
  /** Admin kubeconfig that reaches the apiserver from inside the namespace. */
  readonly componentKubeconfig: string;
  /** The apiserver as seen from inside the namespace. */
  readonly innerServer: string;
  /** containerd, already started (startContainerRuntime). */
  readonly runtime: ContainerRuntime;
  readonly startTimeoutMs: number;
}

/** The real node, as tests see it. */
export interface RealNode {
  readonly name: string;
  /** The node's InternalIP, inside the namespace only. */
  readonly address: string;
  readonly podCidr: string;
  readonly serviceCidr: string;
  /** Images imported into containerd, by name (`runtime-node`, `platform`, `pause`, ...). */
  readonly images: ReadonlyMap<string, ImageBuild>;
  readonly namespaceIds: NamespaceIds;
  /** The kubelet's cgroup subtree, e.g. `/runlet-k8s-ab12cd34`. */
  readonly cgroupRoot: string;
  /**
   * The way back from pods to the host: a pod connecting to `address:port` (the node address)
   * reaches whatever listens on the Unix socket `socketPath` on the host (a test's server).
   */
  readonly toHost: PodsToHost;
  /** Makes `host:port` inside the namespace (a pod IP, a ClusterIP, ...) reachable on the host. */
  expose(host: string, port: number): Promise<HostAddress>;
  /** Runs a command inside the node's network and mount namespaces. */
  run(command: string, args: readonly string[]): Promise<{ stdout: string; stderr: string }>;
  /** crictl against the node's containerd. */
  crictl(args: readonly string[]): Promise<string>;
}

/**
 * Starts CoreDNS, the kubelet and kube-proxy, and returns once the node is Ready, CoreDNS
 * answers, kube-proxy has synced its rules and every image is imported.
 */
export async function startRealNode(options: RealNodeOptions): Promise<RealNode> {
  const { supervisor, namespace, forwarders, binaries: bin, api } = options;
  const dir = supervisor.dir;
  const timeout = options.startTimeoutMs;
  const launch = namespace.launcher;
  const runtime = options.runtime;
  const socket = runtime.socket;
  const env = { PATH: runtime.path, HOME: dir };
  const healthy = async (port: number, urlPath: string): Promise<true | undefined> => {
    const at = await forwarders.expose("127.0.0.1", port);
    const res = await httpCall(`http://${at.host}:${String(at.port)}${urlPath}`, {
      timeoutMs: 3_000,
    });
    return res.status === 200 ? true : undefined;
  };

  const cgroupRoot = `/runlet-k8s-${randomBytes(4).toString("hex")}`;
  await createCgroupRoot(dir, cgroupRoot);

  // --- CoreDNS: a process on the node address (there is no image registry for its image) ---
  const corefilePath = path.join(dir, "Corefile");
  await writeFile(corefilePath, corefile(options.componentKubeconfig));
  const coredns = await supervisor.start(
    { name: "coredns", command: bin.coredns, args: ["-conf", corefilePath], env },
    launch,
  );

  // --- kubelet ------------------------------------------------------------------------------
  if (options.credentials.nodeToken === undefined) {
    throw new Error("the credentials have no node token");
  }
  const kubeletKubeconfig = path.join(dir, "kubelet.kubeconfig");
  await writeFile(
    kubeletKubeconfig,
    kubeconfig(
      options.innerServer,
      `system:node:${NODE_NAME}`,
      options.credentials.nodeToken,
      options.credentials.caPem,
    ),
    { mode: 0o600 },
  );
  const kubeletDir = path.join(dir, "kubelet");
  const podLogsDir = path.join(dir, "pod-logs");
  await mkdir(kubeletDir, { recursive: true });
  await mkdir(podLogsDir, { recursive: true });
  const kubeletConfigFile = path.join(dir, "kubelet-config.json");
  await writeFile(
    kubeletConfigFile,
    kubeletConfig({
      cgroupRoot,
      containerdSocket: socket,
      podLogsDir,
      clientCaFile: options.credentials.caFile,
    }),
  );
  const kubelet = await supervisor.start(
    {
      name: "kubelet",
      command: bin.kubelet,
      args: [
        `--config=${kubeletConfigFile}`,
        `--kubeconfig=${kubeletKubeconfig}`,
        `--root-dir=${kubeletDir}`,
        `--cert-dir=${path.join(kubeletDir, "pki")}`,
        `--hostname-override=${NODE_NAME}`,
        `--node-ip=${NODE_ADDRESS}`,
        "--v=1",
      ],
      env,
    },
    launch,
  );

  // --- kube-proxy: Services' ClusterIPs as iptables rules of the namespace ------------------
  const kubeProxy = await supervisor.start(
    {
      name: "kube-proxy",
      command: bin.kubeProxy,
      args: [
        `--kubeconfig=${options.componentKubeconfig}`,
        `--hostname-override=${NODE_NAME}`,
        `--cluster-cidr=${POD_CIDR}`,
        "--proxy-mode=iptables",
        `--metrics-bind-address=127.0.0.1:${String(PORTS.kubeProxyMetrics)}`,
        `--healthz-bind-address=127.0.0.1:${String(PORTS.kubeProxyHealthz)}`,
        // The conntrack limits are kernel-wide settings: leave them as the host has them.
        "--conntrack-max-per-core=0",
        "--conntrack-min=0",
        "--conntrack-tcp-timeout-established=0",
        "--conntrack-tcp-timeout-close-wait=0",
        "--v=1",
      ],
      env,
    },
    launch,
  );

  const waitReady = (
    component: Parameters<Supervisor["waitFor"]>[0],
    what: string,
    probe: () => Promise<true | undefined>,
  ): Promise<true> => supervisor.waitFor(component, what, timeout, probe);
  const [images] = await Promise.all([
    runtime.imported,
    waitReady(coredns, "CoreDNS /ready", () => healthy(PORTS.corednsReady, "/ready")).then(() =>
      // From now on processes in the namespace resolve cluster names too.
      writeFile(path.join(dir, "resolv.conf"), namespaceResolvConf()),
    ),
    waitReady(kubelet, "kubelet /healthz", () => healthy(PORTS.kubeletHealthz, "/healthz")).then(
      () =>
        waitReady(kubelet, `node ${NODE_NAME} Ready`, async () =>
          (await api.nodeIsReady(NODE_NAME)) ? true : undefined,
        ),
    ),
    waitReady(kubeProxy, "kube-proxy /healthz", () => healthy(PORTS.kubeProxyHealthz, "/healthz")),
  ]);

  return {
    name: NODE_NAME,
    address: NODE_ADDRESS,
    podCidr: POD_CIDR,
    serviceCidr: SERVICE_CIDR,
    images: new Map(images.map((image) => [image.name, image])),
    namespaceIds: namespace.ids,
    cgroupRoot,
    toHost: options.toHost,
    expose: (host, port) => forwarders.expose(host, port),
    run: (command, args) => namespace.run(command, args),
    crictl: async (args) =>
      (
        await execFileAsync(
          bin.crictl,
          [
            "--runtime-endpoint",
            `unix://${socket}`,
            "--image-endpoint",
            `unix://${socket}`,
            ...args,
          ],
          { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
        )
      ).stdout,
  };
}
