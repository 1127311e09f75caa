/**
 * Writes a Function's `status.replicas`: how many of its pods are Ready, counted from the pods
 * themselves, whichever gateway replica started them. One writer (the operator's leader) for a
 * number every gateway replica holds only part of.
 *
 * Its own field manager (names.ts `operatorReplicas`), so this apply and the function
 * controller's apply of the rest of the status leave each other's fields alone.
 */
import type { V1Pod } from "@kubernetes/client-node";
import { fieldManagers, kinds, labels, runletApiVersion } from "../kubernetes/names.js";
import type { FunctionObject } from "../kubernetes/resources.js";
import type { ReconcileResult, Reconciler } from "./controller.js";
import { functionType } from "./function-controller.js";
import { objectKey, splitKey, type Informer } from "./informer.js";
import { isNotFound, objectPath, type KubeClient, type KubeObject } from "./kube-client.js";

export interface FunctionReplicasOptions {
  readonly client: KubeClient;
  readonly functions: Informer<KubeObject>;
  /** The function pods (label runlet.dev/function) of the pod namespace. */
  readonly pods: Informer<KubeObject>;
}

/** Ready, and not on its way out. */
function servingPod(pod: V1Pod): boolean {
  return (
    pod.metadata?.deletionTimestamp === undefined &&
    pod.status?.phase === "Running" &&
    (pod.status.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True")
  );
}

export class FunctionReplicasReconciler implements Reconciler {
  readonly name = "function-replicas";
  readonly #o: FunctionReplicasOptions;

  constructor(options: FunctionReplicasOptions) {
    this.#o = options;
  }

  /** Keys of the Functions a function pod's change concerns: those of the name it carries. */
  keysOfPod(pod: KubeObject | undefined): string[] {
    const name = pod?.metadata.labels?.[labels.function];
    if (name === undefined) {
      return [];
    }
    return this.#o.functions
      .list()
      .filter((fn) => fn.metadata.name === name)
      .map((fn) => objectKey(fn));
  }

  async reconcile(key: string): Promise<ReconcileResult | undefined> {
    const fn = this.#o.functions.get(key) as FunctionObject | undefined;
    if (fn === undefined || fn.metadata.deletionTimestamp !== undefined) {
      return undefined;
    }
    const { namespace = "", name } = splitKey(key);
    const replicas = this.#o.pods
      .list()
      .filter(
        (pod) =>
          pod.metadata.labels?.[labels.function] === name && servingPod(pod as unknown as V1Pod),
      ).length;
    if (fn.status?.replicas === replicas) {
      return undefined;
    }
    try {
      await this.#o.client.apply(
        objectPath(functionType, namespace, name),
        {
          apiVersion: runletApiVersion,
          kind: kinds.function.kind,
          metadata: { name, namespace },
          status: { replicas },
        },
        { fieldManager: fieldManagers.operatorReplicas, subresource: "status" },
      );
    } catch (error) {
      // Deleted meanwhile: nothing to count for.
      if (!isNotFound(error)) {
        throw error;
      }
    }
    return undefined;
  }
}
