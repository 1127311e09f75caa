// Starts a test cluster's control plane (etcd, kube-apiserver, controller-manager, scheduler) in a ClusterNetwork (issues 7 and 15).
import { writeFile } from "node:fs/promises";
import * as path from "node:path";
import type { ControlPlaneBinaries } from "./binaries.js";
import type { ClusterNetwork } from "./cluster-network.js";
import { ApiClient, httpCall } from "./http-probe.js";
import { kubeconfig, type ClusterCredentials } from "./pki.js";
import type { Supervisor } from "./supervisor.js";

export interface ControlPlaneOptions {
  readonly supervisor: Supervisor;
  readonly network: ClusterNetwork;
  readonly binaries: ControlPlaneBinaries;
  readonly credentials: ClusterCredentials;
  readonly serviceCidr: string;
  readonly startTimeoutMs: number;
}

export interface ControlPlane {
  /** `https://127.0.0.1:<port>` on the host (through a forwarder when in the namespace). */
  readonly hostServer: string;
  /** Admin kubeconfig for the host: kubectl and `@kubernetes/client-node` in tests. */
  readonly hostKubeconfig: string;
  /** Admin kubeconfig for components running in the cluster's network. */
  readonly componentKubeconfig: string;
  /** `https://127.0.0.1:<port>` as components in the cluster's network reach it. */
  readonly innerServer: string;
  readonly api: ApiClient;
}

/**
 * Starts etcd and kube-apiserver and waits for each, then the controller manager and the
 * scheduler, and returns once both are healthy. Components run through `network.launch`
 * (as is, or inside the node's namespace) and are probed through `network.reach`.
 */
export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  const { supervisor, network, binaries: bin, credentials } = options;
  const dir = supervisor.dir;
  const ports = network.ports;
  const timeout = options.startTimeoutMs;
  const env = { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: dir };
  const hostUrl = async (scheme: string, port: number): Promise<string> => {
    const at = await network.reach("127.0.0.1", port);
    return `${scheme}://${at.host}:${String(at.port)}`;
  };

  const etcdUrl = `http://127.0.0.1:${String(ports.etcdClient)}`;
  const etcdPeerUrl = `http://127.0.0.1:${String(ports.etcdPeer)}`;
  const etcd = await supervisor.start(
    {
      name: "etcd",
      command: bin.etcd,
      args: [
        "--name=node0",
        `--data-dir=${path.join(dir, "etcd")}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${etcdPeerUrl}`,
        `--initial-advertise-peer-urls=${etcdPeerUrl}`,
        `--initial-cluster=node0=${etcdPeerUrl}`,
        "--initial-cluster-state=new",
        // Test data is thrown away: durability only costs time on a shared disk.
        "--unsafe-no-fsync",
        "--log-level=warn",
      ],
      env,
    },
    network.launch,
  );
  const etcdHealth = `${await hostUrl("http", ports.etcdClient)}/health`;
  await supervisor.waitFor(etcd, "etcd /health", timeout, async () => {
    const res = await httpCall(etcdHealth);
    return res.status === 200 && res.body.includes('"true"') ? true : undefined;
  });

  const innerServer = `https://127.0.0.1:${String(ports.apiserver)}`;
  const apiserver = await supervisor.start(
    {
      name: "kube-apiserver",
      command: bin.kubeApiserver,
      args: [
        `--etcd-servers=${etcdUrl}`,
        `--bind-address=${network.apiserverBindAddress}`,
        `--advertise-address=${network.apiserverAdvertiseAddress}`,
        `--secure-port=${String(ports.apiserver)}`,
        `--tls-cert-file=${credentials.apiserverCertFile}`,
        `--tls-private-key-file=${credentials.apiserverKeyFile}`,
        `--token-auth-file=${credentials.tokensFile}`,
        // Node: a kubelet may touch only its own node and pods (issue 15's real node).
        "--authorization-mode=Node,RBAC",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        `--service-account-key-file=${credentials.serviceAccountPublicKeyFile}`,
        `--service-account-signing-key-file=${credentials.serviceAccountKeyFile}`,
        `--service-cluster-ip-range=${options.serviceCidr}`,
        "--allow-privileged=true",
        // Logs, exec and port-forward dial the kubelet at its InternalIP: there is no DNS name
        // for the node, and the host's resolver must not be asked.
        "--kubelet-preferred-address-types=InternalIP",
        `--kubelet-client-certificate=${credentials.kubeletClientCertFile}`,
        `--kubelet-client-key=${credentials.kubeletClientKeyFile}`,
        // On loopback the default reconciler would publish 127.0.0.1 as the `kubernetes`
        // Service endpoint, which Endpoints validation rejects.
        ...(network.apiserverAdvertiseAddress.startsWith("127.")
          ? ["--endpoint-reconciler-type=none"]
          : []),
        "--profiling=false",
      ],
      env,
    },
    network.launch,
  );
  const hostServer = await hostUrl("https", ports.apiserver);
  const api = new ApiClient(hostServer, credentials.adminToken, credentials.caPem);
  await supervisor.waitFor(apiserver, "kube-apiserver /readyz", timeout, async () =>
    (await api.get("/readyz")).status === 200 ? true : undefined,
  );

  const hostKubeconfig = path.join(dir, "kubeconfig");
  await writeFile(
    hostKubeconfig,
    kubeconfig(hostServer, "runlet-test-admin", credentials.adminToken, credentials.caPem),
    { mode: 0o600 },
  );
  const componentKubeconfig = path.join(dir, "components.kubeconfig");
  await writeFile(
    componentKubeconfig,
    kubeconfig(innerServer, "runlet-test-admin", credentials.adminToken, credentials.caPem),
    { mode: 0o600 },
  );

  const healthOnly = "--authorization-always-allow-paths=/healthz,/readyz,/livez";
  const kcm = await supervisor.start(
    {
      name: "kube-controller-manager",
      command: bin.kubeControllerManager,
      args: [
        `--kubeconfig=${componentKubeconfig}`,
        "--leader-elect=false",
        "--bind-address=127.0.0.1",
        `--secure-port=${String(ports.controllerManager)}`,
        healthOnly,
        `--cert-dir=${path.join(dir, "kcm-pki")}`,
        `--service-account-private-key-file=${credentials.serviceAccountKeyFile}`,
        `--root-ca-file=${credentials.caFile}`,
        "--controllers=*",
      ],
      env,
    },
    network.launch,
  );
  const scheduler = await supervisor.start(
    {
      name: "kube-scheduler",
      command: bin.kubeScheduler,
      args: [
        `--kubeconfig=${componentKubeconfig}`,
        "--leader-elect=false",
        "--bind-address=127.0.0.1",
        `--secure-port=${String(ports.scheduler)}`,
        healthOnly,
        `--cert-dir=${path.join(dir, "scheduler-pki")}`,
      ],
      env,
    },
    network.launch,
  );
  const kcmHealth = `${await hostUrl("https", ports.controllerManager)}/healthz`;
  const schedulerReady = `${await hostUrl("https", ports.scheduler)}/readyz`;
  await Promise.all([
    supervisor.waitFor(kcm, "kube-controller-manager /healthz", timeout, async () =>
      (await httpCall(kcmHealth, { insecure: true })).status === 200 ? true : undefined,
    ),
    supervisor.waitFor(scheduler, "kube-scheduler /readyz", timeout, async () =>
      (await httpCall(schedulerReady, { insecure: true })).status === 200 ? true : undefined,
    ),
  ]);
  return { hostServer, hostKubeconfig, componentKubeconfig, innerServer, api };
}
