/**
 * A real node (pods under runc) with a real gateway in this process that its pods fetch
 * packages from: the gateway's grant-checked archive route, reached from the pods through the
 * node relay's one way back to the host (the node address's port, piped to a Unix socket this
 * process bridges to the gateway). For the Kubernetes provider's tests and its benchmark.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { startRunlet } from "../../../src/gateway/start.js";
import { packDirectory } from "../../../src/packaging/pack.js";
import type { KubernetesProviderOptions } from "../../../src/provider/kubernetes/options.js";
import type { ProviderContext } from "../../../src/provider/types.js";
import { buildControlPlane } from "../../k8s/cluster/binaries.js";
import { startTestCluster, type TestCluster } from "../../k8s/cluster/test-cluster.js";
import { pollUntil } from "../../k8s/cluster/wait.js";
import {
  runtimeExecImage,
  runtimeNodeImage,
  runtimePythonImage,
} from "../../k8s/images/image-specs.js";
import { buildNode } from "../../k8s/node/binaries.js";
import { TcpProcessProvider } from "../contract/tcp-process-provider.js";

const adminToken = "pods-with-gateway-admin-token";

export interface PodsWithGateway {
  readonly cluster: TestCluster;
  readonly kubeConfig: KubeConfig;
  /** A fresh namespace for the pods. */
  readonly namespace: string;
  /** Options for a provider in `namespace` that dials pods through the node's forwarders. */
  providerOptions(extra?: Partial<KubernetesProviderOptions>): KubernetesProviderOptions;
  /**
   * `context` with a PackageSource whose grants are the gateway's: each package named by
   * directory (`localPath`) is uploaded to the gateway once, at its first grant.
   */
  podContext(context: ProviderContext): ProviderContext;
  stop(): Promise<void>;
}

export async function startPodsWithGateway(options: {
  readonly startTimeoutMs: number;
}): Promise<PodsWithGateway> {
  const [controlPlane, node] = [await buildControlPlane(), await buildNode()];
  const cluster = await startTestCluster({
    binaries: controlPlane,
    realNode: { binaries: node, images: [runtimeNodeImage, runtimePythonImage, runtimeExecImage] },
  });
  const cleanups: (() => Promise<unknown>)[] = [() => cluster.stop()];
  const stop = async (): Promise<void> => {
    for (const cleanup of cleanups.reverse()) {
      await cleanup();
    }
  };
  try {
    const realNode = cluster.realNode;
    if (!realNode) {
      throw new Error("the cluster has no real node");
    }
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(cluster.kubeconfigPath);
    const namespace = `fn-${randomBytes(3).toString("hex")}`;
    const core = kubeConfig.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await pollUntil(
      `ServiceAccount ${namespace}/default`,
      async () =>
        (await core.readNamespacedServiceAccount({ name: "default", namespace })).metadata,
      { timeoutMs: options.startTimeoutMs },
    );

    const gatewayDir = await mkdtemp(join(tmpdir(), "runlet-k8s-gateway-"));
    cleanups.push(() => rm(gatewayDir, { recursive: true, force: true }));
    let gatewayContext: ProviderContext | undefined;
    const { toHost } = realNode;
    const gateway = await startRunlet({
      port: 0,
      adminToken,
      dataDir: gatewayDir,
      packageGrants: {
        key: randomBytes(32),
        gatewayUrl: `http://${toHost.address}:${toHost.port}`,
      },
      // This gateway runs no functions; its provider is only where its context is seen.
      provider: (context) => {
        gatewayContext = context;
        return TcpProcessProvider.create(context);
      },
    });
    cleanups.push(() => gateway.close(1000));
    const gatewayPort = Number(new URL(gateway.url).port);
    // The relay pipes pods' connections to this socket; each goes on to the gateway.
    const bridge = createServer((socket) => {
      const upstream = connect({ host: "127.0.0.1", port: gatewayPort });
      socket.pipe(upstream).pipe(socket);
      socket.on("error", () => upstream.destroy()).on("close", () => upstream.destroy());
      upstream.on("error", () => socket.destroy()).on("close", () => socket.destroy());
    });
    await new Promise<void>((resolve) => bridge.listen(toHost.socketPath, resolve));
    cleanups.push(() => new Promise((resolve) => bridge.close(resolve)));

    const upload = async (dir: string): Promise<string> => {
      const packed = await packDirectory(dir);
      const answer = await fetch(`${gateway.url}/api/v1/packages`, {
        method: "POST",
        headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/gzip" },
        body: packed.archive,
      });
      if (answer.status >= 300) {
        throw new Error(`upload failed: ${answer.status} ${await answer.text()}`);
      }
      return packed.digest;
    };

    return {
      cluster,
      kubeConfig,
      namespace,
      stop,
      providerOptions: (extra = {}) => ({
        kubeConfig,
        namespace,
        dial: (podIp, port) => realNode.expose(podIp, port),
        podStartTimeoutMs: options.startTimeoutMs,
        ...extra,
      }),
      podContext: (context) => {
        const uploads = new Map<string, Promise<string>>();
        return {
          ...context,
          packages: {
            localPath: (name) => context.packages.localPath(name),
            grant: async (name, instanceId) => {
              let digest = uploads.get(name);
              if (!digest) {
                digest = upload(context.packages.localPath(name));
                uploads.set(name, digest);
              }
              const grant = await gatewayContext?.packages.grant?.(await digest, instanceId);
              if (!grant) {
                throw new Error("the gateway gives no package grants");
              }
              return grant;
            },
          },
        };
      },
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
