/**
 * Taking a generic pod out of its pool, atomically: one JSON patch whose first operation tests
 * that the pod still carries the pool's label, then removes it and names the instance. The API
 * server applies a JSON patch to the object as stored and fails it whole when a test fails, so
 * of two gateway replicas claiming the same pod exactly one wins; the other learns it at once
 * (422) and tries the next pod. Removing the label takes the pod out of its Deployment's
 * selector, so its ReplicaSet lets it go and makes a replacement (as Fission's pool manager
 * does).
 */
import {
  ApiException,
  type CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type V1OwnerReference,
  type V1Pod,
} from "@kubernetes/client-node";
import { labels } from "../../kubernetes/names.js";

/** A label key as a JSON pointer segment (RFC 6901: `~` → `~0`, `/` → `~1`). */
function pointer(key: string): string {
  return `/metadata/labels/${key.replaceAll("~", "~0").replaceAll("/", "~1")}`;
}

/** The claimed pod, or undefined when another claimer took it first (or it is gone). */
export async function claimPoolPod(
  core: CoreV1Api,
  options: {
    readonly namespace: string;
    readonly podName: string;
    readonly pool: string;
    readonly instanceId: string;
    /** Replaces the ReplicaSet as the pod's owner (the gateway pod that claims it). */
    readonly owner?: V1OwnerReference;
  },
): Promise<V1Pod | undefined> {
  const patch: object[] = [
    { op: "test", path: pointer(labels.pool), value: options.pool },
    { op: "remove", path: pointer(labels.pool) },
    { op: "add", path: pointer(labels.instance), value: options.instanceId },
    { op: "replace", path: pointer(labels.component), value: "function-instance" },
  ];
  if (options.owner) {
    patch.push({ op: "add", path: "/metadata/ownerReferences", value: [options.owner] });
  }
  try {
    return await core.patchNamespacedPod(
      { name: options.podName, namespace: options.namespace, body: patch },
      setHeaderOptions("Content-Type", PatchStrategy.JsonPatch),
    );
  } catch (error) {
    // 422: a test failed (someone else claimed it); 404: the pod went meanwhile.
    if (error instanceof ApiException && (error.code === 422 || error.code === 404)) {
      return undefined;
    }
    throw error;
  }
}

/** Names the function a claimed pod now runs, for `kubectl get pods -l` and the operator. */
export async function labelPodFunction(
  core: CoreV1Api,
  options: {
    readonly namespace: string;
    readonly podName: string;
    readonly functionName: string;
    readonly revision: string;
  },
): Promise<void> {
  await core.patchNamespacedPod(
    {
      name: options.podName,
      namespace: options.namespace,
      body: [
        { op: "add", path: pointer(labels.function), value: options.functionName },
        { op: "add", path: pointer(labels.revision), value: options.revision },
      ],
    },
    setHeaderOptions("Content-Type", PatchStrategy.JsonPatch),
  );
}
