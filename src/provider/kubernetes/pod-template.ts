/**
 * The pods the Kubernetes provider runs: a pool's Deployment of generic runtime pods, and the
 * single pod a start makes when its pool has none Ready. Both are hardened the same way (no
 * root, no privilege escalation, no capabilities, RuntimeDefault seccomp, a read-only root with
 * writable emptyDirs only where the runtime writes, no service account token) and sized by
 * their limits class. An install's manifests describe the same Deployments; the provider
 * applies them server-side with its own field manager, so both agree on their fields.
 */
import type { V1Deployment, V1Pod, V1PodSpec } from "@kubernetes/client-node";
import { fieldManagers, labels, partOf } from "../../kubernetes/names.js";
import type { InstanceRuntime } from "../../spec/function-spec.js";
import type { LimitsClass } from "./options.js";
import { instanceMounts } from "../instance-files.js";

/** Where the runtime listens in a pod (docs/runtime-protocol.md, "Transports"). */
export const podPorts = { http: 8888, frames: 8889 } as const;

/**
 * The pod's writable places: the package is unpacked into one emptyDir, secrets (and Fission's
 * secret and config trees) are written into memory-backed ones (never on the node's disk), and
 * /tmp is the process's scratch.
 */
export const podPaths = {
  /** The package volume; the runtime downloads the archive beside `package` on it. */
  work: "/var/runlet/work",
  package: "/var/runlet/work/package",
  secrets: "/var/runlet/secrets",
  tmp: "/tmp",
} as const;

/** The user every Runlet image runs as. */
const runtimeUid = 10001;

/** `runtime-node-small`: the pool's Deployment, and its pool label's value. */
export function poolName(runtime: InstanceRuntime, limitsClass: LimitsClass): string {
  return `runtime-${runtime}-${limitsClass.name}`;
}

export interface PodTemplateOptions {
  readonly runtime: InstanceRuntime;
  readonly limitsClass: LimitsClass;
  readonly image: string;
  readonly imagePullPolicy: "Always" | "IfNotPresent" | "Never";
}

/** Labels every pod the provider runs carries, pool or claimed. */
export function commonLabels(
  runtime: InstanceRuntime,
  limitsClass: LimitsClass,
): Record<string, string> {
  return {
    [labels.partOf]: partOf,
    [labels.managedBy]: fieldManagers.provider,
    [labels.runtime]: runtime,
    [labels.limitsClass]: limitsClass.name,
  };
}

function quantityOfCpu(cores: number): string {
  return `${Math.max(1, Math.round(cores * 1000))}m`;
}

/**
 * The spec of a runtime pod. A pool pod (a Deployment's: restartPolicy Always) warms its load
 * and call paths up before it is Ready (the runtime's RUNLET_WARMUP): it has the time, a pod
 * made for one start (restartPolicy Never) has not.
 */
export function runtimePodSpec(
  options: PodTemplateOptions,
  kind: { readonly restartPolicy: "Always" | "Never"; readonly warmUp: boolean },
): V1PodSpec {
  const { restartPolicy } = kind;
  const warmUp = kind.warmUp ? [{ name: "RUNLET_WARMUP", value: "1" }] : [];
  const { memoryBytes, cpu, cpuRequest } = options.limitsClass;
  const limits = { memory: String(memoryBytes), cpu: quantityOfCpu(cpu) };
  const requests = { memory: String(memoryBytes), cpu: quantityOfCpu(cpuRequest ?? cpu / 10) };
  return {
    restartPolicy,
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    // A stopped instance goes at once: its calls have failed or been drained by the router.
    terminationGracePeriodSeconds: 2,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: runtimeUid,
      runAsGroup: runtimeUid,
      fsGroup: runtimeUid,
      seccompProfile: { type: "RuntimeDefault" },
    },
    containers: [
      {
        name: "runtime",
        image: options.image,
        imagePullPolicy: options.imagePullPolicy,
        env: [
          { name: "RUNLET_HTTP_ADDRESS", value: `0.0.0.0:${podPorts.http}` },
          { name: "RUNLET_FRAME_ADDRESS", value: `0.0.0.0:${podPorts.frames}` },
          { name: "HOME", value: podPaths.tmp },
          { name: "TMPDIR", value: podPaths.tmp },
          ...warmUp,
        ],
        ports: [
          { name: "http", containerPort: podPorts.http },
          { name: "frames", containerPort: podPorts.frames },
        ],
        readinessProbe: {
          httpGet: { path: "/healthz", port: podPorts.http },
          periodSeconds: 1,
          failureThreshold: 3,
        },
        resources: { requests, limits },
        // The last lines of a failed container's output become its termination message, so an
        // exit the kubelet reports can be named (a heap out of memory, a crash).
        terminationMessagePolicy: "FallbackToLogsOnError",
        securityContext: {
          runAsNonRoot: true,
          allowPrivilegeEscalation: false,
          privileged: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ["ALL"] },
          seccompProfile: { type: "RuntimeDefault" },
        },
        volumeMounts: [
          { name: "package", mountPath: podPaths.work },
          { name: "secrets", mountPath: podPaths.secrets },
          // Fission's trees at their own paths (provider/instance-files.ts).
          { name: "fission-secrets", mountPath: instanceMounts.fissionSecrets },
          { name: "fission-configs", mountPath: instanceMounts.fissionConfigs },
          { name: "tmp", mountPath: podPaths.tmp },
        ],
      },
    ],
    volumes: [
      { name: "package", emptyDir: {} },
      { name: "secrets", emptyDir: { medium: "Memory", sizeLimit: "1Mi" } },
      { name: "fission-secrets", emptyDir: { medium: "Memory", sizeLimit: "1Mi" } },
      { name: "fission-configs", emptyDir: { medium: "Memory", sizeLimit: "1Mi" } },
      { name: "tmp", emptyDir: { sizeLimit: "64Mi" } },
    ],
  };
}

/** The pool's Deployment, as the provider applies it server-side. */
export function poolDeployment(
  options: PodTemplateOptions & { readonly namespace: string; readonly replicas: number },
): V1Deployment {
  const name = poolName(options.runtime, options.limitsClass);
  const podLabels = {
    ...commonLabels(options.runtime, options.limitsClass),
    [labels.component]: "runtime-pool",
    [labels.pool]: name,
  };
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name,
      namespace: options.namespace,
      labels: {
        [labels.partOf]: partOf,
        [labels.managedBy]: fieldManagers.provider,
        [labels.component]: "runtime-pool",
        [labels.runtime]: options.runtime,
        [labels.limitsClass]: options.limitsClass.name,
      },
    },
    spec: {
      replicas: options.replicas,
      // The selector is the pool label alone: a pod that loses it leaves the ReplicaSet, which
      // makes a replacement (a claimed pod is the function's from then on).
      selector: { matchLabels: { [labels.pool]: name } },
      // New pods only replace old ones once Ready, so a pool never drops below its size when
      // its template changes.
      strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: { labels: podLabels },
        spec: runtimePodSpec(options, { restartPolicy: "Always", warmUp: true }),
      },
    },
  };
}

/** A pod for one start, when its pool had none Ready (it never restarts: an exit ends it). */
export function instancePod(
  options: PodTemplateOptions & {
    readonly namespace: string;
    readonly name: string;
    readonly instanceId: string;
  },
): V1Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: options.name,
      namespace: options.namespace,
      labels: {
        ...commonLabels(options.runtime, options.limitsClass),
        [labels.component]: "function-instance",
        [labels.instance]: options.instanceId,
      },
    },
    spec: runtimePodSpec(options, { restartPolicy: "Never", warmUp: false }),
  };
}
