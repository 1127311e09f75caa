/**
 * What the Kubernetes provider is configured with, and the fully-defaulted form it runs on
 * (resolved once). Limits classes decide which pool a function's pods come from: a pod's
 * resources are fixed when it starts, so each runtime keeps one pool per class.
 */
import type { KubeConfig } from "@kubernetes/client-node";
import { defaultFunctionNamespace } from "../../kubernetes/names.js";
import type { InstanceRuntime } from "../../spec/function-spec.js";
import { formatSize } from "../../spec/units.js";

/** A size of pod: the resources every pod of its pools requests and is limited to. */
export interface LimitsClass {
  /** DNS-1123 label, part of the pool Deployment's name (`runtime-node-small`). */
  readonly name: string;
  readonly memoryBytes: number;
  /** CPU limit in cores. */
  readonly cpu: number;
  /**
   * CPU the scheduler reserves per pod, in cores. Memory is requested at its limit (a pod
   * cannot give it back), but a generic pool pod idles: reserving its whole CPU limit would
   * let a 2-core node hold four pods. @default a tenth of `cpu`
   */
  readonly cpuRequest?: number;
}

/** An address the provider can open a TCP connection to. */
export interface DialAddress {
  readonly host: string;
  readonly port: number;
}

export interface KubernetesProviderOptions {
  /** How to reach the API server (in a pod: `loadFromCluster()`). */
  readonly kubeConfig: KubeConfig;
  /** Where the pools and the functions' pods run. @default "openfaas-fn" */
  readonly namespace?: string;
  /**
   * The sizes of pod, smallest first; a function gets the smallest that holds its memory and
   * CPU. @default small 128Mi/0.25, medium 256Mi/0.5, large 512Mi/1, xlarge 1Gi/2
   */
  readonly limitsClasses?: readonly LimitsClass[];
  /** Generic pods each pool Deployment keeps. @default 1 */
  readonly poolReplicas?: number;
  /**
   * Pools to make when the provider starts; any other shape gets its pool at its first start
   * (that start creates a pod of its own). @default none
   */
  readonly pools?: readonly { readonly runtime: InstanceRuntime; readonly limitsClass: string }[];
  /** The runtime server's image. @default `runlet.local/runtime-<runtime>:0.1.0` */
  readonly image?: (runtime: InstanceRuntime) => string;
  /** @default "IfNotPresent" */
  readonly imagePullPolicy?: "Always" | "IfNotPresent" | "Never";
  /**
   * Where the provider connects to reach `podIp:port`. In a cluster that is the pod IP itself;
   * from outside (tests, a gateway off the pod network) a tunnel's address.
   * @default the pod address unchanged
   */
  readonly dial?: (podIp: string, port: number) => Promise<DialAddress>;
  /** How long a pod made for one start may take to become Ready. @default 120000 */
  readonly podStartTimeoutMs?: number;
  /**
   * The gateway pod this provider runs in (its name and uid, from the downward API), made the
   * owner of every pod it claims or creates: when the gateway pod goes, however it goes, the
   * garbage collector removes the function pods only it could reach. @default no owner
   */
  readonly ownerPod?: { readonly name: string; readonly uid: string };
  /** The most a package may unpack to in a pod (the runtime refuses more). @default 256 MiB */
  readonly maxPackageBytes?: number;
  /**
   * How long a failed call waits to learn of its pod's exit: the kubelet reports a container's
   * end a second or more after its connections close. @default 15000
   */
  readonly exitReportMs?: number;
}

export interface ResolvedKubernetesOptions {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  readonly limitsClasses: readonly LimitsClass[];
  readonly poolReplicas: number;
  readonly pools: readonly { readonly runtime: InstanceRuntime; readonly limitsClass: string }[];
  readonly image: (runtime: InstanceRuntime) => string;
  readonly imagePullPolicy: "Always" | "IfNotPresent" | "Never";
  readonly dial: (podIp: string, port: number) => Promise<DialAddress>;
  readonly podStartTimeoutMs: number;
  readonly ownerPod: { readonly name: string; readonly uid: string } | undefined;
  readonly maxPackageBytes: number;
  readonly exitReportMs: number;
}

const mebi = 2 ** 20;

export const defaultLimitsClasses: readonly LimitsClass[] = [
  { name: "small", memoryBytes: 128 * mebi, cpu: 0.25 },
  { name: "medium", memoryBytes: 256 * mebi, cpu: 0.5 },
  { name: "large", memoryBytes: 512 * mebi, cpu: 1 },
  { name: "xlarge", memoryBytes: 1024 * mebi, cpu: 2 },
];

export function resolveKubernetesOptions(
  options: KubernetesProviderOptions,
): ResolvedKubernetesOptions {
  const limitsClasses = [...(options.limitsClasses ?? defaultLimitsClasses)].sort(
    (a, b) => a.memoryBytes - b.memoryBytes || a.cpu - b.cpu,
  );
  if (limitsClasses.length === 0) {
    throw new Error("the Kubernetes provider needs at least one limits class");
  }
  for (const limitsClass of limitsClasses) {
    if (!/^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$/.test(limitsClass.name)) {
      throw new Error(
        `limits class name ${JSON.stringify(limitsClass.name)} must be a DNS-1123 label of at most 32 characters`,
      );
    }
  }
  return {
    kubeConfig: options.kubeConfig,
    namespace: options.namespace ?? defaultFunctionNamespace,
    limitsClasses,
    poolReplicas: options.poolReplicas ?? 1,
    pools: options.pools ?? [],
    image: options.image ?? ((runtime) => `runlet.local/runtime-${runtime}:0.1.0`),
    imagePullPolicy: options.imagePullPolicy ?? "IfNotPresent",
    dial: options.dial ?? ((host, port) => Promise.resolve({ host, port })),
    podStartTimeoutMs: options.podStartTimeoutMs ?? 120_000,
    ownerPod: options.ownerPod,
    maxPackageBytes: options.maxPackageBytes ?? 256 * mebi,
    exitReportMs: options.exitReportMs ?? 15_000,
  };
}

/** The smallest class that holds `memoryBytes` and `cpu` (undefined: any CPU will do). */
export function limitsClassFor(
  classes: readonly LimitsClass[],
  memoryBytes: number,
  cpu: number | undefined,
): LimitsClass {
  const fits = classes.find(
    (c) => c.memoryBytes >= memoryBytes && (cpu === undefined || c.cpu >= cpu),
  );
  if (!fits) {
    throw new Error(
      `no limits class holds ${formatSize(memoryBytes)} of memory${cpu === undefined ? "" : ` and ${cpu} CPU`}; the classes are ${classes
        .map((c) => `${c.name} (${formatSize(c.memoryBytes)}, ${c.cpu} CPU)`)
        .join(", ")}`,
    );
  }
  return fits;
}

export function findLimitsClass(classes: readonly LimitsClass[], name: string): LimitsClass {
  const found = classes.find((c) => c.name === name);
  if (!found) {
    throw new Error(
      `no limits class named ${JSON.stringify(name)}; the classes are ${classes.map((c) => c.name).join(", ")}`,
    );
  }
  return found;
}
