/**
 * The platform's triggers (docs/triggers.md): validates and stores them, keeps the HTTP route
 * table current, and runs the cron scheduler and the NATS subscriptions for them.
 */
import { splitQualifiedName } from "../spec/namespaces.js";
import { UserError } from "../errors.js";
import { nameProblem } from "../spec/names.js";
import {
  parseTarget,
  triggerKind,
  type TriggerRequest,
  type TriggerSpec,
} from "../spec/trigger-spec.js";
import type { TriggerRecord, TriggerStore } from "../store/trigger-store.js";
import { CronScheduler } from "./cron-scheduler.js";
import { NatsBridge } from "./nats-bridge.js";
import { RouteTable, routeConflict, type RouteMatch } from "./route-table.js";
import type { TriggerHost } from "./trigger-host.js";

export interface TriggersOptions {
  readonly store: TriggerStore;
  readonly host: TriggerHost;
  /** NATS server for NATS triggers (RUNLET_NATS_URL / runlet up --nats). */
  readonly natsUrl?: string;
}

/** A trigger as the API and CLI show it. */
export interface TriggerView {
  readonly name: string;
  readonly kind: "http" | "cron" | "nats";
  readonly function: string;
  readonly origin: "spec" | "api";
  readonly spec: TriggerSpec;
  readonly createdAt: string;
}

export class Triggers {
  readonly #store: TriggerStore;
  readonly #host: TriggerHost;
  readonly #natsUrl: string | undefined;
  readonly #cron: CronScheduler;
  readonly #nats: NatsBridge | undefined;
  #routes = new RouteTable([]);
  #unsubscribe: (() => void) | undefined;

  constructor(options: TriggersOptions) {
    this.#store = options.store;
    this.#host = options.host;
    this.#natsUrl = options.natsUrl;
    this.#cron = new CronScheduler({ store: options.store, host: options.host });
    this.#nats = options.natsUrl
      ? new NatsBridge({ url: options.natsUrl, host: options.host })
      : undefined;
  }

  /**
   * Loads stored triggers and starts their sources (cron timers, NATS subscriptions); triggers
   * another writer changes (a store on the API server tells) are loaded as they change.
   */
  start(): void {
    this.#unsubscribe ??= this.#store.onChange?.(() => this.#reload());
    this.#reload();
  }

  async close(): Promise<void> {
    this.#unsubscribe?.();
    this.#cron.close();
    await this.#nats?.close();
  }

  list(): TriggerView[] {
    return this.#store.list().map(view);
  }

  get(name: string): TriggerView {
    const record = this.#store.get(name);
    if (!record) {
      throw triggerNotFound(name);
    }
    return view(record);
  }

  /** The route serving a gateway request, if any. */
  matchRoute(method: string, path: string): RouteMatch | undefined {
    return this.#routes.size === 0 ? undefined : this.#routes.match(method, path);
  }

  /** Creates a standalone trigger (API, CLI). */
  async create(request: TriggerRequest): Promise<TriggerView> {
    const { name, function: target, ...spec } = request;
    // `name` may be qualified by its namespace (spec/namespaces.ts): the name part is checked.
    const problem = nameProblem(splitQualifiedName(name).name);
    if (problem) {
      throw new UserError("RUNLET_INVALID_NAME", `Invalid trigger name: ${problem}.`);
    }
    if (this.#store.get(name)) {
      throw alreadyExists(name);
    }
    const { functionName, revision } = parseTarget(target);
    if (this.#host.functionTimeoutMs(functionName) === undefined) {
      throw new UserError(
        "RUNLET_FUNCTION_NOT_FOUND",
        `Function ${functionName} does not exist; deploy it before creating a trigger for it.`,
      );
    }
    if (revision !== undefined) {
      if (!("http" in spec)) {
        throw new UserError(
          "RUNLET_INVALID_SPEC",
          `Only HTTP triggers may call one revision (${target}); cron and NATS triggers call the active revision: use --function ${functionName}.`,
        );
      }
      if (!this.#host.hasRevision(functionName, revision)) {
        throw new UserError(
          "RUNLET_FUNCTION_NOT_FOUND",
          `Function ${functionName} has no revision ${revision}; see its revisions with: runlet describe ${functionName}`,
        );
      }
    }
    const record: TriggerRecord = {
      name,
      functionName,
      target,
      origin: "api",
      spec: spec as TriggerSpec,
      createdAt: Date.now(),
    };
    this.#check([record], this.#store.list());
    await this.#nats?.checkSource(record);
    // Checked again: another create may have taken the name or the route meanwhile.
    if (this.#store.get(name)) {
      throw alreadyExists(name);
    }
    this.#check([record], this.#store.list());
    await this.#store.insert(record);
    this.#reload();
    return view(record);
  }

  async remove(name: string): Promise<void> {
    const record = this.#store.get(name);
    if (!record) {
      throw triggerNotFound(name);
    }
    if (record.origin === "spec") {
      throw new UserError(
        "RUNLET_INVALID_REQUEST",
        `Trigger ${name} comes from function ${record.functionName}'s spec; remove it from the spec's triggers and deploy again.`,
        { status: 409 },
      );
    }
    await this.#store.remove(name);
    this.#reload();
  }

  /** Checks the triggers a function's spec declares, before the deploy goes on. */
  async checkSpecTriggers(functionName: string, specs: readonly TriggerSpec[]): Promise<void> {
    const records = specRecords(functionName, specs);
    const others = this.#store
      .list()
      .filter((r) => !(r.functionName === functionName && r.origin === "spec"));
    this.#check(records, others);
    for (const record of records) {
      await this.#nats?.checkSource(record);
    }
  }

  /** Makes a function's spec triggers the ones its active revision declares. */
  async setSpecTriggers(functionName: string, specs: readonly TriggerSpec[]): Promise<void> {
    await this.#store.replaceSpecTriggers(functionName, specRecords(functionName, specs));
    this.#reload();
  }

  /** A removed function takes its triggers with it. */
  async removeFunction(functionName: string): Promise<void> {
    if ((await this.#store.removeFunction(functionName)).length > 0) {
      this.#reload();
    }
  }

  #check(records: readonly TriggerRecord[], existing: readonly TriggerRecord[]): void {
    const seen = [...existing];
    for (const record of records) {
      if ("nats" in record.spec && !this.#natsUrl) {
        throw new UserError(
          "RUNLET_NATS_NOT_CONFIGURED",
          `Trigger ${record.name} needs a NATS server, and this Runlet has none; start it with runlet up --nats nats://HOST:4222 (or set RUNLET_NATS_URL).`,
        );
      }
      if ("http" in record.spec) {
        const conflict = routeConflict(seen, { name: record.name, spec: record.spec });
        if (conflict) {
          throw new UserError("RUNLET_TRIGGER_CONFLICT", `Trigger ${record.name}: ${conflict}.`);
        }
      }
      seen.push(record);
    }
  }

  #reload(): void {
    const records = this.#store.list();
    this.#routes = new RouteTable(records);
    this.#cron.reconcile(records.filter((r) => "cron" in r.spec));
    this.#nats?.reconcile(records.filter((r) => "nats" in r.spec));
  }
}

/** Spec triggers are named after the function, their kind and position: "hello.cron-2". */
function specRecords(functionName: string, specs: readonly TriggerSpec[]): TriggerRecord[] {
  const now = Date.now();
  return specs.map((spec, index) => ({
    name: `${functionName}.${triggerKind(spec)}-${index + 1}`,
    functionName,
    target: functionName,
    origin: "spec",
    spec,
    createdAt: now,
  }));
}

function view(record: TriggerRecord): TriggerView {
  return {
    name: record.name,
    kind: triggerKind(record.spec),
    function: record.target,
    origin: record.origin,
    spec: record.spec,
    createdAt: new Date(record.createdAt).toISOString(),
  };
}

function alreadyExists(name: string): UserError {
  return new UserError(
    "RUNLET_ALREADY_EXISTS",
    `Trigger ${name} already exists; remove it first (runlet trigger remove ${name}) or pick another name.`,
  );
}

function triggerNotFound(name: string): UserError {
  return new UserError(
    "RUNLET_TRIGGER_NOT_FOUND",
    `Trigger ${name} does not exist; see the triggers with: runlet trigger list`,
  );
}
