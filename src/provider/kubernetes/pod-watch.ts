/**
 * One watch over the pods the provider runs in its namespace (an informer: list, then watch,
 * and list again when the watch fails or its resource version is too old), as a cache the
 * provider reads pool pods from and a feed of each claimed pod's changes, which is how an
 * instance learns that its pod ended.
 */
import {
  type CoreV1Api,
  type Informer,
  type KubeConfig,
  makeInformer,
  type ObjectCache,
  type V1Pod,
} from "@kubernetes/client-node";

export type PodEvent = "add" | "update" | "delete";
export type PodListener = (pod: V1Pod, event: PodEvent) => void;

/** Back-off of a failed watch before it lists again. */
const restartDelaysMs = [200, 500, 1000, 2000, 5000];

export class PodWatch {
  readonly #informer: Informer<V1Pod> & ObjectCache<V1Pod>;
  readonly #listeners = new Map<string, Set<PodListener>>();
  readonly #anyListeners = new Set<PodListener>();
  readonly #onError: (error: unknown) => void;
  #failures = 0;
  #stopped = false;
  #restart: NodeJS.Timeout | undefined;

  constructor(options: {
    readonly kubeConfig: KubeConfig;
    readonly core: CoreV1Api;
    readonly namespace: string;
    readonly labelSelector: string;
    readonly onError: (error: unknown) => void;
  }) {
    const { namespace, labelSelector, core } = options;
    this.#onError = options.onError;
    this.#informer = makeInformer(
      options.kubeConfig,
      `/api/v1/namespaces/${namespace}/pods`,
      () => core.listNamespacedPod({ namespace, labelSelector }),
      labelSelector,
    );
    for (const event of ["add", "update", "delete"] as const) {
      this.#informer.on(event, (pod) => {
        this.#failures = 0;
        this.#emit(pod, event);
      });
    }
    this.#informer.on("error", (error: unknown) => {
      if (this.#stopped) {
        return;
      }
      const delay = restartDelaysMs[Math.min(this.#failures, restartDelaysMs.length - 1)] ?? 5000;
      this.#failures += 1;
      if (this.#failures > 3) {
        this.#onError(new Error("the pod watch keeps failing", { cause: error }));
      }
      this.#restart = setTimeout(() => {
        void this.#informer.start().catch(() => undefined);
      }, delay);
    });
  }

  /** Resolves once the first list is in the cache. */
  start(): Promise<void> {
    return this.#informer.start();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#restart);
    await this.#informer.stop();
  }

  list(): readonly V1Pod[] {
    return this.#informer.list();
  }

  get(name: string): V1Pod | undefined {
    return this.list().find((pod) => pod.metadata?.name === name);
  }

  /** Calls `listener` on each change of pod `name` until the returned function is called. */
  follow(name: string, listener: PodListener): () => void {
    let set = this.#listeners.get(name);
    if (!set) {
      set = new Set();
      this.#listeners.set(name, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) {
        this.#listeners.delete(name);
      }
    };
  }

  /** Calls `listener` on every change of any pod until the returned function is called. */
  followAll(listener: PodListener): () => void {
    this.#anyListeners.add(listener);
    return () => this.#anyListeners.delete(listener);
  }

  /**
   * The pod once `probe` returns a value for it (checked now and on each change), or a
   * rejection after `timeoutMs` naming `what`.
   */
  waitFor<T>(
    name: string,
    what: string,
    timeoutMs: number,
    probe: (pod: V1Pod | undefined, event: PodEvent | undefined) => T | undefined,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const now = probe(this.get(name), undefined);
      if (now !== undefined) {
        resolve(now);
        return;
      }
      const timer = setTimeout(() => {
        unfollow();
        reject(new Error(`pod ${name} did not ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      const unfollow = this.follow(name, (pod, event) => {
        let value: T | undefined;
        try {
          value = probe(pod, event);
        } catch (error) {
          clearTimeout(timer);
          unfollow();
          reject(error as Error);
          return;
        }
        if (value !== undefined) {
          clearTimeout(timer);
          unfollow();
          resolve(value);
        }
      });
    });
  }

  #emit(pod: V1Pod, event: PodEvent): void {
    const name = pod.metadata?.name ?? "";
    for (const listener of [...(this.#listeners.get(name) ?? [])]) {
      listener(pod, event);
    }
    for (const listener of [...this.#anyListeners]) {
      listener(pod, event);
    }
  }
}
