/**
 * Triggers as Trigger objects on the API server, read from an informer cache each write goes
 * through. The cron firings stay with each gateway (CronFirings, in memory by default); each
 * firing still runs once across the replicas, since they all give it the same call id (see
 * MemoryCronFirings).
 */
import { fieldManagers, kinds, labels, partOf, runletApiVersion } from "../../kubernetes/names.js";
import { triggerResourceSpecSchema, type TriggerObject } from "../../kubernetes/resources.js";
import { isConflict } from "../../kubernetes/revisions.js";
import { parseTarget } from "../../spec/trigger-spec.js";
import type { CronFirings, TriggerRecord, TriggerStore } from "../trigger-store.js";
import { NamespaceClient, isNotFound, timeOf, type KubernetesStoreOptions } from "./api-client.js";
import { ResourceCache } from "./resource-cache.js";

export interface KubernetesTriggerStoreOptions extends KubernetesStoreOptions {
  /** @default firings kept in this process's memory */
  readonly cron?: CronFirings;
}

export class KubernetesTriggerStore implements TriggerStore {
  readonly #client: NamespaceClient;
  readonly #triggers: ResourceCache<TriggerObject>;
  readonly #cron: CronFirings;

  private constructor(options: KubernetesTriggerStoreOptions) {
    const client = new NamespaceClient(options.kubeConfig, options.namespace);
    this.#client = client;
    this.#cron = options.cron ?? new MemoryCronFirings();
    this.#triggers = new ResourceCache({
      kubeConfig: options.kubeConfig,
      path: client.path(kinds.trigger.plural),
      list: () =>
        client.custom.listNamespacedCustomObject(client.target(kinds.trigger.plural)) as Promise<{
          items: unknown[];
        }>,
      parse: parseTrigger,
      onError: options.onError,
    });
  }

  static async open(options: KubernetesTriggerStoreOptions): Promise<KubernetesTriggerStore> {
    const store = new KubernetesTriggerStore(options);
    await store.#triggers.start();
    return store;
  }

  async close(): Promise<void> {
    await this.#triggers.stop();
  }

  list(): TriggerRecord[] {
    return this.#triggers
      .list()
      .map(toRecord)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  get(name: string): TriggerRecord | undefined {
    const object = this.#triggers.get(name);
    return object ? toRecord(object) : undefined;
  }

  async insert(record: TriggerRecord): Promise<void> {
    const created: unknown = await this.#client.custom.createNamespacedCustomObject({
      ...this.#client.target(kinds.trigger.plural),
      body: toObject(record),
      fieldManager: fieldManagers.gateway,
    });
    this.#triggers.put(parseTrigger(created));
  }

  async replaceSpecTriggers(
    functionName: string,
    records: readonly TriggerRecord[],
  ): Promise<void> {
    const wanted = new Set(records.map((r) => r.name));
    for (const old of this.list()) {
      if (old.functionName === functionName && old.origin === "spec" && !wanted.has(old.name)) {
        await this.remove(old.name);
      }
    }
    for (const record of records) {
      const known = this.#triggers.get(record.name);
      const body = toObject(record);
      if (known && JSON.stringify(known.spec) === JSON.stringify(body.spec)) {
        continue;
      }
      await this.#write(body, known?.metadata.resourceVersion);
    }
  }

  async remove(name: string): Promise<boolean> {
    try {
      await this.#client.custom.deleteNamespacedCustomObject({
        ...this.#client.target(kinds.trigger.plural),
        name,
      });
    } catch (error) {
      if (!isNotFound(error)) {
        throw error;
      }
      this.#triggers.remove(name);
      return false;
    }
    this.#triggers.remove(name);
    return true;
  }

  async removeFunction(functionName: string): Promise<string[]> {
    const names = this.list()
      .filter((r) => r.functionName === functionName)
      .map((r) => r.name);
    for (const name of names) {
      await this.remove(name);
    }
    return names;
  }

  cronState(name: string, schedule: string, now: number): { anchor: number; lastFired: number } {
    return this.#cron.cronState(name, schedule, now);
  }

  claimFiring(name: string, time: number): boolean {
    return this.#cron.claimFiring(name, time);
  }

  onChange(listener: (name: string) => void): () => void {
    return this.#triggers.onChange((name) => listener(name));
  }

  /** Creates the trigger, or replaces the one of that name (retrying on a stale version). */
  async #write(body: TriggerObject, resourceVersion: string | undefined): Promise<void> {
    const name = body.metadata.name ?? "";
    let version = resourceVersion;
    for (let attempt = 1; ; attempt++) {
      try {
        const written: unknown =
          version === undefined
            ? await this.#client.custom.createNamespacedCustomObject({
                ...this.#client.target(kinds.trigger.plural),
                body,
                fieldManager: fieldManagers.gateway,
              })
            : await this.#client.custom.replaceNamespacedCustomObject({
                ...this.#client.target(kinds.trigger.plural),
                name,
                body: { ...body, metadata: { ...body.metadata, resourceVersion: version } },
                fieldManager: fieldManagers.gateway,
              });
        this.#triggers.put(parseTrigger(written));
        return;
      } catch (error) {
        if (!isConflict(error) || attempt >= 5) {
          throw error;
        }
        const current = (await this.#client.custom.getNamespacedCustomObject({
          ...this.#client.target(kinds.trigger.plural),
          name,
        })) as TriggerObject;
        version = current.metadata.resourceVersion;
      }
    }
  }
}

/**
 * Cron firings in memory: one scheduler per process fires each firing once. Every replica
 * schedules every cron trigger; a firing's call id is its trigger and time, and `every`
 * schedules run on a grid from the epoch (anchor 0), so the replicas' firings of one slot
 * carry the same id and the shared queue (JetStream, which keeps one message per id) runs it
 * once. A replica starting late fires from its start on, nothing missed before it.
 */
export class MemoryCronFirings implements CronFirings {
  readonly #state = new Map<string, { schedule: string; lastFired: number }>();

  cronState(name: string, schedule: string, now: number): { anchor: number; lastFired: number } {
    const known = this.#state.get(name);
    if (known?.schedule === schedule) {
      return { anchor: 0, lastFired: known.lastFired };
    }
    this.#state.set(name, { schedule, lastFired: now });
    return { anchor: 0, lastFired: now };
  }

  claimFiring(name: string, time: number): boolean {
    const known = this.#state.get(name);
    if (!known || known.lastFired >= time) {
      return false;
    }
    known.lastFired = time;
    return true;
  }
}

function parseTrigger(value: unknown): TriggerObject {
  const object = value as TriggerObject;
  return { ...object, spec: triggerResourceSpecSchema.parse(object.spec) };
}

function toObject(record: TriggerRecord): TriggerObject {
  return {
    apiVersion: runletApiVersion,
    kind: kinds.trigger.kind,
    metadata: {
      name: record.name,
      labels: {
        [labels.function]: record.functionName,
        [labels.partOf]: partOf,
        [labels.managedBy]: fieldManagers.gateway,
      },
    },
    spec: { function: record.target, origin: record.origin, trigger: record.spec },
  };
}

function toRecord(object: TriggerObject): TriggerRecord {
  return {
    name: object.metadata.name ?? "",
    functionName: parseTarget(object.spec.function).functionName,
    target: object.spec.function,
    origin: object.spec.origin ?? "api",
    spec: object.spec.trigger,
    createdAt: timeOf(object.metadata.creationTimestamp),
  };
}
