/**
 * The provider contract: the only layer that knows where instances live (sandboxed child
 * processes here, pods on Kubernetes) and how they are reached. The executor and router see
 * only these types, and a provider is checked against them by one contract suite
 * (test/provider/contract). Nothing here names a host path, a process, a socket or an HTTP
 * client: an instance is given a package by digest and secret names, told its limits when it
 * starts, reports its exit as a kind, and takes calls through `invoke`.
 */
import type { Readable } from "node:stream";
import type { CompatShape, ExecMode, InstanceRuntime, NetworkMode } from "../spec/function-spec.js";

/** Header fields of a call or an answer, names in lower case. */
export type InvocationHeaders = Readonly<Record<string, string | string[] | undefined>>;
export type AnswerHeaders = Readonly<Record<string, string | string[] | number | undefined>>;

/**
 * What an instance is started with and cannot change afterwards; a provider that keeps warm
 * pools keeps one per shape (or per the part of it its instances cannot change: a local
 * process can take new cgroup limits, a pod cannot take new resources).
 */
export interface InstanceShape {
  readonly runtime: InstanceRuntime;
  readonly network: NetworkMode;
  /** Hard memory limit; the instance is killed above it. */
  readonly memoryBytes: number;
  /** CPU limit in cores; undefined for no limit. */
  readonly cpu: number | undefined;
}

export interface StartInstanceOptions extends InstanceShape {
  readonly onLog: (line: LogLine) => void;
}

export interface StartedInstance {
  readonly instance: Instance;
  /** Whether it was a warm generic instance (else one was started for this call). */
  readonly fromPool: boolean;
}

/** What a generic instance is told when it becomes one function's instance. */
export interface SpecializeRequest {
  readonly name: string;
  readonly revision: string;
  /** The package to run, by digest; the provider fetches it through its PackageSource. */
  readonly packageDigest: string;
  readonly handler: string;
  readonly env: Readonly<Record<string, string>>;
  /** Names of the secrets the function reads as files; the provider resolves their values. */
  readonly secrets: readonly string[];
  /** Names of the config maps it reads as files (instance-files.ts says where). */
  readonly configs: readonly string[];
  readonly timeoutMs: number;
  readonly concurrency: number;
  /** Handler shape of another platform; undefined for Runlet's own. */
  readonly compat: CompatShape | undefined;
  /** exec runtime: the program to run, and how. */
  readonly command: string | undefined;
  readonly mode: ExecMode;
}

/**
 * How an instance went: it ended by itself, went over its memory limit, was stopped or killed
 * from outside, or can no longer be reached (its node or connection is gone).
 */
export type ExitKind = "exited" | "out-of-memory" | "killed" | "lost";

export interface ExitInfo {
  readonly kind: ExitKind;
  /** "exited with code 1 (Error: boom)", for callers and `describe`. */
  readonly message: string;
}

export interface LogLine {
  readonly time: number;
  readonly instanceId: string;
  /** Set once the instance is specialized; generic instances log as the platform. */
  readonly functionName: string | undefined;
  /** The call the line was written during, when the runtime could tell. */
  readonly callId: string | undefined;
  readonly stream: "stdout" | "stderr";
  readonly text: string;
}

/** One call as the router hands it to an instance. */
export interface InvocationRequest {
  readonly method: string;
  /** Path inside the function plus the query string. */
  readonly path: string;
  readonly headers: InvocationHeaders;
  /**
   * Undefined for a call without a body; a Buffer when all of it is at hand; else a stream,
   * and an error from it fails the call with that error.
   */
  readonly body: Readable | Buffer | undefined;
  /** Aborting cancels the call in the instance too (the handler's context.signal). */
  readonly signal: CancelSignal;
}

/**
 * What cancelling a call needs of a signal: an AbortSignal has it, and so has the router's
 * lighter CallController. Listeners are called at most once.
 */
export interface CancelSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: "abort", listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: "abort", listener: () => void): void;
}

export interface InvocationResponse {
  readonly status: number;
  readonly headers: AnswerHeaders;
  /**
   * The whole body when it arrived with the head (most calls: no stream to set up), else a
   * stream of it as the instance answers, which fails if the call is cancelled or the
   * instance goes.
   */
  readonly body: Buffer | Readable;
}

export interface Instance {
  readonly id: string;
  readonly runtime: InstanceRuntime;
  /** Runs one call on the instance, over whatever transport the provider has to it. */
  invoke(request: InvocationRequest): Promise<InvocationResponse>;
  /**
   * After a call failed on this instance: the instance's exit when that was the cause, else
   * undefined. The provider waits as long as its transport needs to learn it (a socket closes
   * a moment before the process exit is reported).
   */
  exitCausing(failure: unknown): Promise<ExitInfo | undefined>;
  /** Resolves when the instance has gone, for whatever reason. */
  readonly exited: Promise<ExitInfo>;
  /** Set once the instance has exited. */
  readonly exitInfo: ExitInfo | undefined;
  /** Loads a function; rejects with a UserError naming file and line when the code is bad. */
  specialize(request: SpecializeRequest): Promise<void>;
  /** Stops the instance now; in-flight calls on it fail. */
  stop(): Promise<void>;
}

/**
 * A short-lived right for one instance to fetch one package: the instance (a pod) fetches the
 * archive itself and checks it against the digest, so the credential is bound to both and
 * expires soon after it is issued.
 */
export interface PackageGrant {
  /** Where the package's archive (a gzipped tar) is served. */
  readonly url: string;
  /** `sha256:<hex>` of the archive, which the instance checks what it fetched against. */
  readonly digest: string;
  /** Sent as `Authorization: Bearer <token>`. */
  readonly token: string;
  /** Milliseconds since the epoch. */
  readonly expiresAt: number;
}

/** Where a provider gets the package a specialize request names. */
export interface PackageSource {
  /** A directory on this host holding the unpacked package (for providers on this host). */
  localPath(digest: string): string;
  /**
   * A grant for an instance elsewhere to fetch the package from the platform, when the
   * platform serves packages (providers whose instances are not on this host need it).
   */
  grant?(digest: string, instanceId: string): Promise<PackageGrant>;
}

/** A secret's or config map's keys and their bytes. */
export type KeyedBytes = Readonly<Record<string, Uint8Array>>;

/** Where a provider gets the values of the secrets (or config maps) a specialize request names. */
export interface SecretSource {
  reveal(names: readonly string[]): Record<string, KeyedBytes>;
}

/** What a provider is given by the composition that makes it. */
export interface ProviderContext {
  readonly packages: PackageSource;
  readonly secrets: SecretSource;
  readonly configs: SecretSource;
  /** Lines of generic instances (warm-up, before any function is loaded). */
  readonly onLog: (line: LogLine) => void;
  /** Failures nobody waits for (a warm pool's refill). */
  readonly onError: (error: unknown) => void;
}

export interface PoolStatus {
  readonly runtime: InstanceRuntime;
  readonly size: number;
  readonly idle: number;
  readonly starting: number;
}

export interface Provider {
  readonly name: string;
  /** How instances are isolated here, e.g. "bubblewrap sandbox, cgroup v1 limits". */
  readonly isolation: string;
  /** Things to tell the operator once at start (no sandbox, no limits). */
  readonly notices: readonly string[];
  /**
   * An instance of `options`' shape, ready to be specialized: a warm generic one when the
   * provider keeps a pool for the shape (it refills the pool itself, when that competes least
   * with the cold start in progress), else a new one.
   */
  start(options: StartInstanceOptions): Promise<StartedInstance>;
  /** The warm pools the provider keeps, for metrics. */
  poolStatus(): PoolStatus[];
  /**
   * A function revision's instances wherever this provider's cluster runs them, those other
   * gateway replicas started included (Kubernetes: its pods). Absent where every instance is
   * this process's own, which the executor counts.
   */
  clusterInstances?(functionName: string, revision: string): ClusterInstances;
  close(): Promise<void>;
}

export interface ClusterInstances {
  readonly instances: number;
  readonly ready: number;
}
