/**
 * The platform as one gateway replica of Kubernetes mode (issue 16): the same Platform with
 * the Kubernetes provider (pods from warm pools), stores on the API server and the shared
 * package volume, and package grants the pods fetch their code with. The async call queue
 * (JetStream) is chosen by the shell, as embedded. Every replica built from the same
 * namespaces, volume and secrets key is interchangeable with the others.
 */
import type { NatsServers } from "../host/nats-servers.js";
import { KubeConfig } from "@kubernetes/client-node";
import { defaultFunctionNamespace, defaultSystemNamespace } from "../kubernetes/names.js";
import { createKubernetesProvider } from "../provider/kubernetes/kubernetes-provider.js";
import type { KubernetesProviderOptions } from "../provider/kubernetes/options.js";
import { GatewayReplicas } from "./gateway-replicas.js";
import { kubernetesStores } from "./kubernetes-stores.js";
import type { PlatformOptions } from "./platform.js";

export interface KubernetesModeOptions {
  /** @default the pod's service account, else KUBECONFIG or ~/.kube/config */
  readonly kubeConfig?: KubeConfig;
  /** Where the gateway, the pools and the functions' pods run. @default "runlet-system" */
  readonly systemNamespace?: string;
  /** Where Function, FunctionRevision and Trigger objects and Secrets are. @default "openfaas-fn" */
  readonly functionNamespace?: string;
  /** The package folder every replica mounts (a PersistentVolume). */
  readonly packagesDir: string;
  /**
   * The gateway's package port as function pods reach it.
   * @default `http://runlet-gateway.<system namespace>.svc:8081`
   */
  readonly packagesUrl?: string;
  /** NATS servers (the async queue's): the replicas share log lines through their JetStream. */
  readonly natsServers?: NatsServers;
  /** The gateway pod this replica runs in (POD_NAME, POD_UID): the owner of its function pods. */
  readonly ownerPod?: { readonly name: string; readonly uid: string };
  /** The API port every gateway replica listens on (for the others' views). @default 8080 */
  readonly port?: number;
  /** The rest of the provider's settings (limits classes, pool size, images, timeouts). */
  readonly provider?: Omit<KubernetesProviderOptions, "kubeConfig" | "namespace">;
  readonly onError?: (error: unknown) => void;
}

/** What Platform.open needs to be a replica of Kubernetes mode. */
export type KubernetesModeParts = Required<
  Pick<
    PlatformOptions,
    "provider" | "stores" | "packageGrants" | "buildPackageCode" | "replicas" | "namespaces"
  >
> & {
  readonly systemNamespace: string;
  readonly functionNamespace: string;
};

export function kubernetesMode(options: KubernetesModeOptions): KubernetesModeParts {
  const kubeConfig = options.kubeConfig ?? defaultKubeConfig();
  const systemNamespace = options.systemNamespace ?? defaultSystemNamespace;
  const functionNamespace = options.functionNamespace ?? defaultFunctionNamespace;
  return {
    systemNamespace,
    functionNamespace,
    provider: createKubernetesProvider({
      ...options.provider,
      ...(options.ownerPod && { ownerPod: options.ownerPod }),
      kubeConfig,
      namespace: systemNamespace,
    }),
    stores: kubernetesStores({
      kubeConfig,
      namespace: functionNamespace,
      packagesDir: options.packagesDir,
      natsServers: options.natsServers,
      ...(options.ownerPod && { replica: options.ownerPod.name }),
      onError: options.onError,
    }),
    replicas: new GatewayReplicas({
      kubeConfig,
      namespace: systemNamespace,
      podName: options.ownerPod?.name,
      port: options.port ?? 8080,
    }),
    // Its stores keep one Kubernetes namespace's objects (issue 18 maps namespaces onto
    // Kubernetes namespaces; not done yet, docs/kubernetes.md).
    namespaces: "default-only",
    // Builds run in the gateway pod, beside its service account token and the platform's
    // secrets, with no sandbox: no code of a function's dependencies may run there.
    buildPackageCode: "sandboxed-only",
    // The key is derived from the secrets key, which every replica mounts from one Secret.
    packageGrants: {
      gatewayUrl: options.packagesUrl ?? `http://runlet-gateway.${systemNamespace}.svc:8081`,
    },
  };
}

/** In a pod its service account; elsewhere KUBECONFIG or ~/.kube/config. */
function defaultKubeConfig(): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromDefault();
  return kubeConfig;
}
