/**
 * An informer: a local cache of one kind's objects, kept by a paged list and then a watch from
 * the list's resourceVersion, watched again from the last version seen whenever the server ends
 * the watch, and listed again when the server says that version is gone (410: its history was
 * compacted or its watch cache rebuilt). Every change, and every object again on each resync,
 * is handed to the handlers as the object's key.
 */
import { setTimeout as delay } from "node:timers/promises";
import {
  apiVersionOf,
  collectionPath,
  isGone,
  KubeApiError,
  type KubeClient,
  type KubeObject,
  type ResourceType,
  type WatchEvent,
} from "./kube-client.js";

/** "namespace/name", or "name" for a cluster-scoped object: the work queue's key. */
export function objectKey(object: { readonly metadata: KubeObject["metadata"] }): string {
  const { namespace, name } = object.metadata;
  return namespace === undefined || namespace === "" ? name : `${namespace}/${name}`;
}

export function splitKey(key: string): { namespace: string | undefined; name: string } {
  const slash = key.indexOf("/");
  return slash < 0
    ? { namespace: undefined, name: key }
    : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

export type InformerHandler<T extends KubeObject> = (
  key: string,
  current: T | undefined,
  previous: T | undefined,
) => void;

export interface InformerOptions {
  readonly client: KubeClient;
  readonly type: ResourceType;
  /** Only this namespace. @default every namespace */
  readonly namespace?: string;
  readonly labelSelector?: string;
  /**
   * How long the server keeps one watch open; a little is added at random so replicas do not
   * watch again in step.
   * @default 300
   */
  readonly watchTimeoutSeconds?: number;
  /**
   * Hand every cached object to the handlers again this often (a level-triggered safety net
   * for a change a handler missed). 0: never.
   * @default 0
   */
  readonly resyncMs?: number;
  /** Pause after a failed list or watch, doubling up to `maxRetryMs`. @default 200 */
  readonly retryMs?: number;
  /** @default 30_000 */
  readonly maxRetryMs?: number;
  /** Told about each failure the informer retries (for logs). */
  readonly onError?: (error: unknown) => void;
}

export class Informer<T extends KubeObject> {
  readonly type: ResourceType;
  readonly #options: InformerOptions;
  readonly #cache = new Map<string, T>();
  readonly #handlers: InformerHandler<T>[] = [];
  readonly #abort = new AbortController();
  #resourceVersion = "";
  #synced = false;
  #syncWaiters: (() => void)[] = [];
  #running: Promise<void> | undefined;
  #resyncTimer: NodeJS.Timeout | undefined;
  /** Full lists made (the first one included). */
  lists = 0;
  /** Lists made because the server answered 410 Gone. */
  relistsAfterGone = 0;

  constructor(options: InformerOptions) {
    this.type = options.type;
    this.#options = options;
  }

  /** Called for every add, update and delete, and on resyncs. */
  onChange(handler: InformerHandler<T>): void {
    this.#handlers.push(handler);
  }

  get(key: string): T | undefined {
    return this.#cache.get(key);
  }

  list(): T[] {
    return [...this.#cache.values()];
  }

  keys(): string[] {
    return [...this.#cache.keys()];
  }

  get size(): number {
    return this.#cache.size;
  }

  get hasSynced(): boolean {
    return this.#synced;
  }

  /** The last resourceVersion seen (a list's, an event's or a bookmark's). */
  get resourceVersion(): string {
    return this.#resourceVersion;
  }

  start(): void {
    this.#running ??= this.#run();
    const resync = this.#options.resyncMs ?? 0;
    if (resync > 0) {
      this.#resyncTimer = setInterval(() => {
        for (const [key, object] of this.#cache) {
          this.#emit(key, object, object);
        }
      }, resync);
      this.#resyncTimer.unref();
    }
  }

  /** Resolves once the first list is in the cache. */
  async synced(signal?: AbortSignal): Promise<void> {
    if (this.#synced) {
      return;
    }
    await new Promise<void>((resolve, reject) => {
      this.#syncWaiters.push(resolve);
      signal?.addEventListener("abort", () => reject(signal.reason as Error), { once: true });
    });
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    clearInterval(this.#resyncTimer);
    await this.#running;
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    const baseRetry = this.#options.retryMs ?? 200;
    const maxRetry = this.#options.maxRetryMs ?? 30_000;
    let retry = baseRetry;
    while (!signal.aborted) {
      try {
        if (this.#resourceVersion === "") {
          await this.#list();
        }
        await this.#watch(signal);
        retry = baseRetry;
      } catch (error) {
        if (signal.aborted) {
          return;
        }
        if (isGone(error)) {
          // The history we would resume from is gone: only a new list is a true picture.
          this.relistsAfterGone += 1;
          this.#resourceVersion = "";
          continue;
        }
        this.#options.onError?.(error);
        await delay(retry, undefined, { signal }).catch(() => undefined);
        retry = Math.min(retry * 2, maxRetry);
      }
    }
  }

  async #list(): Promise<void> {
    const { client, type, namespace, labelSelector } = this.#options;
    const list = await client.listAll<T>(collectionPath(type, namespace), {
      ...(labelSelector === undefined ? {} : { labelSelector }),
    });
    this.lists += 1;
    const seen = new Set<string>();
    for (const item of list.items) {
      // A list's items carry no apiVersion and kind; handlers may want them.
      const object = lean({ apiVersion: apiVersionOf(type), kind: type.kind, ...item } as T);
      const key = objectKey(object);
      seen.add(key);
      const previous = this.#cache.get(key);
      this.#cache.set(key, object);
      if (previous?.metadata.resourceVersion !== object.metadata.resourceVersion) {
        this.#emit(key, object, previous);
      }
    }
    // What the watch missed being deleted, while it could not see.
    for (const [key, previous] of [...this.#cache]) {
      if (!seen.has(key)) {
        this.#cache.delete(key);
        this.#emit(key, undefined, previous);
      }
    }
    this.#resourceVersion = list.metadata.resourceVersion;
    if (!this.#synced) {
      this.#synced = true;
      for (const resolve of this.#syncWaiters) {
        resolve();
      }
      this.#syncWaiters = [];
    }
  }

  async #watch(signal: AbortSignal): Promise<void> {
    const { client, type, namespace, labelSelector } = this.#options;
    const base = this.#options.watchTimeoutSeconds ?? 300;
    let gone: KubeApiError | undefined;
    await client.watch(
      collectionPath(type, namespace),
      {
        resourceVersion: this.#resourceVersion,
        timeoutSeconds: base + Math.floor(Math.random() * Math.max(1, base / 5)),
        ...(labelSelector === undefined ? {} : { labelSelector }),
      },
      (event) => {
        const failure = this.#apply(event);
        if (failure !== undefined) {
          gone ??= failure;
        }
      },
      signal,
    );
    if (gone !== undefined) {
      throw gone;
    }
  }

  /** Applies one watch event to the cache; returns the error an ERROR event carries. */
  #apply(event: WatchEvent): KubeApiError | undefined {
    if (event.type === "ERROR") {
      const status = event.object as { code?: unknown; reason?: unknown; message?: unknown };
      return new KubeApiError(
        typeof status.code === "number" ? status.code : 500,
        typeof status.reason === "string" ? status.reason : "",
        typeof status.message === "string" ? status.message : JSON.stringify(status),
        `watch ${collectionPath(this.type, this.#options.namespace)}`,
      );
    }
    const object = lean(event.object as unknown as T);
    const version = object.metadata.resourceVersion;
    if (event.type === "BOOKMARK") {
      this.#resourceVersion = version;
      return undefined;
    }
    const key = objectKey(object);
    const previous = this.#cache.get(key);
    if (event.type === "DELETED") {
      this.#cache.delete(key);
      this.#emit(key, undefined, previous ?? object);
    } else {
      this.#cache.set(key, object);
      this.#emit(key, object, previous);
    }
    this.#resourceVersion = version;
    return undefined;
  }

  #emit(key: string, current: T | undefined, previous: T | undefined): void {
    for (const handler of this.#handlers) {
      handler(key, current, previous);
    }
  }
}

/**
 * The object as cached: without metadata.managedFields, which no reconcile reads and which is
 * often the larger part of an object (a field set per manager and subresource).
 */
function lean<T extends KubeObject>(object: T): T {
  if (!("managedFields" in object.metadata)) {
    return object;
  }
  const { managedFields: _managedFields, ...metadata } =
    object.metadata as KubeObject["metadata"] & {
      managedFields?: unknown;
    };
  return { ...object, metadata };
}
