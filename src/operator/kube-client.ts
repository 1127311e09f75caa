/**
 * A small JSON client for the Kubernetes API: the few verbs the operator uses (get, paged list,
 * watch as a stream of events, server-side apply, create, update, delete), on any resource
 * path. Configuration (kubeconfig or in-cluster) and credentials come from
 * @kubernetes/client-node's KubeConfig; requests go through undici.
 *
 * Why not client-node's typed APIs: its ListWatch stops for good on any error but 410 and never
 * pages a list, its Watch has no way to bound a watch's length, and its object API cannot apply
 * to the status subresource. Each of those is one request here.
 */
import { KubeConfig } from "@kubernetes/client-node";
import { Agent, request, type Dispatcher } from "undici";

/** Where a kind's objects live in the API. */
export interface ResourceType {
  /** "" for the core group. */
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly kind: string;
  readonly namespaced: boolean;
}

export function apiVersionOf(type: ResourceType): string {
  return type.group === "" ? type.version : `${type.group}/${type.version}`;
}

/** The collection path (namespace undefined: across every namespace). */
export function collectionPath(type: ResourceType, namespace?: string): string {
  const root = type.group === "" ? `/api/${type.version}` : `/apis/${type.group}/${type.version}`;
  return type.namespaced && namespace !== undefined
    ? `${root}/namespaces/${encodeURIComponent(namespace)}/${type.plural}`
    : `${root}/${type.plural}`;
}

export function objectPath(
  type: ResourceType,
  namespace: string | undefined,
  name: string,
  subresource?: "status",
): string {
  const path = `${collectionPath(type, namespace)}/${encodeURIComponent(name)}`;
  return subresource === undefined ? path : `${path}/${subresource}`;
}

/** The metadata every object carries, as far as the operator reads it. */
export interface ObjectMeta {
  readonly name: string;
  readonly namespace?: string;
  readonly uid: string;
  readonly resourceVersion: string;
  readonly generation?: number;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly finalizers?: readonly string[];
  readonly deletionTimestamp?: string;
  readonly creationTimestamp?: string;
  readonly ownerReferences?: readonly OwnerReference[];
}

export interface OwnerReference {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly uid: string;
  readonly controller?: boolean;
  readonly blockOwnerDeletion?: boolean;
}

export interface KubeObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata: ObjectMeta;
  readonly [field: string]: unknown;
}

export interface ObjectList<T extends KubeObject = KubeObject> {
  readonly items: readonly T[];
  readonly metadata: { readonly resourceVersion: string; readonly continue?: string };
}

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";

export interface WatchEvent {
  readonly type: WatchEventType;
  /** An object, or a Status for ERROR. */
  readonly object: Record<string, unknown>;
}

/** The API server's answer when it was not 2xx: its Status, with the HTTP code. */
export class KubeApiError extends Error {
  readonly code: number;
  /** The Status reason, e.g. "NotFound", "Conflict", "Expired", "AlreadyExists". */
  readonly reason: string;

  constructor(code: number, reason: string, message: string, what: string) {
    super(`${what}: ${String(code)} ${reason}: ${message}`);
    this.name = "KubeApiError";
    this.code = code;
    this.reason = reason;
  }
}

export function isNotFound(error: unknown): boolean {
  return error instanceof KubeApiError && error.code === 404;
}

export function isConflict(error: unknown): boolean {
  return error instanceof KubeApiError && error.code === 409;
}

/** 410 Gone: the resourceVersion asked for is older than the server keeps. */
export function isGone(error: unknown): boolean {
  return error instanceof KubeApiError && error.code === 410;
}

export interface ListOptions {
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  /** Objects per page. */
  readonly limit?: number;
  readonly continue?: string;
}

export interface WatchOptions {
  readonly resourceVersion: string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  /** The server ends the watch after this long (the caller watches again from where it was). */
  readonly timeoutSeconds: number;
}

export interface ApplyOptions {
  readonly fieldManager: string;
  /** Take fields another manager owns (what a controller does for the fields it is the authority on). @default true */
  readonly force?: boolean;
  readonly subresource?: "status";
}

export interface DeleteOptions {
  readonly propagationPolicy?: "Foreground" | "Background" | "Orphan";
  /** Delete only this incarnation of the name. */
  readonly uid?: string;
}

export interface KubeClientOptions {
  readonly kubeConfig: KubeConfig;
  /**
   * How long one request (but a watch) may take.
   * @default 30_000
   */
  readonly requestTimeoutMs?: number;
}

/** Loads a kubeconfig file, or the pod's service account when `kubeconfigPath` is undefined and the process runs in a pod. */
export function loadKubeConfig(kubeconfigPath?: string): KubeConfig {
  const kc = new KubeConfig();
  if (kubeconfigPath !== undefined) {
    kc.loadFromFile(kubeconfigPath);
  } else if (process.env["KUBERNETES_SERVICE_HOST"] !== undefined) {
    kc.loadFromCluster();
  } else {
    kc.loadFromDefault();
  }
  return kc;
}

export class KubeClient {
  readonly #kc: KubeConfig;
  readonly #server: string;
  readonly #requestTimeoutMs: number;
  #dispatcher: Promise<Dispatcher> | undefined;

  constructor(options: KubeClientOptions) {
    this.#kc = options.kubeConfig;
    const cluster = options.kubeConfig.getCurrentCluster();
    if (cluster === null) {
      throw new Error("the kubeconfig names no current cluster");
    }
    this.#server = cluster.server.replace(/\/+$/, "");
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  }

  get server(): string {
    return this.#server;
  }

  async get<T extends KubeObject>(path: string): Promise<T> {
    return (await this.#json("GET", path)) as T;
  }

  /** One page of a list. */
  async list<T extends KubeObject>(
    path: string,
    options: ListOptions = {},
  ): Promise<ObjectList<T>> {
    return (await this.#json("GET", path, { query: listQuery(options) })) as ObjectList<T>;
  }

  /** Every page of a list; the resourceVersion is the first page's (the snapshot all pages read). */
  async listAll<T extends KubeObject>(
    path: string,
    options: Omit<ListOptions, "continue"> = {},
  ): Promise<ObjectList<T>> {
    const items: T[] = [];
    let page = await this.list<T>(path, { limit: 500, ...options });
    const resourceVersion = page.metadata.resourceVersion;
    items.push(...page.items);
    while (page.metadata.continue !== undefined && page.metadata.continue !== "") {
      page = await this.list<T>(path, { limit: 500, ...options, continue: page.metadata.continue });
      items.push(...page.items);
    }
    return { items, metadata: { resourceVersion } };
  }

  async create<T extends KubeObject>(
    path: string,
    body: unknown,
    fieldManager: string,
  ): Promise<T> {
    return (await this.#json("POST", path, { body, query: { fieldManager } })) as T;
  }

  /** PUT: a read-modify-write, refused with 409 when the object changed since it was read. */
  async replace<T extends KubeObject>(
    path: string,
    body: unknown,
    fieldManager: string,
  ): Promise<T> {
    return (await this.#json("PUT", path, { body, query: { fieldManager } })) as T;
  }

  /**
   * Server-side apply: `body` holds exactly the fields this manager owns (apiVersion, kind and
   * metadata.name included); fields it owned before and left out are removed.
   */
  async apply<T extends KubeObject>(
    path: string,
    body: unknown,
    options: ApplyOptions,
  ): Promise<T> {
    const target = options.subresource === undefined ? path : `${path}/${options.subresource}`;
    return (await this.#json("PATCH", target, {
      body,
      contentType: "application/apply-patch+yaml",
      query: { fieldManager: options.fieldManager, force: String(options.force ?? true) },
    })) as T;
  }

  async delete(path: string, options: DeleteOptions = {}): Promise<void> {
    const body: Record<string, unknown> = { apiVersion: "v1", kind: "DeleteOptions" };
    if (options.propagationPolicy !== undefined) {
      body["propagationPolicy"] = options.propagationPolicy;
    }
    if (options.uid !== undefined) {
      body["preconditions"] = { uid: options.uid };
    }
    await this.#json("DELETE", path, { body });
  }

  /** Deletes every object of a collection that the selector matches. */
  async deleteCollection(path: string, labelSelector: string): Promise<void> {
    await this.#json("DELETE", path, {
      query: { labelSelector },
      body: { apiVersion: "v1", kind: "DeleteOptions", propagationPolicy: "Background" },
    });
  }

  /**
   * Watches `path` from `resourceVersion`, calling `onEvent` for each event, and resolves when
   * the server ends the watch (its timeout) or `signal` aborts. Rejects with a KubeApiError when
   * the server refuses the watch, e.g. 410 when the version is too old.
   */
  async watch(
    path: string,
    options: WatchOptions,
    onEvent: (event: WatchEvent) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const query: Record<string, string> = {
      watch: "true",
      allowWatchBookmarks: "true",
      resourceVersion: options.resourceVersion,
      timeoutSeconds: String(options.timeoutSeconds),
    };
    if (options.labelSelector !== undefined) {
      query["labelSelector"] = options.labelSelector;
    }
    if (options.fieldSelector !== undefined) {
      query["fieldSelector"] = options.fieldSelector;
    }
    const response = await this.#send("GET", path, { query, signal, timeoutMs: undefined });
    if (response.statusCode !== 200) {
      throw await apiError(response, `watch ${path}`);
    }
    let buffered = "";
    try {
      for await (const chunk of response.body) {
        buffered += (chunk as Buffer).toString("utf8");
        let newline = buffered.indexOf("\n");
        while (newline >= 0) {
          const line = buffered.slice(0, newline).trim();
          buffered = buffered.slice(newline + 1);
          if (line !== "") {
            onEvent(JSON.parse(line) as WatchEvent);
          }
          newline = buffered.indexOf("\n");
        }
      }
    } catch (error) {
      if (signal.aborted) {
        return;
      }
      throw error;
    }
  }

  async close(): Promise<void> {
    const dispatcher = this.#dispatcher;
    this.#dispatcher = undefined;
    if (dispatcher !== undefined) {
      await (await dispatcher).close();
    }
  }

  async #json(
    method: Dispatcher.HttpMethod,
    path: string,
    options: {
      readonly query?: Record<string, string>;
      readonly body?: unknown;
      readonly contentType?: string;
    } = {},
  ): Promise<unknown> {
    const response = await this.#send(method, path, {
      ...options,
      signal: undefined,
      timeoutMs: this.#requestTimeoutMs,
    });
    if (response.statusCode < 200 || response.statusCode >= 300) {
      throw await apiError(response, `${method} ${path}`);
    }
    const text = await response.body.text();
    return text === "" ? undefined : (JSON.parse(text) as unknown);
  }

  async #send(
    method: Dispatcher.HttpMethod,
    path: string,
    options: {
      readonly query?: Record<string, string>;
      readonly body?: unknown;
      readonly contentType?: string;
      readonly signal: AbortSignal | undefined;
      readonly timeoutMs: number | undefined;
    },
  ): Promise<Dispatcher.ResponseData> {
    // Asked each time: a service account's token file is rotated under a running pod.
    const auth: { headers?: Record<string, unknown>; auth?: string } = {};
    await this.#kc.applyToHTTPSOptions(auth);
    const headers: Record<string, string> = { accept: "application/json" };
    for (const [key, value] of Object.entries(auth.headers ?? {})) {
      if (typeof value === "string") {
        headers[key.toLowerCase()] = value;
      }
    }
    if (auth.auth !== undefined) {
      headers["authorization"] = `Basic ${Buffer.from(auth.auth).toString("base64")}`;
    }
    let body: string | undefined;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers["content-type"] = options.contentType ?? "application/json";
    }
    const url = new URL(this.#server + path);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      url.searchParams.set(key, value);
    }
    return request(url, {
      method,
      headers,
      body,
      dispatcher: await this.#agent(),
      signal: options.signal,
      // A watch is quiet for minutes between events; its length is bounded by timeoutSeconds.
      headersTimeout: options.timeoutMs ?? 60_000,
      bodyTimeout: options.timeoutMs ?? 0,
    });
  }

  #agent(): Promise<Dispatcher> {
    this.#dispatcher ??= (async () => {
      const tls: {
        ca?: string | Buffer;
        cert?: string | Buffer;
        key?: string | Buffer;
        rejectUnauthorized?: boolean;
      } = {};
      await this.#kc.applyToHTTPSOptions(tls);
      return new Agent({
        connect: {
          ...(tls.ca === undefined ? {} : { ca: tls.ca }),
          ...(tls.cert === undefined ? {} : { cert: tls.cert }),
          ...(tls.key === undefined ? {} : { key: tls.key }),
          ...(tls.rejectUnauthorized === undefined
            ? {}
            : { rejectUnauthorized: tls.rejectUnauthorized }),
        },
        keepAliveTimeout: 30_000,
        // Watches hold their connection for minutes; requests should not queue behind them.
        connections: 64,
      });
    })();
    return this.#dispatcher;
  }
}

function listQuery(options: ListOptions): Record<string, string> {
  const query: Record<string, string> = {};
  if (options.labelSelector !== undefined) {
    query["labelSelector"] = options.labelSelector;
  }
  if (options.fieldSelector !== undefined) {
    query["fieldSelector"] = options.fieldSelector;
  }
  if (options.limit !== undefined) {
    query["limit"] = String(options.limit);
  }
  if (options.continue !== undefined) {
    query["continue"] = options.continue;
  }
  return query;
}

async function apiError(response: Dispatcher.ResponseData, what: string): Promise<KubeApiError> {
  const text = await response.body.text().catch(() => "");
  let reason = "";
  let message = text.slice(0, 500);
  try {
    const status = JSON.parse(text) as { reason?: unknown; message?: unknown };
    reason = typeof status.reason === "string" ? status.reason : "";
    message = typeof status.message === "string" ? status.message : message;
  } catch {
    // Not a Status (a proxy's answer): keep the text.
  }
  return new KubeApiError(response.statusCode, reason, message, what);
}
