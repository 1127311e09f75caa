/**
 * Making a function's next FunctionRevision, the one way the gateway's store and the operator
 * both do it. The number is the highest existing one plus one; the object name
 * (`<function>-r<number>`) is the lock: a create answered 409 means another writer took that
 * number, so the next one is tried. Nothing is read-modify-written, so no counter can be lost.
 */
import { ApiException, type CustomObjectsApi } from "@kubernetes/client-node";
import { kinds, labels, partOf, runletApiVersion, runletGroup, runletVersion } from "./names.js";
import {
  revisionObjectName,
  revisionResourceSpecSchema,
  type FunctionRevisionObject,
  type RevisionSnapshot,
} from "./resources.js";

export interface CreateRevisionOptions {
  readonly api: CustomObjectsApi;
  readonly namespace: string;
  /** The Function the revision belongs to: its owner, deleted with it. */
  readonly owner: { readonly name: string; readonly uid: string };
  readonly snapshot: RevisionSnapshot;
  /** The revision's identity (revisionHash with its triggers). */
  readonly hash: string;
  /** fieldManagers.gateway or fieldManagers.operator (names.ts). */
  readonly fieldManager: string;
  /**
   * When the newest revision already has `hash`, return it instead of making another: a
   * reconcile that runs twice, or two operators racing, end with one revision. The gateway's
   * deploy leaves it off (a deploy makes a new revision, as embedded).
   * @default false
   */
  readonly reuseLatest?: boolean;
  /** A number known to be taken already (from a cache), so the first try skips past it. */
  readonly atLeast?: number;
  /** Tries at a free number before giving up. @default 20 */
  readonly attempts?: number;
}

export async function createRevision(
  options: CreateRevisionOptions,
): Promise<FunctionRevisionObject> {
  const { api, namespace, owner } = options;
  const plural = kinds.revision.plural;
  const target = { group: runletGroup, version: runletVersion, namespace, plural };
  const existing = await listRevisions(api, namespace, owner.name);
  const latest = existing.at(-1);
  if (options.reuseLatest && latest?.spec.hash === options.hash) {
    return latest;
  }
  let number = Math.max(latest?.spec.revision ?? 0, options.atLeast ?? 0) + 1;
  const attempts = options.attempts ?? 20;
  for (let attempt = 1; ; attempt++) {
    const body: FunctionRevisionObject = {
      apiVersion: runletApiVersion,
      kind: kinds.revision.kind,
      metadata: {
        name: revisionObjectName(owner.name, number),
        labels: {
          [labels.function]: owner.name,
          [labels.revision]: String(number),
          [labels.partOf]: partOf,
          [labels.managedBy]: options.fieldManager,
        },
        ownerReferences: [
          {
            apiVersion: runletApiVersion,
            kind: kinds.function.kind,
            name: owner.name,
            uid: owner.uid,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: {
        function: owner.name,
        revision: number,
        hash: options.hash,
        spec: options.snapshot,
      },
    };
    try {
      const created: unknown = await api.createNamespacedCustomObject({
        ...target,
        body,
        fieldManager: options.fieldManager,
      });
      return parseRevision(created);
    } catch (error) {
      if (!isConflict(error) || attempt >= attempts) {
        throw error;
      }
    }
    if (options.reuseLatest) {
      const taken = await readRevision(api, namespace, revisionObjectName(owner.name, number));
      if (taken?.spec.hash === options.hash) {
        return taken;
      }
    }
    number += 1;
  }
}

/** A function's revisions, oldest first, read from the API server (not a cache). */
export async function listRevisions(
  api: CustomObjectsApi,
  namespace: string,
  functionName: string,
): Promise<FunctionRevisionObject[]> {
  const list = (await api.listNamespacedCustomObject({
    group: runletGroup,
    version: runletVersion,
    namespace,
    plural: kinds.revision.plural,
    labelSelector: `${labels.function}=${functionName}`,
  })) as { items?: unknown[] };
  return (list.items ?? [])
    .map(parseRevision)
    .filter((r) => r.spec.function === functionName)
    .sort((a, b) => a.spec.revision - b.spec.revision);
}

async function readRevision(
  api: CustomObjectsApi,
  namespace: string,
  name: string,
): Promise<FunctionRevisionObject | undefined> {
  try {
    return parseRevision(
      await api.getNamespacedCustomObject({
        group: runletGroup,
        version: runletVersion,
        namespace,
        plural: kinds.revision.plural,
        name,
      }),
    );
  } catch (error) {
    if (error instanceof ApiException && error.code === 404) {
      return undefined;
    }
    throw error;
  }
}

/** A FunctionRevision from the API, its spec checked. */
export function parseRevision(value: unknown): FunctionRevisionObject {
  const object = value as FunctionRevisionObject;
  return { ...object, spec: revisionResourceSpecSchema.parse(object.spec) };
}

/** 409 AlreadyExists (a create) or Conflict (an update with a stale resourceVersion). */
export function isConflict(error: unknown): boolean {
  return error instanceof ApiException && error.code === 409;
}
