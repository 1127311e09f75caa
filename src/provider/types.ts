/**
 * The provider interface: the only layer that knows where instances live (local child
 * processes or Kubernetes pods). The executor and router see only these types.
 */
import type { IncomingHttpHeaders } from "node:http";
import type { Readable } from "node:stream";
import type { Dispatcher } from "undici";
import type { CompatShape, ExecMode, InstanceRuntime, NetworkMode } from "../spec/function-spec.js";

/** What a generic instance is told when it becomes one function's instance. */
export interface SpecializeRequest {
  readonly name: string;
  readonly revision: string;
  /** Directory holding the unpacked package, as the platform sees it. */
  readonly packagePath: string;
  readonly handler: string;
  readonly env: Readonly<Record<string, string>>;
  /** Secret values by name; the provider places them where the function can read them as files. */
  readonly secrets: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly concurrency: number;
  /** Hard memory limit; the instance is killed above it. */
  readonly memoryBytes: number;
  /** CPU limit in cores; undefined for no limit. */
  readonly cpu: number | undefined;
  /** Handler shape of another platform; undefined for Runlet's own. */
  readonly compat: CompatShape | undefined;
  /** exec runtime: the program to run, and how. */
  readonly command: string | undefined;
  readonly mode: ExecMode;
}

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** "exited with code 1: Error: boom", for callers and `describe`. */
  readonly reason: string;
}

export interface LogLine {
  readonly time: number;
  readonly instanceId: string;
  /** Set once the instance is specialized; generic instances log as the platform. */
  readonly functionName: string | undefined;
  readonly callId: string | undefined;
  readonly stream: "stdout" | "stderr";
  readonly text: string;
}

/** One call as the router hands it to an instance. */
export interface InvocationRequest {
  readonly method: string;
  /** Path inside the function plus the query string. */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
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
  readonly headers: Readonly<Record<string, string | string[] | number | undefined>>;
  /**
   * The whole body when it arrived with the head (most calls: no stream to set up), else a
   * stream of it as the instance answers, which fails if the call is cancelled or the
   * instance goes.
   */
  readonly body: Buffer | Readable;
}

/** A way to run calls on an instance that is cheaper than HTTP (docs/runtime-protocol.md). */
export interface InvocationChannel {
  invoke(request: InvocationRequest): Promise<InvocationResponse>;
}

export interface Instance {
  readonly id: string;
  readonly runtime: InstanceRuntime;
  /** HTTP client bound to the instance's runtime server: control calls, and invocations when there is no channel. */
  readonly dispatcher: Dispatcher;
  /** The instance's framed invocation channel, when it has one. */
  readonly channel?: InvocationChannel;
  /** Resolves when the instance has gone, for whatever reason. */
  readonly exited: Promise<ExitInfo>;
  /** Set once the instance has exited. */
  readonly exitInfo: ExitInfo | undefined;
  /** Loads a function; rejects with a UserError naming file and line when the code is bad. */
  specialize(request: SpecializeRequest): Promise<void>;
  /** Stops the instance now; in-flight calls on it fail. */
  stop(): Promise<void>;
}

export interface StartInstanceOptions {
  readonly runtime: InstanceRuntime;
  /**
   * The instance will wait in a warm pool: spend start-up time now (warm-up calls, an open
   * connection) so that specializing it later is as fast as possible.
   */
  readonly warm?: boolean;
  /** How the instance reaches the network. @default "outbound" */
  readonly network?: NetworkMode;
  readonly onLog: (line: LogLine) => void;
}

export interface Provider {
  readonly name: string;
  /** How instances are isolated here, e.g. "bubblewrap sandbox, cgroup v1 limits". */
  readonly isolation: string;
  /** Things to tell the operator once at start (no sandbox, no limits). */
  readonly notices: readonly string[];
  start(options: StartInstanceOptions): Promise<Instance>;
  close(): Promise<void>;
}
