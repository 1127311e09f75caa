/**
 * The operator's machinery, whatever it reconciles: informers (started on every replica, so a
 * standby has warm caches when it takes over), controllers whose workers run only on the
 * leader, Lease leader election, and the /healthz, /readyz and /metrics server. What it
 * reconciles is added with informer() and controller() before start().
 */
import { systemClock, type Clock } from "../clock.js";
import { Controller, type Reconciler } from "./controller.js";
import { startHealthServer, type HealthServer } from "./health-server.js";
import { Informer, objectKey, type InformerOptions } from "./informer.js";
import type { KubeClient, KubeObject, ResourceType } from "./kube-client.js";
import { LeaderElection } from "./leader-election.js";
import { createOperatorMetrics, type OperatorMetrics } from "./operator-metrics.js";
import type { WorkQueueOptions } from "./work-queue.js";

export interface OperatorOptions {
  readonly client: KubeClient;
  /** Where the leader Lease lives. */
  readonly leaseNamespace: string;
  readonly leaseName: string;
  readonly fieldManager: string;
  /** @default hostname and a random suffix */
  readonly identity?: string;
  /** @default 15_000 */
  readonly leaseDurationMs?: number;
  /** @default 10_000 */
  readonly renewDeadlineMs?: number;
  /** @default 2_000 */
  readonly retryPeriodMs?: number;
  /** Address of /healthz, /readyz and /metrics; port 0 picks one. @default 127.0.0.1:0 */
  readonly host?: string;
  readonly port?: number;
  /** Informers' server-side watch length (tests shorten it). @default 300 */
  readonly watchTimeoutSeconds?: number;
  readonly log?: (level: "info" | "warn" | "error", message: string) => void;
  /** @default systemClock */
  readonly clock?: Clock;
}

/** Where a controller's keys come from: an informer's changes, mapped to keys of its own kind. */
export interface ControllerSource<T extends KubeObject = KubeObject> {
  readonly informer: Informer<T>;
  /** @default the changed object's own key */
  readonly keys?: (key: string, current: T | undefined, previous: T | undefined) => string[];
}

export interface ControllerDefinition {
  readonly reconciler: Reconciler;
  readonly sources: readonly ControllerSource[];
  /** @default 4 */
  readonly workers?: number;
  readonly queue?: WorkQueueOptions;
}

export class Operator {
  readonly client: KubeClient;
  readonly metrics: OperatorMetrics;
  readonly election: LeaderElection;
  readonly #options: OperatorOptions;
  readonly #informers: Informer<KubeObject>[] = [];
  readonly #controllers: { controller: Controller; sources: readonly ControllerSource[] }[] = [];
  #server: HealthServer | undefined;
  #started = false;

  constructor(options: OperatorOptions) {
    this.#options = options;
    this.client = options.client;
    this.metrics = createOperatorMetrics();
    const log = options.log ?? (() => undefined);
    this.election = new LeaderElection({
      client: options.client,
      namespace: options.leaseNamespace,
      leaseName: options.leaseName,
      fieldManager: options.fieldManager,
      ...(options.identity === undefined ? {} : { identity: options.identity }),
      ...(options.leaseDurationMs === undefined
        ? {}
        : { leaseDurationMs: options.leaseDurationMs }),
      ...(options.renewDeadlineMs === undefined
        ? {}
        : { renewDeadlineMs: options.renewDeadlineMs }),
      ...(options.retryPeriodMs === undefined ? {} : { retryPeriodMs: options.retryPeriodMs }),
      clock: options.clock ?? systemClock,
      onStartedLeading: () => {
        log("info", `${this.election.identity} is the leader: reconciling`);
        this.metrics.leader.set(1);
        void this.#startControllers();
      },
      onStoppedLeading: () => {
        log("warn", `${this.election.identity} is no longer the leader: standing by`);
        this.metrics.leader.set(0);
        for (const { controller } of this.#controllers) {
          void controller.stop();
        }
      },
      onNewLeader: (identity) => log("info", `leader: ${identity}`),
      onError: (error) => log("warn", `leader election: ${String(error)}`),
    });
    this.metrics.leader.set(0);
  }

  /** An informer on `type`, started with the operator. */
  informer<T extends KubeObject>(
    type: ResourceType,
    options: Omit<InformerOptions, "client" | "type"> = {},
  ): Informer<T> {
    const log = this.#options.log ?? (() => undefined);
    const informer = new Informer<T>({
      client: this.client,
      type,
      ...(this.#options.watchTimeoutSeconds === undefined
        ? {}
        : { watchTimeoutSeconds: this.#options.watchTimeoutSeconds }),
      onError: (error) => log("warn", `informer ${type.plural}: ${String(error)}`),
      ...options,
    });
    this.#informers.push(informer as unknown as Informer<KubeObject>);
    return informer;
  }

  controller(definition: ControllerDefinition): Controller {
    const log = this.#options.log ?? (() => undefined);
    const controller = new Controller({
      reconciler: definition.reconciler,
      metrics: this.metrics,
      ...(definition.workers === undefined ? {} : { workers: definition.workers }),
      ...(definition.queue === undefined ? {} : { queue: definition.queue }),
      onError: (key, error) =>
        log("warn", `${definition.reconciler.name} ${key}: ${errorText(error)}`),
    });
    for (const source of definition.sources) {
      source.informer.onChange((key, current, previous) => {
        const keys = source.keys === undefined ? [key] : source.keys(key, current, previous);
        for (const k of keys) {
          controller.enqueue(k);
        }
      });
    }
    this.#controllers.push({ controller, sources: definition.sources });
    return controller;
  }

  get url(): string {
    if (this.#server === undefined) {
      throw new Error("the operator has not started");
    }
    return this.#server.url;
  }

  get synced(): boolean {
    return this.#informers.every((informer) => informer.hasSynced);
  }

  /** Undefined when ready: caches synced and the election decided (leader, or another leads). */
  notReady(): string | undefined {
    // "functions.kubeless.io": three groups here have a kind with that plural.
    const waiting = this.#informers
      .filter((i) => !i.hasSynced)
      .map((i) => (i.type.group === "" ? i.type.plural : `${i.type.plural}.${i.type.group}`));
    if (waiting.length > 0) {
      return `caches not synced: ${waiting.join(", ")}`;
    }
    if (this.election.state === "unknown") {
      return "leader election undecided";
    }
    return undefined;
  }

  async start(): Promise<void> {
    if (this.#started) {
      throw new Error("the operator has started already");
    }
    this.#started = true;
    this.#server = await startHealthServer({
      host: this.#options.host ?? "127.0.0.1",
      port: this.#options.port ?? 0,
      registry: this.metrics.registry,
      notReady: () => this.notReady(),
      beforeScrape: () => this.collect(),
    });
    for (const informer of this.#informers) {
      this.metrics.relists.set({ resource: informer.type.plural }, 0);
      informer.start();
    }
    this.election.start();
  }

  /** Stops acting (releasing the Lease when leader), then the informers and the server. */
  async stop(): Promise<void> {
    await this.election.stop();
    await Promise.all(this.#controllers.map(({ controller }) => controller.shutDown()));
    await Promise.all(this.#informers.map((informer) => informer.stop()));
    await this.#server?.close();
    await this.client.close();
  }

  /** Refreshes the gauges read from informers (called on each scrape and by tests). */
  collect(): void {
    for (const informer of this.#informers) {
      this.metrics.relists.set({ resource: informer.type.plural }, informer.relistsAfterGone);
      this.metrics.cachedObjects.set({ resource: informer.type.plural }, informer.size);
    }
    for (const { controller } of this.#controllers) {
      this.metrics.queueDepth.set({ controller: controller.name }, controller.queue.depth);
    }
  }

  async #startControllers(): Promise<void> {
    // Act on a full picture: wait for the caches, then look at every object once.
    await Promise.all(this.#informers.map((informer) => informer.synced()));
    if (!this.election.isLeader) {
      return;
    }
    for (const { controller, sources } of this.#controllers) {
      for (const source of sources) {
        for (const object of source.informer.list()) {
          const key = objectKey(object);
          const keys = source.keys === undefined ? [key] : source.keys(key, object, undefined);
          for (const k of keys) {
            controller.enqueue(k);
          }
        }
      }
      controller.start();
    }
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
