/**
 * The Kubernetes provider (DESIGN.md "Kubernetes mode"): instances are pods of the runtime
 * images. Each runtime and limits class has a pool, a Deployment of generic pods; a start
 * claims a Ready one (pod-claim.ts) or, with none Ready, creates a pod for itself. The pod is
 * reached over TCP (remote-instance.ts: HTTP control, the framed channel, `/v2/logs`), fetches
 * its package from the platform with a grant, and is watched so its end is reported as a kind
 * (pod-exit.ts). Stopping an instance deletes its pod.
 */
import { randomBytes } from "node:crypto";
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  KubernetesObjectApi,
  PatchStrategy,
  type V1OwnerReference,
  type V1Pod,
} from "@kubernetes/client-node";
import { fieldManagers, labels } from "../../kubernetes/names.js";
import type { InstanceRuntime } from "../../spec/function-spec.js";
import { instanceFilesFor } from "../instance-files.js";
import { RemoteInstance, type PreparedFiles } from "../remote/remote-instance.js";
import type {
  ClusterInstances,
  ExitInfo,
  PoolStatus,
  Provider,
  ProviderContext,
  SpecializeRequest,
  StartedInstance,
  StartInstanceOptions,
} from "../types.js";
import {
  findLimitsClass,
  limitsClassFor,
  resolveKubernetesOptions,
  type KubernetesProviderOptions,
  type LimitsClass,
  type ResolvedKubernetesOptions,
} from "./options.js";
import { claimPoolPod, labelPodFunction } from "./pod-claim.js";
import { exitOfPod, exitOfVanishedPod, restartsOf } from "./pod-exit.js";
import {
  instancePod,
  podPaths,
  podPorts,
  poolDeployment,
  poolName,
  type PodTemplateOptions,
} from "./pod-template.js";
import { PodWatch } from "./pod-watch.js";

/** Makes the provider for a composition: `createKubernetesProvider(options)(context)`. */
export function createKubernetesProvider(
  options: KubernetesProviderOptions,
): (context: ProviderContext) => Promise<Provider> {
  return (context) => KubernetesProvider.create(options, context);
}

interface Pool {
  readonly name: string;
  readonly runtime: InstanceRuntime;
  readonly limitsClass: LimitsClass;
  /** Settles once the Deployment is applied; a failed apply is tried again at the next start. */
  applied: Promise<void> | undefined;
}

function isReady(pod: V1Pod): boolean {
  return (
    pod.metadata?.deletionTimestamp === undefined &&
    pod.status?.phase === "Running" &&
    pod.status.podIP !== undefined &&
    (pod.status.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True")
  );
}

export class KubernetesProvider implements Provider {
  readonly name = "kubernetes";
  readonly isolation: string;
  readonly notices: readonly string[];
  readonly #options: ResolvedKubernetesOptions;
  readonly #context: ProviderContext;
  readonly #core: CoreV1Api;
  readonly #apps: AppsV1Api;
  readonly #objects: KubernetesObjectApi;
  readonly #watch: PodWatch;
  readonly #pools = new Map<string, Pool>();
  /** Pool pods this provider is claiming right now (its own starts never race each other). */
  readonly #claiming = new Set<string>();
  readonly #live = new Map<string, { instance: RemoteInstance; podName: string }>();
  #closed = false;

  private constructor(options: ResolvedKubernetesOptions, context: ProviderContext) {
    this.#options = options;
    this.#context = context;
    this.#core = options.kubeConfig.makeApiClient(CoreV1Api);
    this.#apps = options.kubeConfig.makeApiClient(AppsV1Api);
    this.#objects = KubernetesObjectApi.makeApiClient(options.kubeConfig);
    this.#watch = new PodWatch({
      kubeConfig: options.kubeConfig,
      core: this.#core,
      namespace: options.namespace,
      labelSelector: `${labels.managedBy}=${fieldManagers.provider}`,
      onError: context.onError,
    });
    this.isolation = `pods in namespace ${options.namespace} (non-root, no capabilities, RuntimeDefault seccomp, read-only root; limits per class)`;
    this.notices = [
      "Kubernetes provider: a function's `network: none` is enforced only by a NetworkPolicy of the namespace, not by the provider",
    ];
  }

  static async create(
    options: KubernetesProviderOptions,
    context: ProviderContext,
  ): Promise<KubernetesProvider> {
    const provider = new KubernetesProvider(resolveKubernetesOptions(options), context);
    await provider.#watch.start();
    await Promise.all(
      provider.#options.pools.map(({ runtime, limitsClass }) =>
        provider.#ensurePool(
          provider.#pool(runtime, findLimitsClass(provider.#options.limitsClasses, limitsClass)),
        ),
      ),
    );
    return provider;
  }

  /** The pod an instance of this provider runs in (for `describe` and tests). */
  podName(instanceId: string): string | undefined {
    return this.#live.get(instanceId)?.podName;
  }

  async start(options: StartInstanceOptions): Promise<StartedInstance> {
    if (this.#closed) {
      throw new Error("the Kubernetes provider is closed");
    }
    const limitsClass = limitsClassFor(
      this.#options.limitsClasses,
      options.memoryBytes,
      options.cpu,
    );
    const pool = this.#pool(options.runtime, limitsClass);
    // A pool made now fills for the next start; this one does not wait for it.
    void this.#ensurePool(pool).catch((error: unknown) => this.#context.onError(error));
    const instanceId = `k8s-${randomBytes(6).toString("hex")}`;
    const claimed = await this.#claimFrom(pool, instanceId);
    const pod = claimed ?? (await this.#createPod(pool, instanceId));
    const instance = await this.#connect(
      pod,
      instanceId,
      options,
      claimed === undefined ? 0 : restartsOf(pod),
    );
    return { instance, fromPool: claimed !== undefined };
  }

  poolStatus(): PoolStatus[] {
    const pods = this.#watch.list();
    return [...this.#pools.values()]
      .filter((pool) => pool.applied !== undefined)
      .map((pool) => {
        const members = pods.filter((pod) => pod.metadata?.labels?.[labels.pool] === pool.name);
        const idle = members.filter(isReady).length;
        return {
          runtime: pool.runtime,
          size: this.#options.poolReplicas,
          idle,
          starting: members.length - idle,
        };
      });
  }

  clusterInstances(functionName: string, revision: string): ClusterInstances {
    const pods = this.#watch
      .list()
      .filter(
        (pod) =>
          pod.metadata?.deletionTimestamp === undefined &&
          pod.metadata?.labels?.[labels.function] === functionName &&
          pod.metadata.labels[labels.revision] === revision,
      );
    return { instances: pods.length, ready: pods.filter(isReady).length };
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#live.values()].map(({ instance }) => instance.stop()));
    await this.#watch.stop();
  }

  #pool(runtime: InstanceRuntime, limitsClass: LimitsClass): Pool {
    const name = poolName(runtime, limitsClass);
    let pool = this.#pools.get(name);
    if (!pool) {
      pool = { name, runtime, limitsClass, applied: undefined };
      this.#pools.set(name, pool);
    }
    return pool;
  }

  #template(pool: Pool): PodTemplateOptions {
    return {
      runtime: pool.runtime,
      limitsClass: pool.limitsClass,
      image: this.#options.image(pool.runtime),
      imagePullPolicy: this.#options.imagePullPolicy,
    };
  }

  /** Applies the pool's Deployment server-side, once per provider (again after a failure). */
  #ensurePool(pool: Pool): Promise<void> {
    if (!pool.applied) {
      const deployment = poolDeployment({
        ...this.#template(pool),
        namespace: this.#options.namespace,
        replicas: this.#options.poolReplicas,
      });
      pool.applied = this.#madeByInstall(pool)
        .then((installed) =>
          // A pool the install made (the chart's sizes) is the installer's to change; one
          // this provider applied before it applies again (with this provider's size).
          installed
            ? undefined
            : this.#objects.patch(
                deployment,
                undefined,
                undefined,
                fieldManagers.provider,
                true,
                PatchStrategy.ServerSideApply,
              ),
        )
        .then(
          () => undefined,
          (error: unknown) => {
            pool.applied = undefined;
            throw new Error(`could not apply the pool Deployment ${pool.name}`, { cause: error });
          },
        );
    }
    return pool.applied;
  }

  /** The gateway pod as the owner of the function pods it runs (not their controller). */
  #owner(): V1OwnerReference | undefined {
    const pod = this.#options.ownerPod;
    return (
      pod && {
        apiVersion: "v1",
        kind: "Pod",
        name: pod.name,
        uid: pod.uid,
        controller: false,
        blockOwnerDeletion: false,
      }
    );
  }

  /** Whether the pool's Deployment exists and no apply of this provider's made it. */
  async #madeByInstall(pool: Pool): Promise<boolean> {
    try {
      const deployment = await this.#apps.readNamespacedDeployment({
        name: pool.name,
        namespace: this.#options.namespace,
      });
      return !(deployment.metadata?.managedFields ?? []).some(
        (entry) => entry.manager === fieldManagers.provider && entry.operation === "Apply",
      );
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) {
        return false;
      }
      throw error;
    }
  }

  /** A Ready pod of the pool, claimed for `instanceId`; undefined when none could be had. */
  async #claimFrom(pool: Pool, instanceId: string): Promise<V1Pod | undefined> {
    const candidates = [...this.#watch.list()].filter(
      (pod) =>
        pod.metadata?.labels?.[labels.pool] === pool.name &&
        isReady(pod) &&
        !this.#claiming.has(pod.metadata.name ?? ""),
    );
    // In random order, so two gateway replicas starting at once rarely try the same pod.
    for (let i = candidates.length - 1; i > 0; i -= 1) {
      const j = Math.floor(Math.random() * (i + 1));
      [candidates[i], candidates[j]] = [candidates[j] as V1Pod, candidates[i] as V1Pod];
    }
    for (const candidate of candidates) {
      const podName = candidate.metadata?.name ?? "";
      if (this.#claiming.has(podName)) {
        continue;
      }
      this.#claiming.add(podName);
      try {
        const claimed = await claimPoolPod(this.#core, {
          namespace: this.#options.namespace,
          podName,
          pool: pool.name,
          instanceId,
          owner: this.#owner(),
        });
        if (claimed && claimed.status?.podIP !== undefined) {
          return claimed;
        }
      } finally {
        this.#claiming.delete(podName);
      }
    }
    return undefined;
  }

  /** The "no pool" cold start: a pod made for this start, once it is Ready. */
  async #createPod(pool: Pool, instanceId: string): Promise<V1Pod> {
    const name = `runlet-${instanceId}`;
    const body = instancePod({
      ...this.#template(pool),
      namespace: this.#options.namespace,
      name,
      instanceId,
    });
    const owner = this.#owner();
    if (owner) {
      body.metadata = { ...body.metadata, ownerReferences: [owner] };
    }
    await this.#core.createNamespacedPod({ namespace: this.#options.namespace, body });
    try {
      return await this.#watch.waitFor(
        name,
        "become Ready",
        this.#options.podStartTimeoutMs,
        (pod, event) => {
          if (event === "delete") {
            throw new Error(`pod ${name} was deleted before it was Ready`);
          }
          const ended = pod && exitOfPod(pod, pool.limitsClass.memoryBytes, 0);
          if (ended) {
            throw new Error(`pod ${name} ${ended.message} before it was Ready`);
          }
          return pod && isReady(pod) ? pod : undefined;
        },
      );
    } catch (error) {
      await this.#deletePod(name).catch(() => undefined);
      throw error;
    }
  }

  async #connect(
    pod: V1Pod,
    instanceId: string,
    options: StartInstanceOptions,
    restartsAtClaim: number,
  ): Promise<RemoteInstance> {
    const podName = pod.metadata?.name ?? "";
    const podIp = pod.status?.podIP ?? "";
    let settle: (info: ExitInfo) => void = () => undefined;
    const gone = new Promise<ExitInfo>((resolve) => {
      settle = resolve;
    });
    let ended = false;
    let stopping = false;
    const stopped: ExitInfo = { kind: "killed", message: "was stopped" };
    const end = (info: ExitInfo): void => {
      if (!ended) {
        ended = true;
        unfollow();
        settle(info);
      }
    };
    const unfollow = this.#watch.follow(podName, (current, event) => {
      if (stopping) {
        end(stopped);
        return;
      }
      if (event === "delete") {
        end(exitOfVanishedPod(current, options.memoryBytes, restartsAtClaim));
        return;
      }
      const exit = exitOfPod(current, options.memoryBytes, restartsAtClaim);
      if (exit) {
        end(exit);
        // A pool pod's container would restart in place, generic: the pod is not needed.
        void this.#deletePod(podName).catch(this.#context.onError);
      }
    });
    // A change between the claim and the follow above.
    const now = this.#watch.get(podName);
    const early = now && exitOfPod(now, options.memoryBytes, restartsAtClaim);
    if (early) {
      end(early);
    }
    try {
      const [http, frames] = await Promise.all([
        this.#options.dial(podIp, podPorts.http),
        this.#options.dial(podIp, podPorts.frames),
      ]);
      if (http.host !== frames.host) {
        throw new Error(`dial gave two hosts for pod ${podName}: ${http.host} and ${frames.host}`);
      }
      const instance = await RemoteInstance.connect({
        id: instanceId,
        runtime: options.runtime,
        endpoint: { host: http.host, httpPort: http.port, framePort: frames.port },
        onLog: options.onLog,
        gone,
        terminate: async () => {
          stopping = true;
          await this.#deletePod(podName);
          end(stopped);
        },
        prepare: (request) => this.#prepare(podName, instanceId, request),
        exitReportMs: this.#options.exitReportMs,
        askAfterFailure: true,
      });
      this.#live.set(instanceId, { instance, podName });
      void instance.exited.then(() => this.#live.delete(instanceId));
      return instance;
    } catch (error) {
      await this.#deletePod(podName).catch(() => undefined);
      end({ kind: "killed", message: "was stopped before it was ready" });
      throw error;
    }
  }

  /** What the pod's runtime needs to load the function: a package grant and the secrets. */
  async #prepare(
    podName: string,
    instanceId: string,
    request: SpecializeRequest,
  ): Promise<PreparedFiles> {
    const grant = await this.#context.packages.grant?.(request.packageDigest, instanceId);
    if (!grant) {
      throw new Error(
        "the Kubernetes provider needs a PackageSource that grants pods the fetch of a package (grant())",
      );
    }
    // For people and the operator: which function the pod now runs. Not waited for.
    void labelPodFunction(this.#core, {
      namespace: this.#options.namespace,
      podName,
      functionName: request.name,
      revision: request.revision,
    }).catch((error: unknown) => {
      if (!(error instanceof ApiException && error.code === 404)) {
        this.#context.onError(error);
      }
    });
    return {
      packagePath: podPaths.package,
      secretsDir: podPaths.secrets,
      // Mounted at their own paths (pod-template.ts), so Python reads them there too.
      fissionDir: "/",
      fetch: {
        url: grant.url,
        token: grant.token,
        digest: grant.digest,
        maxUnpackedBytes: this.#options.maxPackageBytes,
      },
      files: instanceFilesFor(request, this.#context.secrets, this.#context.configs),
    };
  }

  async #deletePod(name: string): Promise<void> {
    try {
      await this.#core.deleteNamespacedPod({
        name,
        namespace: this.#options.namespace,
        gracePeriodSeconds: 0,
      });
    } catch (error) {
      if (!(error instanceof ApiException && error.code === 404)) {
        throw error;
      }
    }
  }
}
