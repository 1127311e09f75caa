/**
 * A claimed pod's state as the contract's exit kinds: the container OOM-killed (or its heap
 * exhausted) → out-of-memory; evicted, or deleted by someone other than the provider → killed;
 * its node gone or its state unknown → lost; the container ended → exited with its code. A pool
 * pod restarts its container in place (a Deployment's pods must), but a restarted container is
 * generic again, so any termination of the claimed container ends the instance.
 */
import type { V1ContainerStateTerminated, V1Pod } from "@kubernetes/client-node";
import { formatSize } from "../../spec/units.js";
import type { ExitInfo } from "../types.js";

/** What the runtimes print when their own heap is exhausted before the cgroup's limit. */
const heapExhausted = /heap out of memory|Reached heap limit|MemoryError/;

/**
 * The runtime container's end, if it ended since the pod was claimed: a pool pod may have
 * restarted before (`restartsAtClaim`), and that earlier end is not this instance's.
 */
function terminatedContainer(
  pod: V1Pod,
  restartsAtClaim: number,
): V1ContainerStateTerminated | undefined {
  const status = pod.status?.containerStatuses?.find((c) => c.name === "runtime");
  if (status?.state?.terminated) {
    return status.state.terminated;
  }
  return (status?.restartCount ?? 0) > restartsAtClaim ? status?.lastState?.terminated : undefined;
}

/** How many times the runtime container has restarted so far. */
export function restartsOf(pod: V1Pod): number {
  return pod.status?.containerStatuses?.find((c) => c.name === "runtime")?.restartCount ?? 0;
}

/**
 * The exit a pod's current state shows, or undefined while it is still running.
 * `memoryBytes` is what the function asked for, named in the message.
 */
export function exitOfPod(
  pod: V1Pod,
  memoryBytes: number,
  restartsAtClaim: number,
): ExitInfo | undefined {
  const status = pod.status;
  if (status?.reason === "Evicted") {
    return { kind: "killed", message: `was evicted (${status.message ?? "by the kubelet"})` };
  }
  const terminated = terminatedContainer(pod, restartsAtClaim);
  if (terminated) {
    return exitOfContainer(terminated, memoryBytes);
  }
  if (status?.phase === "Failed" || status?.phase === "Succeeded") {
    return { kind: "exited", message: `ended (pod ${status.phase})` };
  }
  if (status?.phase === "Unknown") {
    return { kind: "lost", message: "was lost: its node no longer reports its state" };
  }
  if (pod.metadata?.deletionTimestamp !== undefined) {
    return { kind: "killed", message: "was killed: its pod was deleted from outside Runlet" };
  }
  return undefined;
}

function exitOfContainer(terminated: V1ContainerStateTerminated, memoryBytes: number): ExitInfo {
  const outOfMemory = `exceeded memory limit ${formatSize(memoryBytes)}`;
  if (terminated.reason === "OOMKilled") {
    return { kind: "out-of-memory", message: outOfMemory };
  }
  const tail = terminated.message?.trim() ?? "";
  if (heapExhausted.test(tail)) {
    return { kind: "out-of-memory", message: `${outOfMemory} (its heap ran out)` };
  }
  if (terminated.signal !== undefined && terminated.signal !== 0) {
    return { kind: "killed", message: `was killed by signal ${terminated.signal}` };
  }
  const lastLine = tail.split("\n").findLast((line) => line.trim() !== "");
  return {
    kind: "exited",
    message: `exited with code ${terminated.exitCode}${lastLine ? ` (${lastLine.trim().slice(0, 200)})` : ""}`,
  };
}

/** A pod that disappeared while claimed, without the provider deleting it. */
export function exitOfVanishedPod(
  pod: V1Pod,
  memoryBytes: number,
  restartsAtClaim: number,
): ExitInfo {
  const known = exitOfPod(pod, memoryBytes, restartsAtClaim);
  if (known && known.kind !== "killed") {
    return known;
  }
  return (
    known ?? { kind: "killed", message: "was killed: its pod was deleted from outside Runlet" }
  );
}
