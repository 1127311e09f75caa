/**
 * An instance whose runtime server is reached over TCP (a pod, or a process on another port):
 * control calls and plain calls over HTTP, calls over the framed channel when the runtime has
 * one, and call-id-tagged log lines from the runtime's `GET /v2/logs` stream
 * (docs/runtime-protocol.md). What runs the server (kubelet, a child process) is the owner's:
 * it places the package and secrets where the runtime reads them, reports the exit, and ends
 * the instance on stop().
 */
import { Pool } from "undici";
import { onLines } from "../../host/lines.js";
import { exitWithin } from "../exit-report.js";
import { FrameChannel } from "../frame-channel.js";
import { invokeOverHttp } from "../http-invoke.js";
import { specializeRuntime, type SpecializeLocation } from "../runtime-control.js";
import type { InstanceRuntime } from "../../spec/function-spec.js";
import type {
  ExitInfo,
  Instance,
  InvocationRequest,
  InvocationResponse,
  LogLine,
  SpecializeRequest,
} from "../types.js";

export interface RemoteEndpoint {
  readonly host: string;
  /** The runtime's HTTP server (RUNLET_HTTP_ADDRESS). */
  readonly httpPort: number;
  /** The runtime's framed server (RUNLET_FRAME_ADDRESS), when it has one. */
  readonly framePort?: number;
}

/** Where the runtime reads a specialized function's files, as it sees its file system. */
export type PreparedFiles = Omit<SpecializeLocation, "exited">;

export interface RemoteInstanceOptions {
  readonly id: string;
  readonly runtime: InstanceRuntime;
  readonly endpoint: RemoteEndpoint;
  readonly onLog: (line: LogLine) => void;
  /** Resolves when the owner sees the instance go (its process exited, its pod was deleted). */
  readonly gone: Promise<ExitInfo>;
  /** Ends the instance now (kills the process, deletes the pod). */
  readonly terminate: () => Promise<void>;
  /** Puts the package and secrets a specialize request names where the runtime reads them. */
  readonly prepare: (request: SpecializeRequest) => Promise<PreparedFiles>;
  /** How long the runtime may take to answer its health check. @default 15000 */
  readonly readyTimeoutMs?: number;
  /** How long a failed call waits to learn that the instance went. @default 1000 */
  readonly exitReportMs?: number;
  /**
   * After a failed call, ask the runtime whether it still serves its function before waiting
   * `exitReportMs` for an exit: when the exit is reported slowly (a kubelet's), a live
   * instance's failed call is not held that long.
   */
  readonly askAfterFailure?: boolean;
}

/** How often the health check is tried while the runtime starts. */
const readyPollMs = 20;

export class RemoteInstance implements Instance {
  readonly id: string;
  readonly runtime: InstanceRuntime;
  readonly exited: Promise<ExitInfo>;
  readonly #options: RemoteInstanceOptions;
  readonly #http: Pool;
  readonly #channel: FrameChannel | undefined;
  readonly #logs = new AbortController();
  #onLog: (line: LogLine) => void;
  #exitInfo: ExitInfo | undefined;
  #functionName: string | undefined;

  private constructor(options: RemoteInstanceOptions) {
    this.id = options.id;
    this.runtime = options.runtime;
    this.#options = options;
    this.#onLog = options.onLog;
    const { host, httpPort, framePort } = options.endpoint;
    this.#http = new Pool(`http://${host}:${httpPort}`, {
      connections: 256,
      keepAliveTimeout: 30_000,
      // Function timeouts are enforced by the router; undici's own must not fire first.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
    this.#channel =
      framePort === undefined ? undefined : new FrameChannel({ host, port: framePort });
    this.exited = options.gone.then((info) => {
      this.#exitInfo = info;
      this.#logs.abort();
      this.#channel?.close();
      void this.#http.destroy().catch(() => undefined);
      return info;
    });
  }

  /** Connects to a starting runtime server; resolves once it answers its health check. */
  static async connect(options: RemoteInstanceOptions): Promise<RemoteInstance> {
    const instance = new RemoteInstance(options);
    try {
      await instance.#waitReady(options.readyTimeoutMs ?? 15_000);
      instance.#followLogs();
    } catch (error) {
      await instance.stop();
      throw error;
    }
    return instance;
  }

  get exitInfo(): ExitInfo | undefined {
    return this.#exitInfo;
  }

  /** Lines from now on go to `onLog`. */
  adopt(onLog: (line: LogLine) => void): void {
    this.#onLog = onLog;
  }

  /** A line the owner read from the instance's own output (untagged: no call id). */
  log(stream: "stdout" | "stderr", text: string): void {
    this.#emit(stream, text, undefined);
  }

  invoke(request: InvocationRequest): Promise<InvocationResponse> {
    return this.#channel ? this.#channel.invoke(request) : invokeOverHttp(this.#http, request);
  }

  async exitCausing(_failure: unknown): Promise<ExitInfo | undefined> {
    if (!this.#exitInfo && this.#options.askAfterFailure && (await this.#servesFunction())) {
      return undefined;
    }
    return exitWithin(this, this.#options.exitReportMs ?? 1000);
  }

  /**
   * Whether the runtime answers as a specialized instance: one that restarted in place (a
   * pod's container) answers as a generic one, and is not this instance any more.
   */
  async #servesFunction(): Promise<boolean> {
    try {
      const response = await this.#http.request({
        path: "/healthz",
        method: "GET",
        signal: AbortSignal.timeout(1000),
      });
      const answer = (await response.body.json()) as { specialized?: unknown };
      return response.statusCode === 200 && answer.specialized === true;
    } catch {
      return false;
    }
  }

  async specialize(request: SpecializeRequest): Promise<void> {
    const files = await this.#options.prepare(request);
    this.#functionName = request.name;
    await specializeRuntime(this.#http, request, { ...files, exited: this.exited });
  }

  async stop(): Promise<void> {
    if (!this.#exitInfo) {
      await this.#options.terminate();
    }
    await this.exited;
  }

  async #waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    while (Date.now() < deadline) {
      if (this.#exitInfo) {
        throw new Error(`instance ${this.#exitInfo.message} before it was ready`);
      }
      try {
        const response = await this.#http.request({ path: "/healthz", method: "GET" });
        await response.body.text();
        if (response.statusCode === 200) {
          await this.#channel?.open();
          return;
        }
        lastError = new Error(`health check answered ${response.statusCode}`);
      } catch (error) {
        lastError = error;
      }
      await new Promise((resolve) => setTimeout(resolve, readyPollMs));
    }
    throw new Error(
      `instance did not answer its health check within ${timeoutMs} ms (${(lastError as Error | undefined)?.message ?? "no answer"})`,
    );
  }

  /** Reads the runtime's tagged log lines until the instance goes. */
  #followLogs(): void {
    void this.#http
      .request({ path: "/v2/logs", method: "GET", signal: this.#logs.signal })
      .then((response) => {
        if (response.statusCode !== 200) {
          void response.body.text();
          this.#emit("stderr", `runlet: the runtime's log stream answered ${response.statusCode}`);
          return;
        }
        onLines(response.body, (line) => this.#logLine(line));
      })
      .catch(() => undefined); // ends with the instance
  }

  #logLine(line: string): void {
    let record: { time?: unknown; stream?: unknown; callId?: unknown; text?: unknown };
    try {
      record = JSON.parse(line) as typeof record;
    } catch {
      this.#emit("stderr", line);
      return;
    }
    this.#emit(
      record.stream === "stdout" ? "stdout" : "stderr",
      typeof record.text === "string" ? record.text : String(record.text),
      typeof record.callId === "string" ? record.callId : undefined,
      typeof record.time === "number" ? record.time : undefined,
    );
  }

  #emit(stream: "stdout" | "stderr", text: string, callId?: string, time = Date.now()): void {
    this.#onLog({
      time,
      instanceId: this.id,
      functionName: this.#functionName,
      callId,
      stream,
      text,
    });
  }
}
