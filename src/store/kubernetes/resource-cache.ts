/**
 * The objects of one resource in one namespace, held in memory from a list and a watch (an
 * informer, relisting on 410), so a store's reads stay synchronous. The store writes through:
 * each object its own write returned goes in at once, so a replica reads its own writes before
 * the watch brings them back. An event older than what the cache holds is dropped (resource
 * versions of one object grow), and so is one for an object this replica just deleted.
 */
import { makeInformer, type KubeConfig, type KubernetesObject } from "@kubernetes/client-node";

export interface ResourceCacheOptions<T> {
  readonly kubeConfig: KubeConfig;
  /** The collection's API path: /apis/<group>/<version>/namespaces/<ns>/<plural>. */
  readonly path: string;
  readonly list: () => Promise<{ items: unknown[]; metadata?: { resourceVersion?: string } }>;
  readonly labelSelector?: string;
  /** Checks and converts an object from the API; throws when it is not one Runlet can use. */
  readonly parse: (object: unknown) => T;
  /** An object that does not parse (someone applied a bad one), or a watch that failed. */
  readonly onError: (error: unknown) => void;
  /** Pause before the watch is started again after it failed. @default 1000 */
  readonly restartDelayMs?: number;
}

interface Named {
  metadata: { name?: string; resourceVersion?: string };
}

export class ResourceCache<T extends Named> {
  readonly #options: ResourceCacheOptions<T>;
  readonly #objects = new Map<string, T>();
  /** Names this replica deleted, with the last version it saw: later events up to it are old. */
  readonly #deleted = new Map<string, string>();
  readonly #listeners = new Set<(name: string, object: T | undefined) => void>();
  readonly #informer: ReturnType<typeof makeInformer<KubernetesObject>>;
  #stopped = false;
  #restart: NodeJS.Timeout | undefined;

  constructor(options: ResourceCacheOptions<T>) {
    this.#options = options;
    this.#informer = makeInformer<KubernetesObject>(
      options.kubeConfig,
      options.path,
      async () => {
        const list = await options.list();
        return {
          metadata: list.metadata ?? {},
          items: list.items as KubernetesObject[],
        };
      },
      options.labelSelector,
    );
    this.#informer.on("add", (object) => this.#seen(object));
    this.#informer.on("update", (object) => this.#seen(object));
    this.#informer.on("delete", (object) => this.#gone(object));
    this.#informer.on("error", (error: unknown) => {
      if (this.#stopped) {
        return;
      }
      options.onError(error);
      this.#restart = setTimeout(() => {
        this.#restart = undefined;
        void this.#informer.start().catch(options.onError);
      }, options.restartDelayMs ?? 1000);
      this.#restart.unref();
    });
  }

  /** Lists and starts watching; resolves once the cache holds what the list returned. */
  async start(): Promise<void> {
    await this.#informer.start();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#restart);
    await this.#informer.stop();
  }

  get(name: string): T | undefined {
    return this.#objects.get(name);
  }

  list(): T[] {
    return [...this.#objects.values()];
  }

  /** Called for each change that came from elsewhere (not from this replica's own writes). */
  onChange(listener: (name: string, object: T | undefined) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** An object this replica's write returned. */
  put(object: T): void {
    const name = object.metadata.name ?? "";
    this.#deleted.delete(name);
    const known = this.#objects.get(name);
    if (!known || !isOlder(object, known)) {
      this.#objects.set(name, object);
    }
  }

  /** An object this replica deleted. */
  remove(name: string): void {
    const known = this.#objects.get(name);
    this.#deleted.set(name, known?.metadata.resourceVersion ?? "");
    this.#objects.delete(name);
  }

  #seen(raw: KubernetesObject): void {
    let object: T;
    try {
      object = this.#options.parse(raw);
    } catch (error) {
      this.#options.onError(
        new Error(`${this.#options.path}/${raw.metadata?.name ?? "?"} is not usable`, {
          cause: error,
        }),
      );
      return;
    }
    const name = object.metadata.name ?? "";
    const deletedAt = this.#deleted.get(name);
    if (deletedAt !== undefined) {
      if (!newer(object.metadata.resourceVersion, deletedAt)) {
        return;
      }
      this.#deleted.delete(name);
    }
    const known = this.#objects.get(name);
    if (known && !newer(object.metadata.resourceVersion, known.metadata.resourceVersion)) {
      return;
    }
    this.#objects.set(name, object);
    this.#emit(name, object);
  }

  #gone(raw: KubernetesObject): void {
    const name = raw.metadata?.name ?? "";
    if (this.#objects.delete(name)) {
      this.#emit(name, undefined);
    }
  }

  #emit(name: string, object: T | undefined): void {
    for (const listener of this.#listeners) {
      try {
        listener(name, object);
      } catch (error) {
        this.#options.onError(error);
      }
    }
  }
}

/** Resource versions are etcd revisions: numbers that grow (compared only for one object). */
function newer(candidate: string | undefined, known: string | undefined): boolean {
  const a = Number(candidate);
  const b = Number(known);
  if (!Number.isFinite(a) || !Number.isFinite(b) || known === "" || known === undefined) {
    return candidate !== known;
  }
  return a > b;
}

function isOlder(object: Named, known: Named): boolean {
  return (
    object.metadata.resourceVersion !== known.metadata.resourceVersion &&
    !newer(object.metadata.resourceVersion, known.metadata.resourceVersion)
  );
}
