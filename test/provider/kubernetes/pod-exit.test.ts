/**
 * How the Kubernetes provider names a pod's end, from the states the kubelet reports (the real
 * node shows OOMKilled, exit codes and deletes in test/provider/contract/kubernetes.test.ts;
 * evictions and lost nodes are shown here from their recorded shapes), and which limits class a
 * function's memory and CPU pick.
 */
import type { V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { defaultLimitsClasses, limitsClassFor } from "../../../src/provider/kubernetes/options.js";
import { exitOfPod, exitOfVanishedPod } from "../../../src/provider/kubernetes/pod-exit.js";

const mebi = 2 ** 20;

function pod(status: V1Pod["status"], deleting = false): V1Pod {
  return {
    metadata: { name: "p", ...(deleting ? { deletionTimestamp: new Date() } : {}) },
    status,
  };
}

function terminated(
  fields: { reason?: string; exitCode: number; message?: string; signal?: number },
  where: "state" | "lastState" = "state",
  restartCount = 0,
): V1Pod {
  return pod({
    phase: "Running",
    containerStatuses: [
      {
        name: "runtime",
        image: "i",
        imageID: "i",
        ready: false,
        restartCount,
        [where]: { terminated: fields },
      },
    ],
  });
}

describe("a pod's end as an exit kind", () => {
  it("names the kernel's OOM kill and an exhausted heap as out of memory", () => {
    expect(exitOfPod(terminated({ reason: "OOMKilled", exitCode: 137 }), 96 * mebi, 0)).toEqual({
      kind: "out-of-memory",
      message: "exceeded memory limit 96Mi",
    });
    const heap = terminated({
      reason: "Error",
      exitCode: 134,
      message: "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
    });
    expect(exitOfPod(heap, 96 * mebi, 0)?.kind).toBe("out-of-memory");
  });

  it("names a container's exit with its code and last line, once it restarted after the claim", () => {
    const restarted = terminated(
      { reason: "Error", exitCode: 3, message: "starting\nboom\n" },
      "lastState",
      1,
    );
    expect(exitOfPod(restarted, mebi, 0)).toEqual({
      kind: "exited",
      message: "exited with code 3 (boom)",
    });
    // The same restart before the claim is not this instance's end.
    expect(exitOfPod(restarted, mebi, 1)).toBeUndefined();
  });

  it("names an eviction, a lost node and a delete from outside", () => {
    expect(
      exitOfPod(pod({ phase: "Failed", reason: "Evicted", message: "low on memory" }), mebi, 0),
    ).toEqual({ kind: "killed", message: "was evicted (low on memory)" });
    expect(exitOfPod(pod({ phase: "Unknown" }), mebi, 0)?.kind).toBe("lost");
    expect(exitOfPod(pod({ phase: "Running" }, true), mebi, 0)?.message).toContain(
      "deleted from outside",
    );
    expect(exitOfVanishedPod(pod({ phase: "Running" }), mebi, 0)).toMatchObject({
      kind: "killed",
    });
    expect(exitOfPod(pod({ phase: "Running" }), mebi, 0)).toBeUndefined();
  });
});

describe("limits classes", () => {
  it("picks the smallest class that holds the memory and CPU, and names the classes when none does", () => {
    expect(limitsClassFor(defaultLimitsClasses, 96 * mebi, undefined).name).toBe("small");
    expect(limitsClassFor(defaultLimitsClasses, 128 * mebi, undefined).name).toBe("small");
    expect(limitsClassFor(defaultLimitsClasses, 129 * mebi, undefined).name).toBe("medium");
    expect(limitsClassFor(defaultLimitsClasses, 64 * mebi, 1).name).toBe("large");
    expect(() => limitsClassFor(defaultLimitsClasses, 4096 * mebi, undefined)).toThrow(
      /no limits class holds 4Gi of memory; the classes are small \(128Mi, 0.25 CPU\)/,
    );
  });
});
