/**
 * Functions and revisions as Function and FunctionRevision objects on the API server (issue
 * 16), so gateway replicas keep no state of their own. Reads come from informer caches that
 * each write goes through. Which revision serves: `spec.activeRevision` (a deploy or rollback
 * through the API sets it), else `status.activeRevision` (the operator sets it for a Function
 * applied with kubectl, once it has made that spec's revision). The gateway writes the spec,
 * the `runlet.dev/activated-at` annotation and the Function's revisions; the status is the
 * operator's (function-controller.ts).
 */
import type { FunctionSpec } from "../../spec/function-spec.js";
import {
  annotations,
  fieldManagers,
  kinds,
  labels,
  partOf,
  runletApiVersion,
} from "../../kubernetes/names.js";
import {
  functionResourceSpecSchema,
  functionStatusSchema,
  revisionObjectName,
  specOfSnapshot,
  toFunctionResourceSpec,
  toResourceSnapshot,
  type FunctionObject,
  type FunctionRevisionObject,
} from "../../kubernetes/resources.js";
import { createRevision, parseRevision } from "../../kubernetes/revisions.js";
import type { FunctionRecord, FunctionStore, RevisionRecord } from "../function-store.js";
import {
  NamespaceClient,
  isNotFound,
  jsonPatch,
  setAnnotation,
  timeOf,
  type KubernetesStoreOptions,
} from "./api-client.js";
import { ResourceCache } from "./resource-cache.js";

export class KubernetesFunctionStore implements FunctionStore {
  readonly #client: NamespaceClient;
  readonly #functions: ResourceCache<FunctionObject>;
  readonly #revisions: ResourceCache<FunctionRevisionObject>;

  private constructor(options: KubernetesStoreOptions) {
    const client = new NamespaceClient(options.kubeConfig, options.namespace);
    this.#client = client;
    this.#functions = new ResourceCache({
      kubeConfig: options.kubeConfig,
      path: client.path(kinds.function.plural),
      list: () =>
        client.custom.listNamespacedCustomObject(client.target(kinds.function.plural)) as Promise<{
          items: unknown[];
        }>,
      parse: parseFunction,
      onError: options.onError,
    });
    this.#revisions = new ResourceCache({
      kubeConfig: options.kubeConfig,
      path: client.path(kinds.revision.plural),
      list: () =>
        client.custom.listNamespacedCustomObject(client.target(kinds.revision.plural)) as Promise<{
          items: unknown[];
        }>,
      parse: parseRevision,
      onError: options.onError,
    });
  }

  /** Lists both resources and watches them; resolves once the caches are filled. */
  static async open(options: KubernetesStoreOptions): Promise<KubernetesFunctionStore> {
    const store = new KubernetesFunctionStore(options);
    await Promise.all([store.#functions.start(), store.#revisions.start()]);
    return store;
  }

  async close(): Promise<void> {
    await Promise.all([this.#functions.stop(), this.#revisions.stop()]);
  }

  get(name: string): FunctionRecord | undefined {
    const fn = this.#live(name);
    const number = fn ? activeNumber(fn) : undefined;
    const active = number === undefined ? undefined : this.revision(name, number);
    if (!fn || !active) {
      return undefined;
    }
    const createdAt = timeOf(fn.metadata.creationTimestamp);
    const activatedAt = Number(fn.metadata.annotations?.[annotations.activatedAt]);
    return {
      name,
      createdAt,
      updatedAt: Number.isFinite(activatedAt) ? activatedAt : createdAt,
      active,
    };
  }

  list(): FunctionRecord[] {
    return this.#functions
      .list()
      .map((fn) => this.get(fn.metadata.name ?? ""))
      .filter((record): record is FunctionRecord => record !== undefined)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  revisions(name: string): RevisionRecord[] {
    const fn = this.#live(name);
    return this.#revisions
      .list()
      .filter((r) => belongsTo(r, name, fn))
      .map(toRecord)
      .sort((a, b) => a.number - b.number);
  }

  revision(name: string, number: number): RevisionRecord | undefined {
    const object = this.#revisions.get(revisionObjectName(name, number));
    return object && belongsTo(object, name, this.#live(name)) ? toRecord(object) : undefined;
  }

  referencedPackages(): Set<string> {
    const digests = new Set(this.#revisions.list().map((r) => r.spec.spec.package));
    // A Function applied with kubectl names its package before any revision does.
    for (const fn of this.#functions.list()) {
      digests.add(fn.spec.package);
    }
    return digests;
  }

  async addRevision(
    name: string,
    spec: FunctionSpec,
    packageDigest: string,
    hash: string,
  ): Promise<RevisionRecord> {
    const { fn, made } = await this.#ensureFunction(name, spec, packageDigest);
    const known = this.revisions(name).at(-1)?.number;
    const created = await createRevision({
      api: this.#client.custom,
      namespace: this.#client.namespace,
      owner: { name, uid: fn.metadata.uid ?? "" },
      snapshot: toResourceSnapshot(spec, packageDigest),
      hash,
      fieldManager: fieldManagers.gateway,
      // A Function made just now may already have this spec's revision from the operator,
      // which reconciles every new spec: that one is this deploy's revision, not a twin.
      reuseLatest: made,
      ...(known === undefined ? {} : { atLeast: known }),
    });
    this.#revisions.put(created);
    return toRecord(created);
  }

  async discardRevision(name: string, number: number): Promise<void> {
    const objectName = revisionObjectName(name, number);
    await this.#delete(kinds.revision.plural, objectName);
    this.#revisions.remove(objectName);
    const fn = this.#live(name);
    if (fn && activeNumber(fn) === undefined) {
      // Never served: the function goes too, as it never existed.
      await this.#delete(kinds.function.plural, name);
      this.#functions.remove(name);
    }
  }

  /**
   * Points the Function at a revision. Activating the newest revision (a deploy, a scale) also
   * makes the Function's spec that revision's; an older one (a rollback) only moves
   * `spec.activeRevision`, so the spec stays the newest revision's and the operator, which
   * makes a revision for each spec it has not seen, makes none.
   */
  async activate(name: string, number: number): Promise<void> {
    const fn = this.#live(name);
    const revision = this.revision(name, number);
    if (!fn || !revision) {
      throw new Error(`function ${name} has no revision ${number} to activate`);
    }
    const newest = Math.max(...this.revisions(name).map((r) => r.number));
    const change =
      number === newest
        ? {
            op: "replace",
            path: "/spec",
            value: toFunctionResourceSpec(revision.spec, revision.packageDigest, number),
          }
        : { op: "add", path: "/spec/activeRevision", value: number };
    const patched: unknown = await this.#client.custom.patchNamespacedCustomObject(
      {
        ...this.#client.target(kinds.function.plural),
        name,
        fieldManager: fieldManagers.gateway,
        body: [
          change,
          setAnnotation(fn.metadata.annotations, annotations.activatedAt, String(Date.now())),
        ],
      },
      jsonPatch,
    );
    this.#functions.put(parseFunction(patched));
  }

  async remove(name: string): Promise<boolean> {
    if (!this.#live(name)) {
      return false;
    }
    const removed = await this.#delete(kinds.function.plural, name);
    // Owned revisions would go with it by garbage collection; they go now, so a function made
    // again under the same name starts without them.
    await this.#client.custom.deleteCollectionNamespacedCustomObject({
      ...this.#client.target(kinds.revision.plural),
      labelSelector: `${labels.function}=${name}`,
    });
    this.#functions.remove(name);
    for (const revision of this.#revisions.list()) {
      if (revision.spec.function === name) {
        this.#revisions.remove(revision.metadata.name ?? "");
      }
    }
    return removed;
  }

  onChange(listener: (name: string) => void): () => void {
    const offFunctions = this.#functions.onChange((name) => listener(name));
    const offRevisions = this.#revisions.onChange((objectName, object) =>
      listener(object?.spec.function ?? objectName.replace(/-r\d+$/, "")),
    );
    return () => {
      offFunctions();
      offRevisions();
    };
  }

  /** The Function, unless it is being deleted (a finalizer may keep it a while). */
  #live(name: string): FunctionObject | undefined {
    const fn = this.#functions.get(name);
    return fn && fn.metadata.deletionTimestamp === undefined ? fn : undefined;
  }

  /** The Function a first revision needs as its owner; made (not yet serving) when new. */
  async #ensureFunction(
    name: string,
    spec: FunctionSpec,
    packageDigest: string,
  ): Promise<{ fn: FunctionObject; made: boolean }> {
    const cached = this.#live(name);
    if (cached) {
      return { fn: cached, made: false };
    }
    const body: FunctionObject = {
      apiVersion: runletApiVersion,
      kind: kinds.function.kind,
      metadata: {
        name,
        // The gateway makes this Function's revisions; the operator makes none for it.
        labels: { [labels.partOf]: partOf, [labels.managedBy]: fieldManagers.gateway },
      },
      spec: toFunctionResourceSpec(spec, packageDigest, undefined),
    };
    let object: unknown;
    let made = true;
    try {
      object = await this.#client.custom.createNamespacedCustomObject({
        ...this.#client.target(kinds.function.plural),
        body,
        fieldManager: fieldManagers.gateway,
      });
    } catch (error) {
      if (!(error instanceof Error && "code" in error && error.code === 409)) {
        throw error;
      }
      // Made meanwhile by another replica (or not yet in this cache).
      made = false;
      object = await this.#client.custom.getNamespacedCustomObject({
        ...this.#client.target(kinds.function.plural),
        name,
      });
    }
    const fn = parseFunction(object);
    this.#functions.put(fn);
    return { fn, made };
  }

  async #delete(plural: string, name: string): Promise<boolean> {
    try {
      await this.#client.custom.deleteNamespacedCustomObject({
        ...this.#client.target(plural),
        name,
        propagationPolicy: "Background",
      });
      return true;
    } catch (error) {
      if (isNotFound(error)) {
        return false;
      }
      throw error;
    }
  }
}

/** A Function from the API, its spec and status checked. */
export function parseFunction(value: unknown): FunctionObject {
  const object = value as FunctionObject;
  return {
    ...object,
    spec: functionResourceSpecSchema.parse(object.spec),
    ...(object.status === undefined ? {} : { status: functionStatusSchema.parse(object.status) }),
  };
}

function activeNumber(fn: FunctionObject): number | undefined {
  return fn.spec.activeRevision ?? fn.status?.activeRevision;
}

/** A revision of this Function, not of an earlier one of the same name still being collected. */
function belongsTo(
  revision: FunctionRevisionObject,
  name: string,
  fn: FunctionObject | undefined,
): boolean {
  if (revision.spec.function !== name || !fn) {
    return false;
  }
  const owner = revision.metadata.ownerReferences?.find((o) => o.kind === kinds.function.kind);
  return owner === undefined || owner.uid === fn.metadata.uid;
}

function toRecord(object: FunctionRevisionObject): RevisionRecord {
  const { spec, packageDigest } = specOfSnapshot(object.spec.spec);
  return {
    functionName: object.spec.function,
    number: object.spec.revision,
    spec,
    packageDigest,
    hash: object.spec.hash,
    createdAt: timeOf(object.metadata.creationTimestamp),
  };
}
