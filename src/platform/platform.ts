/**
 * The platform as a library (CONVENTIONS.md rule 1) and its composition root: stores, queue,
 * executor, router and provider wired together, with the operations every shell (HTTP API,
 * CLI, tests) calls. The gateway only parses requests and calls these. Nothing below imports
 * this module; another composition (Kubernetes mode) passes its own provider, stores, queue
 * and clock as options, and `Platform.open` without them is the embedded platform.
 */
import { hkdfSync, randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import { join } from "node:path";
import type { BuildEventSink } from "../build/build-events.js";
import { Builder } from "../build/builder.js";
import type { AsyncCallQueue } from "../calls/async-call-queue.js";
import { CallQueue, type CallQueueHost, type CallQueueOptions } from "../calls/call-queue.js";
import { systemClock, type Clock } from "../clock.js";
import { UserError } from "../errors.js";
import { Executor, type RevisionStatus } from "../executor/executor.js";
import type { RevisionTarget } from "../executor/revision-target.js";
import { LocalProvider } from "../provider/local/local-provider.js";
import type { LogLine, Provider, ProviderContext } from "../provider/types.js";
import { callFunction, type CallRouting } from "../router/call.js";
import { PlatformCredentials } from "../router/credentials.js";
import { functionNotFound, requireTarget } from "../router/revision-lookup.js";
import {
  resolveFunctionConfig,
  assertAuthFields,
  assertExecFields,
  revisionHash,
  type DeployRequest,
  type FunctionConfig,
  type FunctionSpec,
} from "../spec/function-spec.js";
import { assertValidName } from "../spec/names.js";
import {
  defaultNamespace,
  isInNamespace,
  namespaceNamed,
  namespaceOfKey,
  qualifiedName,
  splitQualifiedName,
} from "../spec/namespaces.js";
import { CallStore } from "../store/call-store.js";
import { openDatabase } from "../store/database.js";
import {
  SqliteFunctionStore,
  type FunctionRecord,
  type FunctionStore,
  type RevisionRecord,
} from "../store/function-store.js";
import { LogStore } from "../store/log-store.js";
import {
  PackageStore,
  SqlitePackageIndex,
  type PackageStoreOptions,
} from "../store/package-store.js";
import { SqliteSecretStore, type SecretStore } from "../store/secret-store.js";
import { SqliteQuotaStore, type QuotaStore } from "../store/quota-store.js";
import { SqliteConfigStore, type ConfigStore } from "../store/config-store.js";
import { SqliteImageTagStore, type ImageTagStore } from "../store/image-tag-store.js";
import { SqliteTriggerStore, type TriggerStore } from "../store/trigger-store.js";
import { SqliteTokenStore, type TokenStore } from "../store/token-store.js";
import { SqliteAuditLog, type AuditLog } from "../store/audit-log.js";
import { Triggers } from "../triggers/triggers.js";
import { triggersHash } from "../spec/trigger-spec.js";
import { openDataDir, type DataDir } from "./data-dir.js";
import { KeyedLock } from "../keyed-lock.js";
import { RevisionTargets } from "./revision-targets.js";
import { PackageGrants } from "../packaging/package-grant.js";
import { defaultFunctionNamespace } from "../kubernetes/names.js";
import { triggerHostOf } from "./trigger-host.js";
import type { ReplicaDirectory } from "./gateway-replicas.js";

/**
 * Where the platform keeps its state; the embedded default is one SQLite file. In Kubernetes
 * mode functions, revisions, triggers and secrets are objects on the API server and packages a
 * folder the replicas share (kubernetes-stores.ts).
 */
export interface PlatformStores {
  readonly functions: FunctionStore;
  readonly packages: PackageStore;
  readonly secrets: SecretStore;
  readonly configs: ConfigStore;
  /** Image names standing for packages (runlet push, faas-cli deploy of that image). */
  readonly imageTags: ImageTagStore;
  readonly logs: LogStore;
  readonly triggers: TriggerStore;
  readonly calls: CallStore;
  /** Scoped API tokens and function invoke keys (hashed). */
  readonly tokens: TokenStore;
  /** The hash-chained log of control actions. */
  readonly audit: AuditLog;
  /** Namespace quotas; without a store (Kubernetes mode) namespaces have none. */
  readonly quotas?: QuotaStore;
  /** Closes what backs them; called last by Platform.close(). */
  close(): void | Promise<void>;
}

/** The async call queue as the platform and its shells use it (src/calls/async-call-queue.ts). */
export type { AsyncCallQueue } from "../calls/async-call-queue.js";

/** What a queue other than the embedded one is built from (Platform.open's `queue` option). */
export interface QueueParts {
  readonly host: CallQueueHost;
  readonly stores: PlatformStores;
  /** The data directory's 32-byte secrets key: seals credential headers stored with a call. */
  readonly sealKey: Buffer;
  readonly options: CallQueueOptions | undefined;
  readonly clock: Clock;
}

export interface PlatformOptions {
  /** Where state lives. */
  readonly dataDir: string;
  /** Preset admin token (RUNLET_ADMIN_TOKEN); generated on first start otherwise. */
  readonly adminToken?: string;
  /**
   * Preset 32-byte secrets key (Kubernetes mode: from the Secret every replica mounts, so each
   * opens what another sealed); kept in the data directory otherwise.
   */
  readonly secretsKey?: Buffer;
  /** @default a LocalProvider */
  readonly provider?: (context: ProviderContext) => Promise<Provider>;
  /** @default SQLite stores in the data directory */
  readonly stores?: (dataDir: DataDir) => PlatformStores | Promise<PlatformStores>;
  /** @default a CallQueue on the stores' call store; JetStreamCallQueue.factory for NATS */
  readonly queue?: (parts: QueueParts) => AsyncCallQueue;
  /** Time for scaling, back-off, retries and sweeps. @default systemClock */
  readonly clock?: Clock;
  /** Largest package once unpacked. @default 256 MiB */
  readonly maxPackageBytes?: number;
  /** Package store: collection grace period, compression-ratio limit, clock. */
  readonly packages?: PackageStoreOptions;
  /** Generic instances kept warm per runtime; 0 spawns on demand. @default 2 */
  readonly poolSize?: number;
  /** Calls one function may hold waiting for an instance before 429. @default 1000 */
  readonly maxQueue?: number;
  /** Autoscaler tick (tests shorten it). @default 1000 */
  readonly tickIntervalMs?: number;
  /** Autoscaler stable window for functions that set none. @default 60000 */
  readonly stableWindowMs?: number;
  /** Sandbox instances and builds where the host allows ("auto"), or never ("none"). @default "auto" */
  readonly sandbox?: "auto" | "none";
  /** Longest one build tool (npm, pip, go) may run. @default 600000 (10 minutes) */
  readonly buildTimeoutMs?: number;
  /** Builds that run at once; more wait their turn. @default 2 */
  readonly buildConcurrency?: number;
  /**
   * Whether dependencies' install code (npm scripts, setup.py, Maven plugins) may run where
   * builds are not sandboxed: "sandboxed-only" never runs it there (Kubernetes mode, whose
   * gateway pod holds the platform's credentials). @default "run"
   */
  readonly buildPackageCode?: "run" | "sandboxed-only";
  /**
   * The build tools' caches (npm, pip, Go's build and module caches, Maven's repository); only
   * download and compile caches, never a function's packages. @default `<data>/builds/cache`
   */
  readonly buildCacheDir?: string;
  /** Async calls: concurrency cap, retry back-off, result size, retention (docs/async.md). */
  readonly calls?: CallQueueOptions;
  /** NATS server for NATS triggers (RUNLET_NATS_URL); without one they are refused. */
  readonly natsUrl?: string;
  /**
   * Lets instances elsewhere (pods) fetch packages from this platform's gateway with a grant:
   * the gateway's URL as instances reach it, and the signing key every gateway replica shares
   * (by default one derived from the data directory's secrets key, which replicas share).
   * Without it no grant is issued and the package archive route refuses every token.
   */
  readonly packageGrants?: { readonly key?: Buffer; readonly gatewayUrl: string };
  /**
   * The other gateway replicas (Kubernetes mode), whose instances a function's view includes.
   * @default none: this process runs all of them
   */
  readonly replicas?: ReplicaDirectory;
  /**
   * Which namespaces objects may be in: any (embedded), or only the default one (Kubernetes
   * mode, whose stores keep one Kubernetes namespace's objects for now).
   * @default "any"
   */
  readonly namespaces?: "any" | "default-only";
}

export interface DeployOptions {
  /** Receives the build's progress and the tools' output while the deploy builds. */
  readonly onBuildEvent?: BuildEventSink;
}

export type DeployOutcome = "created" | "updated" | "unchanged";

export interface DeployResult {
  readonly name: string;
  readonly revision: number;
  readonly outcome: DeployOutcome;
}

/** A function as the API and CLI show it. */
export interface FunctionView {
  readonly name: string;
  readonly revision: number;
  readonly spec: FunctionSpec;
  readonly config: FunctionConfig;
  readonly packageDigest: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly replicas: number;
  readonly availableReplicas: number;
  readonly instances: readonly RevisionStatus[];
}

export class Platform {
  readonly dataDir: DataDir;
  /** The tokens the platform accepts; never passed on to a function (issue 13). */
  readonly credentials: PlatformCredentials;
  readonly functions: FunctionStore;
  readonly packages: PackageStore;
  /** Checks the grants instances fetch package archives with (GET /api/v1/packages/:digest/archive). */
  readonly packageGrants: PackageGrants;
  readonly secrets: SecretStore;
  /** Config maps: values that are not secret, read by functions as files. */
  readonly configs: ConfigStore;
  /** Image names standing for packages (issue 17): what an OpenFaaS deploy's image resolves to. */
  readonly imageTags: ImageTagStore;
  readonly logs: LogStore;
  /** Scoped API tokens and function invoke keys (issue 18). */
  readonly tokens: TokenStore;
  /** Every control action, hash-chained (issue 18). */
  readonly audit: AuditLog;
  /** Active revisions by function name, as the router runs them. */
  readonly targets: RevisionTargets;
  readonly executor: Executor;
  readonly provider: Provider;
  readonly builder: Builder;
  /** Durable async calls: enqueue, status, workers. */
  readonly calls: AsyncCallQueue;
  /** HTTP routes, cron schedules and NATS subscriptions that call functions. */
  readonly triggers: Triggers;
  /** What buffered calls (async workers, triggers) run through. */
  readonly routing: CallRouting;
  /** "coldStart" (ColdStartEvent), "callAttempt" and "backgroundError" (failures nobody waits for). */
  readonly events: EventEmitter;
  readonly clock: Clock;
  /** The other gateway replicas, when there are any (Kubernetes mode). */
  readonly replicas: ReplicaDirectory | undefined;
  readonly #stores: PlatformStores;
  readonly #lock = new KeyedLock();
  /** Packages of deploys in progress (uploaded sources, fresh builds): never collected. */
  readonly #deploying = new Map<string, number>();
  readonly #unsubscribe: (() => void) | undefined;
  readonly #namespaces: "any" | "default-only";

  private constructor(
    dataDir: DataDir,
    stores: PlatformStores,
    provider: Provider,
    events: EventEmitter,
    packageGrants: PackageGrants,
    options: PlatformOptions,
  ) {
    this.dataDir = dataDir;
    this.events = events;
    this.clock = options.clock ?? systemClock;
    this.replicas = options.replicas;
    this.#namespaces = options.namespaces ?? "any";
    this.credentials = new PlatformCredentials([dataDir.adminToken], {
      store: stores.tokens,
      now: () => Date.now(),
    });
    this.tokens = stores.tokens;
    this.audit = stores.audit;
    this.#stores = stores;
    this.functions = stores.functions;
    this.packages = stores.packages;
    this.packageGrants = packageGrants;
    this.secrets = stores.secrets;
    this.configs = stores.configs;
    this.imageTags = stores.imageTags;
    this.logs = stores.logs;
    this.targets = new RevisionTargets(stores);
    this.builder = new Builder({
      root: join(dataDir.root, "builds"),
      cacheRoot: options.buildCacheDir,
      packages: this.packages,
      timeoutMs: options.buildTimeoutMs,
      concurrency: options.buildConcurrency,
      sandbox: options.sandbox,
      packageCode: options.buildPackageCode,
    });
    this.provider = provider;
    this.executor = new Executor({
      provider: this.provider,
      maxQueue: options.maxQueue,
      tickIntervalMs: options.tickIntervalMs,
      stableWindowMs: options.stableWindowMs,
      clock: this.clock,
      onColdStart: (event) => this.events.emit("coldStart", event),
      onError: (error) => this.events.emit("backgroundError", error),
      onLog: (line) => appendLog(this.logs, line),
      instanceQuota: {
        groupOf: namespaceOfKey,
        limitOf: (namespace) => stores.quotas?.get(namespace),
      },
    });
    const routing: CallRouting = {
      executor: this.executor,
      revisions: this.targets,
      credentials: this.credentials,
    };
    this.routing = routing;
    const queueHost: CallQueueHost = {
      revisions: this.targets,
      credentials: this.credentials,
      call: (call, signal) => callFunction(routing, call, signal),
      onError: (error) => this.events.emit("backgroundError", error),
      onAttempt: (event) => this.events.emit("callAttempt", event),
    };
    this.calls = options.queue
      ? options.queue({
          host: queueHost,
          stores,
          sealKey: dataDir.secretsKey,
          options: options.calls,
          clock: this.clock,
        })
      : new CallQueue({
          host: queueHost,
          store: stores.calls,
          options: options.calls,
          clock: this.clock,
        });
    this.triggers = new Triggers({
      store: stores.triggers,
      host: triggerHostOf({
        revisions: this.targets,
        functions: this.functions,
        routing,
        calls: this.calls,
        onError: (error) => this.events.emit("backgroundError", error),
      }),
      natsUrl: options.natsUrl,
    });
    this.#unsubscribe = stores.functions.onChange?.((name) => this.#functionChanged(name));
  }

  /**
   * Another writer changed a function (another gateway replica deployed, rolled back or removed
   * it; kubectl; the operator): its active revision serves from now on, with its triggers, as
   * after a deploy here. A trigger it cannot have (a route another function holds) is reported.
   */
  #functionChanged(name: string): void {
    void this.#lock
      .run(name, async () => {
        const record = this.functions.get(name);
        if (!record) {
          this.targets.forget(name);
          await this.executor.retire(name);
          await this.triggers.removeFunction(name);
          return;
        }
        if (this.targets.cached(name)?.revision === String(record.active.number)) {
          return;
        }
        const target = this.targets.targetOf(record.active);
        this.targets.activate(target);
        this.executor.ensureMin(target);
        void this.executor.retire(name, target.revision);
        // A revision made elsewhere (kubectl, the operator) brings the triggers it declares;
        // after another replica's deploy they are there already, and nothing is written.
        const triggers = record.active.spec.triggers ?? [];
        await this.triggers.checkSpecTriggers(name, triggers);
        await this.triggers.setSpecTriggers(name, triggers);
      })
      .catch((error: unknown) => this.events.emit("backgroundError", error));
  }

  static async open(options: PlatformOptions): Promise<Platform> {
    const dataDir = await openDataDir(options.dataDir, options.adminToken, options.secretsKey);
    const stores = await (options.stores ?? embeddedStores(options))(dataDir);
    const events = new EventEmitter();
    const grants = options.packageGrants;
    const signer = packageGrantsOf(options, dataDir);
    const context: ProviderContext = {
      packages: {
        localPath: (digest) => stores.packages.treePath(digest),
        ...(grants && {
          grant: (digest: string, instanceId: string) =>
            Promise.resolve({
              url: `${grants.gatewayUrl.replace(/\/$/, "")}/api/v1/packages/${digest}/archive`,
              digest,
              ...signer.issue(digest, instanceId),
            }),
        }),
      },
      secrets: stores.secrets,
      configs: stores.configs,
      onLog: (line) => appendLog(stores.logs, line),
      onError: (error) => events.emit("backgroundError", error),
    };
    let provider: Provider;
    try {
      provider = options.provider
        ? await options.provider(context)
        : await LocalProvider.create({
            ...context,
            workDir: join(dataDir.root, "run"),
            sandbox: options.sandbox,
            poolSize: options.poolSize,
          });
    } catch (error) {
      await stores.close();
      throw error;
    }
    let platform: Platform | undefined;
    try {
      platform = new Platform(dataDir, stores, provider, events, signer, options);
      // Uploads a killed server left half-written (issue 13, item 13).
      await platform.packages.removeLeftovers();
      // Functions with `min > 0` come back warm after a restart.
      for (const record of platform.functions.list()) {
        if (resolveFunctionConfig(record.active.spec).scale.min > 0) {
          platform.executor.ensureMin(platform.target(record.name));
        }
      }
      await platform.calls.start();
      platform.triggers.start();
      return platform;
    } catch (error) {
      // Instances, pools and timers started so far would keep the process alive, not
      // serving (issue 13): stop them before the failure goes up.
      const closed = platform ? platform.close(0) : Promise.reject(new Error("not opened"));
      await closed.catch(async () => {
        await provider.close().catch(() => undefined);
        await stores.close();
      });
      throw error;
    }
  }

  get adminToken(): string {
    return this.dataDir.adminToken;
  }

  /**
   * Deploys a revision: unchanged spec and package → nothing happens; otherwise the new code
   * is loaded into an instance first, and only code that loads becomes active (the previous
   * revision keeps serving when it does not). Sources that need building (dependencies,
   * TypeScript, Go) are built first, and the revision runs the built package; a build that
   * fails leaves the previous revision serving.
   */
  deploy(name: string, request: DeployRequest, options: DeployOptions = {}): Promise<DeployResult> {
    assertValidKey(name);
    return this.#lock.run(name, async () => {
      const { package: packageDigest, ...spec } = request;
      assertExecFields(spec, `spec of function ${name}`);
      assertAuthFields(spec, `spec of function ${name}`);
      if (!this.packages.has(packageDigest) && !this.packages.corrupt(packageDigest)) {
        throw new UserError(
          "RUNLET_PACKAGE_NOT_FOUND",
          `Package ${packageDigest} has not been uploaded; upload it with POST /api/v1/packages first.`,
        );
      }
      // Every deploy checks the source against its digest, so a changed tree is never built or
      // run (issue 13, item 11).
      await this.packages.verify(packageDigest, { again: true });
      const config = resolveFunctionConfig(spec);
      const missing = [
        ...config.secrets,
        ...(config.signature ? [config.signature.secret] : []),
      ].filter((secret) => !this.secrets.has(qualifiedName(secret, namespaceOfKey(name))));
      if (missing.length > 0) {
        throw new UserError(
          "RUNLET_SECRET_NOT_FOUND",
          `Function ${name} names secrets that do not exist${inNamespaceText(name)}: ${missing.join(", ")}. Create them first: runlet secret create NAME --from-literal VALUE${namespaceFlag(name)}`,
        );
      }
      this.#assertConfigsExist(name, config.configs, `Function ${name} names`);
      await this.triggers.checkSpecTriggers(name, spec.triggers ?? []);
      const hash = triggersHash(revisionHash(config, packageDigest), spec.triggers);
      const current = this.functions.get(name);
      if (current === undefined) {
        this.#assertFunctionQuota(name);
      }
      // An unchanged deploy is a no-op only while the package the revision runs is intact and
      // was not replaced since (a replaced tree needs new instances); otherwise it becomes a new
      // revision, rebuilt where the build output was changed.
      if (
        current?.active.hash === hash &&
        (await this.#stillIntact(current.active.packageDigest, packageDigest))
      ) {
        return { name, revision: current.active.number, outcome: "unchanged" };
      }
      // The source and the built package are not referenced by a revision until it is added.
      const holds = [this.#holdPackage(packageDigest)];
      let revision: RevisionRecord;
      try {
        const built = await this.builder.build({
          functionName: name,
          runtime: config.runtime,
          handler: config.handler,
          compat: config.compat,
          sourceDigest: packageDigest,
          emit: options.onBuildEvent,
          onStored: (digest) => holds.push(this.#holdPackage(digest)),
        });
        revision = await this.functions.addRevision(name, spec, built.digest, hash);
      } finally {
        for (const release of holds) {
          release();
        }
      }
      const target = this.targets.targetOf(revision);
      try {
        await this.executor.prepare(target);
      } catch (error) {
        await this.executor.retire(name, current ? String(current.active.number) : undefined);
        await this.functions.discardRevision(name, revision.number);
        throw error;
      }
      await this.functions.activate(name, revision.number);
      await this.triggers.setSpecTriggers(name, spec.triggers ?? []);
      this.targets.activate(target);
      this.executor.ensureMin(target);
      // Old instances finish what they serve, then stop.
      void this.executor.retire(name, target.revision);
      return { name, revision: revision.number, outcome: current ? "updated" : "created" };
    });
  }

  /**
   * Makes an earlier revision the active one again (a pointer move, issue 20): by default the
   * newest revision before the active one. The revision's code is loaded into an instance
   * first, as at deploy, so a rollback to code that no longer starts leaves the active
   * revision serving; its triggers come back with it.
   */
  rollback(name: string, to?: number): Promise<DeployResult> {
    return this.#lock.run(name, async () => {
      const current = this.functions.get(name);
      if (!current) {
        throw functionNotFound(name);
      }
      const revisions = this.functions.revisions(name);
      const target =
        to === undefined
          ? revisions.filter((r) => r.number < current.active.number).pop()
          : revisions.find((r) => r.number === to);
      if (!target) {
        throw to === undefined
          ? new UserError(
              "RUNLET_INVALID_REQUEST",
              `Function ${name} has no revision before ${current.active.number} to roll back to; see its revisions with: runlet revisions ${name}`,
              { status: 409 },
            )
          : new UserError(
              "RUNLET_NOT_FOUND",
              `Function ${name} has no revision ${to}; it has ${revisions.map((r) => r.number).join(", ")} (runlet revisions ${name})`,
            );
      }
      if (target.number === current.active.number) {
        return { name, revision: target.number, outcome: "unchanged" };
      }
      await this.#activateRevision(name, target, current.active.number);
      return { name, revision: target.number, outcome: "updated" };
    });
  }

  /**
   * Sets a function's instance bounds (`runlet scale`): a new revision running the active
   * revision's package with `scale.min`/`scale.max` changed, nothing rebuilt. A deploy from a
   * stack file afterwards sets what the file says.
   */
  scale(
    name: string,
    bounds: { readonly min?: number; readonly max?: number },
  ): Promise<DeployResult> {
    return this.#lock.run(name, async () => {
      const current = this.functions.get(name);
      if (!current) {
        throw functionNotFound(name);
      }
      const { scale: previous, ...rest } = current.active.spec;
      const scale = { ...previous, ...bounds };
      const resolved = resolveFunctionConfig({ ...rest, scale });
      if (bounds.min !== undefined && bounds.max !== undefined && bounds.min > bounds.max) {
        throw new UserError(
          "RUNLET_INVALID_SPEC",
          `scale.min (${bounds.min}) is above scale.max (${bounds.max}); pick a min no larger than the max.`,
        );
      }
      if (resolved.scale.min > (scale.max ?? resolved.scale.max)) {
        throw new UserError(
          "RUNLET_INVALID_SPEC",
          `scale.min (${resolved.scale.min}) would be above scale.max (${scale.max}); give both: runlet scale ${name} --min N --max M`,
        );
      }
      const spec: FunctionSpec = { ...rest, scale };
      const hash = triggersHash(
        revisionHash(resolved, current.active.packageDigest),
        spec.triggers,
      );
      if (hash === current.active.hash) {
        return { name, revision: current.active.number, outcome: "unchanged" };
      }
      const revision = await this.functions.addRevision(
        name,
        spec,
        current.active.packageDigest,
        hash,
      );
      try {
        await this.#activateRevision(name, revision, current.active.number);
      } catch (error) {
        await this.functions.discardRevision(name, revision.number);
        throw error;
      }
      return { name, revision: revision.number, outcome: "updated" };
    });
  }

  /** Loads `revision` into an instance, then points the function at it (rollback, scale). */
  async #activateRevision(name: string, revision: RevisionRecord, previous: number): Promise<void> {
    await this.packages.verify(revision.packageDigest, { again: true });
    const config = resolveFunctionConfig(revision.spec);
    const missing = config.secrets.filter(
      (secret) => !this.secrets.has(qualifiedName(secret, namespaceOfKey(name))),
    );
    if (missing.length > 0) {
      throw new UserError(
        "RUNLET_SECRET_NOT_FOUND",
        `Revision ${revision.number} of ${name} names secrets that no longer exist: ${missing.join(", ")}. Create them first: runlet secret create NAME --from-literal VALUE`,
      );
    }
    this.#assertConfigsExist(name, config.configs, `Revision ${revision.number} of ${name} names`);
    await this.triggers.checkSpecTriggers(name, revision.spec.triggers ?? []);
    const target = this.targets.targetOf(revision);
    try {
      await this.executor.prepare(target);
    } catch (error) {
      await this.executor.retire(name, String(previous));
      throw error;
    }
    await this.functions.activate(name, revision.number);
    await this.triggers.setSpecTriggers(name, revision.spec.triggers ?? []);
    this.targets.activate(target);
    this.executor.ensureMin(target);
    void this.executor.retire(name, target.revision);
  }

  remove(name: string): Promise<void> {
    return this.#lock.run(name, async () => {
      const used = this.functions.get(name)
        ? this.functions.revisions(name).map((revision) => revision.packageDigest)
        : [];
      if (!(await this.functions.remove(name))) {
        throw functionNotFound(name);
      }
      // Their grace period before collection starts now (issue 13, item 10).
      this.packages.release(used);
      // A function made again under this name starts without the old one's invoke keys.
      await this.tokens.removeFunctionKeys(defaultFunctionNamespace, name);
      this.targets.forget(name);
      await this.triggers.removeFunction(name);
      this.logs.remove(name);
      await this.executor.retire(name);
      const referenced = this.functions.referencedPackages();
      // A pushed image's package waits for its deploy however long that takes.
      for (const digest of this.imageTags.referencedPackages()) {
        referenced.add(digest);
      }
      for (const digest of this.#deploying.keys()) {
        referenced.add(digest);
      }
      await this.packages.collect(referenced);
    });
  }

  /** The active revision of a function, as the router needs it; undefined when unknown. */
  findTarget(name: string): RevisionTarget | undefined {
    return this.targets.find(name);
  }

  /** One revision of a function, active or not (a canary route may name one). */
  findRevisionTarget(name: string, revision: number): RevisionTarget | undefined {
    return this.targets.findRevision(name, revision);
  }

  target(name: string): RevisionTarget {
    return requireTarget(this.targets, name);
  }

  get(name: string): FunctionView {
    const record = this.functions.get(name);
    if (!record) {
      throw functionNotFound(name);
    }
    return this.#view(record);
  }

  /** A 403 when a new function would take its namespace past its quota of functions. */
  #assertFunctionQuota(key: string): void {
    const namespace = namespaceOfKey(key);
    const most = this.#stores.quotas?.get(namespace)?.functions;
    if (most === undefined) {
      return;
    }
    const held = this.functions.list().filter((fn) => isInNamespace(fn.name, namespace)).length;
    if (held >= most) {
      throw new UserError(
        "RUNLET_QUOTA_EXCEEDED",
        `Namespace ${namespace} has ${held} functions, its quota of ${most}; remove one (runlet remove NAME -n ${namespace}) or ask an admin to raise the quota (runlet namespace quota ${namespace} --functions N).`,
        { status: 403 },
      );
    }
  }

  /** The namespace quotas store, when this platform keeps quotas. */
  get quotas(): QuotaStore | undefined {
    return this.#stores.quotas;
  }

  /** A 400 for a namespace this platform keeps no objects in (see PlatformOptions.namespaces). */
  assertNamespaceServed(namespace: string): void {
    if (this.#namespaces === "default-only" && namespace !== defaultNamespace) {
      throw new UserError(
        "RUNLET_INVALID_REQUEST",
        `Namespace ${namespace}: Runlet on Kubernetes keeps its objects in one namespace for now, ${defaultNamespace}; drop --namespace (or run embedded, which has namespaces).`,
      );
    }
  }

  /**
   * The namespaces in use: the default one, and every one a function, secret, config map or
   * token is in (a namespace is made by putting something in it, as OpenFaaS lists them).
   */
  namespaces(): string[] {
    const keys = [
      ...this.functions.list().map((fn) => fn.name),
      ...this.secrets.list().map((secret) => secret.name),
      ...this.configs.list().map((config) => config.name),
    ];
    return [
      ...new Set([
        defaultNamespace,
        ...keys.map(namespaceOfKey),
        ...this.tokens.list().map((token) => token.namespace),
      ]),
    ].sort();
  }

  list(): FunctionView[] {
    return this.functions.list().map((record) => this.#view(record));
  }

  revisions(name: string): RevisionRecord[] {
    if (!this.functions.get(name)) {
      throw functionNotFound(name);
    }
    return this.functions.revisions(name);
  }

  /** Config maps are those of the function's namespace (`key` is the function's). */
  #assertConfigsExist(key: string, names: readonly string[], who: string): void {
    const namespace = namespaceOfKey(key);
    const missing = names.filter((config) => !this.configs.has(qualifiedName(config, namespace)));
    if (missing.length > 0) {
      throw new UserError(
        "RUNLET_CONFIG_NOT_FOUND",
        `${who} config maps that do not exist${inNamespaceText(key)}: ${missing.join(", ")}. Create them first: runlet config create NAME --key KEY=VALUE${namespaceFlag(key)}`,
      );
    }
  }

  /** Removes a config map no function's active revision names. */
  async removeConfig(name: string): Promise<void> {
    const { name: bare, namespace } = splitQualifiedName(name);
    const users = this.functions
      .list()
      .filter(
        (fn) =>
          isInNamespace(fn.name, namespace) &&
          resolveFunctionConfig(fn.active.spec).configs.includes(bare),
      )
      .map((fn) => fn.name);
    if (users.length > 0) {
      throw new UserError(
        "RUNLET_INVALID_REQUEST",
        `Config map ${name} is used by ${users.join(", ")}; remove it from their specs first.`,
        { status: 409 },
      );
    }
    if (!(await this.configs.remove(name))) {
      throw new UserError(
        "RUNLET_CONFIG_NOT_FOUND",
        `Config map ${name} does not exist; see the config maps with: runlet config list`,
      );
    }
  }

  /** Removes a secret (`name` is its key) no function of its namespace names. */
  async removeSecret(name: string): Promise<void> {
    const { name: bare, namespace } = splitQualifiedName(name);
    const users = this.functions
      .list()
      .filter((fn) => {
        const config = resolveFunctionConfig(fn.active.spec);
        return (
          isInNamespace(fn.name, namespace) &&
          (config.secrets.includes(bare) || config.signature?.secret === bare)
        );
      })
      .map((fn) => fn.name);
    if (users.length > 0) {
      throw new UserError(
        "RUNLET_INVALID_REQUEST",
        `Secret ${name} is used by ${users.join(", ")}; remove it from their specs first.`,
        { status: 409 },
      );
    }
    if (!(await this.secrets.remove(name))) {
      throw new UserError(
        "RUNLET_SECRET_NOT_FOUND",
        `Secret ${name} does not exist; see the secrets with: runlet secret list`,
      );
    }
  }

  async close(graceMs = 10_000): Promise<void> {
    const started = Date.now();
    await this.triggers.close();
    await this.calls.close(graceMs);
    await this.executor.close(Math.max(0, graceMs - (Date.now() - started)));
    await this.provider.close();
    this.#unsubscribe?.();
    this.logs.close();
    await this.#stores.close();
  }

  /** `source` was checked just now; any other package is checked again. */
  async #stillIntact(digest: string, source: string): Promise<boolean> {
    try {
      await this.packages.verify(digest, { again: digest !== source });
    } catch {
      return false;
    }
    return !this.packages.takeReplaced(digest);
  }

  #holdPackage(digest: string): () => void {
    this.#deploying.set(digest, (this.#deploying.get(digest) ?? 0) + 1);
    return () => {
      const count = (this.#deploying.get(digest) ?? 1) - 1;
      if (count > 0) {
        this.#deploying.set(digest, count);
      } else {
        this.#deploying.delete(digest);
      }
    };
  }

  #view(record: FunctionRecord): FunctionView {
    const config = resolveFunctionConfig(record.active.spec);
    const instances = this.executor.status(record.name);
    const revision = String(record.active.number);
    const active = instances.find((s) => s.revision === revision);
    // In a cluster, the pods other gateway replicas run count too.
    const cluster = this.provider.clusterInstances?.(record.name, revision);
    return {
      name: record.name,
      revision: record.active.number,
      spec: record.active.spec,
      config,
      packageDigest: record.active.packageDigest,
      createdAt: record.createdAt,
      updatedAt: record.updatedAt,
      replicas: Math.max(config.scale.min, cluster?.instances ?? active?.replicas ?? 0),
      availableReplicas: cluster?.ready ?? active?.ready ?? 0,
      instances,
    };
  }
}

/** A provider's line in the log store; generic instances log as the platform. */
function appendLog(logs: LogStore, line: LogLine): void {
  logs.append({
    functionName: line.functionName ?? "_platform",
    instance: line.instanceId,
    callId: line.callId,
    stream: line.stream,
    time: line.time,
    text: line.text,
  });
}

/** The embedded stores: one SQLite database in the data directory. */
function embeddedStores(options: PlatformOptions): (dataDir: DataDir) => PlatformStores {
  return (dataDir) => {
    const db = openDatabase(join(dataDir.root, "runlet.db"));
    return {
      functions: new SqliteFunctionStore(db),
      packages: new PackageStore(
        new SqlitePackageIndex(db),
        dataDir.packagesDir,
        { maxUnpackedBytes: options.maxPackageBytes ?? 256 * 2 ** 20, maxFiles: 50_000 },
        options.packages,
      ),
      secrets: new SqliteSecretStore(db, dataDir.secretsKey),
      configs: new SqliteConfigStore(db),
      imageTags: new SqliteImageTagStore(db),
      quotas: new SqliteQuotaStore(db),
      logs: new LogStore(db),
      triggers: new SqliteTriggerStore(db),
      calls: new CallStore(db, dataDir.secretsKey),
      tokens: new SqliteTokenStore(db),
      audit: new SqliteAuditLog(db),
      close: () => {
        db.close();
      },
    };
  };
}

/**
 * The grant signer and checker: the configured key; with grants but no key, one derived from
 * the secrets key (so replicas sharing it check each other's grants); without grants a random
 * one, so no token ever opens a package.
 */
function packageGrantsOf(options: PlatformOptions, dataDir: DataDir): PackageGrants {
  const grants = options.packageGrants;
  const key = grants
    ? (grants.key ??
      Buffer.from(hkdfSync("sha256", dataDir.secretsKey, "", "runlet package grants", 32)))
    : randomBytes(32);
  return new PackageGrants({ key });
}

/** A function's key (NAME, or NAME.NAMESPACE): a 400 naming what is wrong with either part. */
function assertValidKey(key: string): void {
  const { name, namespace } = splitQualifiedName(key);
  assertValidName(name);
  namespaceNamed(namespace);
}

/** " in namespace N" for a function outside the default namespace, for messages. */
function inNamespaceText(key: string): string {
  const namespace = namespaceOfKey(key);
  return namespace === defaultNamespace ? "" : ` in namespace ${namespace}`;
}

/** The CLI flag that names the namespace of `key`, for messages' commands. */
function namespaceFlag(key: string): string {
  const namespace = namespaceOfKey(key);
  return namespace === defaultNamespace ? "" : ` -n ${namespace}`;
}
