/**
 * The other gateway replicas of Kubernetes mode, as this one reaches them: the Ready pods of
 * the gateway Deployment other than its own, by pod IP. Each replica runs its own instances,
 * so a view of a function's instances asks the others for theirs (GET /api/v1/functions/NAME).
 */
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";

/** Where the other replicas answer; empty when this one is alone (or embedded). */
export interface ReplicaDirectory {
  /** This replica's name (its pod), when known. */
  readonly self: string | undefined;
  /** Base URLs (`http://10.88.0.7:8080`), each with the replica's pod name. */
  others(): Promise<readonly { readonly name: string; readonly url: string }[]>;
}

export interface GatewayReplicasOptions {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  /** This replica's pod, left out. */
  readonly podName: string | undefined;
  /** The API port every replica listens on. */
  readonly port: number;
  /** How long one listing is reused. @default 2000 */
  readonly cacheMs?: number;
}

/** The chart's selector for gateway pods (deploy/helm/runlet/templates/gateway.yaml). */
const gatewaySelector = "app.kubernetes.io/part-of=runlet,app.kubernetes.io/component=gateway";

export class GatewayReplicas implements ReplicaDirectory {
  readonly #core: CoreV1Api;
  readonly #options: GatewayReplicasOptions;
  readonly self: string | undefined;
  #cached: { at: number; list: Promise<{ name: string; url: string }[]> } | undefined;

  constructor(options: GatewayReplicasOptions) {
    this.#core = options.kubeConfig.makeApiClient(CoreV1Api);
    this.#options = options;
    this.self = options.podName;
  }

  others(): Promise<readonly { readonly name: string; readonly url: string }[]> {
    const now = Date.now();
    if (!this.#cached || now - this.#cached.at > (this.#options.cacheMs ?? 2000)) {
      const list = this.#list();
      // A failed listing is not kept: the next view asks again.
      list.catch(() => (this.#cached = undefined));
      this.#cached = { at: now, list };
    }
    return this.#cached.list;
  }

  async #list(): Promise<{ name: string; url: string }[]> {
    const pods = await this.#core.listNamespacedPod({
      namespace: this.#options.namespace,
      labelSelector: gatewaySelector,
    });
    return pods.items
      .filter(
        (pod) =>
          pod.metadata?.name !== this.#options.podName &&
          pod.metadata?.deletionTimestamp === undefined &&
          pod.status?.podIP !== undefined &&
          (pod.status.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True"),
      )
      .map((pod) => ({
        name: pod.metadata?.name ?? "",
        url: `http://${pod.status?.podIP ?? ""}:${String(this.#options.port)}`,
      }));
  }
}
