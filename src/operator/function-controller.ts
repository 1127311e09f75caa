/**
 * Reconciles a runlet.dev Function (issue 16): checks its spec (schema, exec fields, secrets,
 * package), makes the immutable FunctionRevision for each new spec through createRevision,
 * and writes the operator's part of the status (observedGeneration, the Ready, Progressing and
 * Degraded conditions, activeRevision, latestRevision, url) by server-side apply on the status
 * subresource. A finalizer holds a deleted Function until its revisions and pods are gone.
 *
 * Field ownership (server-side apply managers, names.ts): the operator owns the three
 * conditions, observedGeneration, activeRevision, latestRevision and url; function-replicas.ts
 * owns replicas. Neither writes the other's fields, so neither's apply removes them.
 */
import type { CustomObjectsApi } from "@kubernetes/client-node";
import {
  fieldManagers,
  functionFinalizer,
  kinds,
  labels,
  runletApiVersion,
} from "../kubernetes/names.js";
import {
  describeIssues,
  functionResourceSpecSchema,
  type Condition,
  type ConditionType,
  type FunctionObject,
  type FunctionResourceSpec,
  type FunctionRevisionObject,
  type FunctionStatus,
} from "../kubernetes/resources.js";
import { createRevision } from "../kubernetes/revisions.js";
import { execFieldProblems, resolveFunctionConfig, revisionHash } from "../spec/function-spec.js";
import { triggersHash } from "../spec/trigger-spec.js";
import type { ReconcileResult, Reconciler } from "./controller.js";
import { splitKey, type Informer } from "./informer.js";
import {
  collectionPath,
  isNotFound,
  objectPath,
  type KubeClient,
  type KubeObject,
  type ResourceType,
} from "./kube-client.js";

export const functionType: ResourceType = {
  group: "runlet.dev",
  version: "v1alpha1",
  plural: kinds.function.plural,
  kind: kinds.function.kind,
  namespaced: true,
};

export const revisionType: ResourceType = {
  group: "runlet.dev",
  version: "v1alpha1",
  plural: kinds.revision.plural,
  kind: kinds.revision.kind,
  namespaced: true,
};

export const podType: ResourceType = {
  group: "",
  version: "v1",
  plural: "pods",
  kind: "Pod",
  namespaced: true,
};

export const secretType: ResourceType = {
  group: "",
  version: "v1",
  plural: "secrets",
  kind: "Secret",
  namespaced: true,
};

/** Whether the gateway has a package (HEAD /api/v1/packages/DIGEST); undefined: cannot tell. */
export type PackageCheck = (digest: string) => Promise<boolean | undefined>;

export interface FunctionControllerOptions {
  readonly client: KubeClient;
  /** For createRevision (the helper the gateway's store shares). */
  readonly customObjects: CustomObjectsApi;
  readonly functions: Informer<KubeObject>;
  readonly revisions: Informer<KubeObject>;
  /** Asks the gateway whether a package exists; without it packages are not checked. */
  readonly packageExists?: PackageCheck;
  /**
   * How soon a Function that waits on something outside the API server's events (a secret or
   * a package not there yet) is looked at again.
   * @default 15_000
   */
  readonly recheckMs?: number;
  /**
   * Where the function's pods run (the Kubernetes provider's namespace).
   * @default the Function's own namespace
   */
  readonly podNamespace?: string;
  /** How soon a deleted Function is looked at again while its revisions and pods go. @default 1_000 */
  readonly cleanupRecheckMs?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

/** What the checks found wrong with a Function, as its Degraded condition says it. */
interface Problem {
  readonly reason: string;
  readonly message: string;
  /** Fixed by something the operator does not watch (a Secret, an upload): look again later. */
  readonly recheck: boolean;
}

export class FunctionReconciler implements Reconciler {
  readonly name = "functions";
  readonly #o: FunctionControllerOptions;

  constructor(options: FunctionControllerOptions) {
    this.#o = options;
  }

  async reconcile(key: string): Promise<ReconcileResult | undefined> {
    const object = this.#o.functions.get(key) as FunctionObject | undefined;
    if (object === undefined) {
      // Gone: its revisions went with it (the finalizer saw to that, or the garbage collector).
      return undefined;
    }
    const { namespace = "", name } = splitKey(key);
    if (object.metadata.deletionTimestamp !== undefined) {
      return this.#cleanUp(object, namespace, name);
    }
    if (!(object.metadata.finalizers ?? []).includes(functionFinalizer)) {
      await this.#o.client.apply(
        objectPath(functionType, namespace, name),
        {
          apiVersion: runletApiVersion,
          kind: kinds.function.kind,
          metadata: { name, namespace, finalizers: [functionFinalizer] },
        },
        { fieldManager: fieldManagers.operator },
      );
      // The informer brings the updated object back; the rest happens on that reconcile.
      return undefined;
    }
    const generation = object.metadata.generation ?? 0;
    const parsed = functionResourceSpecSchema.safeParse(object.spec);
    if (!parsed.success) {
      await this.#writeStatus(object, generation, {
        problem: { reason: "InvalidSpec", message: describeIssues(parsed.error), recheck: false },
      });
      return undefined;
    }
    const spec = parsed.data;
    const problem = await this.#check(spec, namespace);
    if (problem !== undefined) {
      await this.#writeStatus(object, generation, { problem });
      return problem.recheck ? { requeueAfterMs: this.#o.recheckMs ?? 15_000 } : undefined;
    }
    const { activeRevision: wanted, ...snapshot } = spec;
    const config = resolveFunctionConfig(snapshot);
    const hash = triggersHash(revisionHash(config, spec.package), spec.triggers);
    const known = this.#revisionsOf(namespace, name);
    const latestKnown = known.at(-1);
    // A spec that is the revision it names is that revision: the gateway writes the spec of
    // the revision it activates, and a rollback or a deploy in flight names an older one.
    const pinned = known.find((r) => r.spec.revision === wanted);
    let latest: number;
    if (latestKnown?.spec.hash === hash) {
      latest = latestKnown.spec.revision;
    } else if (pinned?.spec.hash === hash && latestKnown) {
      latest = latestKnown.spec.revision;
    } else {
      const uid = object.metadata.uid ?? "";
      const created = await createRevision({
        api: this.#o.customObjects,
        namespace,
        owner: { name, uid },
        snapshot,
        hash,
        fieldManager: fieldManagers.operator,
        reuseLatest: true,
        ...(latestKnown === undefined ? {} : { atLeast: latestKnown.spec.revision }),
      });
      latest = created.spec.revision;
    }
    const active = wanted ?? latest;
    if (
      wanted !== undefined &&
      wanted !== latest &&
      !known.some((r) => r.spec.revision === wanted)
    ) {
      await this.#writeStatus(object, generation, {
        latest,
        problem: {
          reason: "RevisionMissing",
          message: `spec.activeRevision is ${String(wanted)}, but function ${name} has no revision ${String(wanted)}; set it to one of its revisions (runlet revisions ${name}) or remove it to serve the latest`,
          recheck: true,
        },
      });
      return { requeueAfterMs: this.#o.recheckMs ?? 15_000 };
    }
    await this.#writeStatus(object, generation, { latest, active });
    return undefined;
  }

  /** What stands between this spec and a revision that can run; undefined when nothing does. */
  async #check(spec: FunctionResourceSpec, namespace: string): Promise<Problem | undefined> {
    const exec = execFieldProblems(spec);
    if (exec.length > 0) {
      return {
        reason: "InvalidSpec",
        message: exec.map((p) => `${p.path}: ${p.message}`).join("; "),
        recheck: false,
      };
    }
    const missing: string[] = [];
    for (const secret of new Set(spec.secrets ?? [])) {
      try {
        await this.#o.client.get(objectPath(secretType, namespace, secret));
      } catch (error) {
        if (!isNotFound(error)) {
          throw error;
        }
        missing.push(secret);
      }
    }
    if (missing.length > 0) {
      return {
        reason: "SecretMissing",
        message: `secret${missing.length === 1 ? "" : "s"} ${missing.join(", ")} not found in namespace ${namespace}; create ${missing.length === 1 ? "it" : "them"} with runlet secret create NAME (or kubectl create secret generic NAME -n ${namespace})`,
        recheck: true,
      };
    }
    const exists = await this.#o.packageExists?.(spec.package);
    if (exists === false) {
      return {
        reason: "PackageMissing",
        message: `package ${spec.package} has not been uploaded to the gateway; runlet deploy uploads a function's source (or POST it to /api/v1/packages) before the Function names it`,
        recheck: true,
      };
    }
    return undefined;
  }

  #revisionsOf(namespace: string, name: string): FunctionRevisionObject[] {
    return (this.#o.revisions.list() as unknown as FunctionRevisionObject[])
      .filter((r) => r.metadata.namespace === namespace && r.spec.function === name)
      .sort((a, b) => a.spec.revision - b.spec.revision);
  }

  async #writeStatus(
    object: FunctionObject,
    generation: number,
    outcome: { readonly problem?: Problem; readonly latest?: number; readonly active?: number },
  ): Promise<void> {
    const name = object.metadata.name ?? "";
    const namespace = object.metadata.namespace ?? "";
    const current = object.status ?? {};
    const now = new Date((this.#o.now ?? Date.now)()).toISOString().replace(/\.\d{3}Z$/, "Z");
    const condition = (
      type: ConditionType,
      status: Condition["status"],
      reason: string,
      message: string,
    ): Condition => {
      const before = current.conditions?.find((c) => c.type === type);
      return {
        type,
        status,
        reason,
        message,
        // The time the status last changed, not the time it was last written.
        lastTransitionTime:
          before !== undefined && before.status === status ? before.lastTransitionTime : now,
        observedGeneration: generation,
      };
    };
    const { problem, latest, active } = outcome;
    const conditions =
      problem === undefined
        ? [
            condition("Ready", "True", "RevisionReady", `revision ${String(active)} serves`),
            condition(
              "Progressing",
              "False",
              "Reconciled",
              `generation ${String(generation)} is reconciled`,
            ),
            condition("Degraded", "False", "Reconciled", "nothing is wrong"),
          ]
        : [
            condition("Ready", "False", problem.reason, problem.message),
            condition("Progressing", "False", problem.reason, "waiting for the spec to be fixed"),
            condition("Degraded", "True", problem.reason, problem.message),
          ];
    const status: FunctionStatus = {
      observedGeneration: generation,
      conditions,
      url: `/function/${name}`,
      ...(active === undefined
        ? current.activeRevision === undefined
          ? {}
          : { activeRevision: current.activeRevision }
        : { activeRevision: active }),
      ...(latest === undefined
        ? current.latestRevision === undefined
          ? {}
          : { latestRevision: current.latestRevision }
        : { latestRevision: latest }),
    };
    if (sameStatus(current, status)) {
      return;
    }
    await this.#o.client.apply(
      objectPath(functionType, namespace, name),
      {
        apiVersion: runletApiVersion,
        kind: kinds.function.kind,
        metadata: { name, namespace },
        status,
      },
      { fieldManager: fieldManagers.operator, subresource: "status" },
    );
  }

  /** Deletes the function's revisions and pods; drops the finalizer once none is left. */
  async #cleanUp(
    object: FunctionObject,
    namespace: string,
    name: string,
  ): Promise<ReconcileResult | undefined> {
    if (!(object.metadata.finalizers ?? []).includes(functionFinalizer)) {
      return undefined;
    }
    const selector = `${labels.function}=${name}`;
    const { client } = this.#o;
    const left = async (type: ResourceType, at: string): Promise<number> => {
      const path = collectionPath(type, at);
      const list = await client.list(path, { labelSelector: selector, limit: 1 });
      if (list.items.length > 0) {
        await client.deleteCollection(path, selector);
      }
      return list.items.length;
    };
    const [revisions, pods] = await Promise.all([
      left(revisionType, namespace),
      left(podType, this.#o.podNamespace ?? namespace),
    ]);
    if (revisions + pods > 0) {
      return { requeueAfterMs: this.#o.cleanupRecheckMs ?? 1_000 };
    }
    await client.apply(
      objectPath(functionType, namespace, name),
      {
        apiVersion: runletApiVersion,
        kind: kinds.function.kind,
        metadata: { name, namespace, finalizers: [] },
      },
      { fieldManager: fieldManagers.operator },
    );
    return undefined;
  }
}

/** The operator's fields equal, conditions compared without their times. */
function sameStatus(current: FunctionStatus, next: FunctionStatus): boolean {
  const strip = (status: FunctionStatus): unknown => ({
    observedGeneration: status.observedGeneration,
    url: status.url,
    activeRevision: status.activeRevision,
    latestRevision: status.latestRevision,
    conditions: (status.conditions ?? [])
      .filter((c) => next.conditions?.some((n) => n.type === c.type))
      .map((c) => [
        c.type,
        c.status,
        c.reason,
        c.message,
        c.observedGeneration,
        c.lastTransitionTime,
      ])
      .sort(),
  });
  return JSON.stringify(strip(current)) === JSON.stringify(strip(next));
}
