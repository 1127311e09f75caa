/**
 * The audit log of Kubernetes mode on the API server: each gateway process appends to a hash
 * chain of its own, kept in ConfigMaps of the functions' namespace named
 * `runlet-audit.<chain>.<part>` and labelled `runlet.dev/audit: "true"`, one entry per data key
 * (its sequence number, zero-padded, so keys sort in order). Every replica watches all the
 * chains, lists their entries merged by time and verifies each chain on its own.
 *
 * One chain per writer, because then no append waits for another replica's (a shared chain
 * would need a compare-and-swap on one object per append, and its losers to retry). The chain is
 * named by the replica and a random suffix drawn at start, so a restarted pod never continues a
 * chain another process may still be writing. A part takes entries until it holds
 * `entriesPerPart` or about half of a ConfigMap's 1 MiB, then the next part is made.
 */
import { randomBytes } from "node:crypto";
import type { V1ConfigMap } from "@kubernetes/client-node";
import { z } from "zod";
import { fieldManagers, labels, partOf, storeObjectPrefixes } from "../../kubernetes/names.js";
import { isConflict } from "../../kubernetes/revisions.js";
import { dns1123Label } from "../../spec/names.js";
import {
  auditGenesis,
  auditHash,
  verifyChain,
  type AuditEntry,
  type AuditEvent,
  type AuditLog,
  type AuditQuery,
  type AuditVerification,
} from "../audit-log.js";
import { NamespaceClient, jsonPatch, type KubernetesStoreOptions } from "./api-client.js";
import { ResourceCache } from "./resource-cache.js";

export interface KubernetesAuditLogOptions extends KubernetesStoreOptions {
  /** This replica's name (its pod's), the first part of its chain's name: a DNS-1123 label. */
  readonly replica: string;
  /** Entries a ConfigMap takes before the next one is made. @default 500 */
  readonly entriesPerPart?: number;
}

/** Bytes of entries a part takes at most: half of what etcd accepts for one object. */
const maxPartBytes = 512 * 1024;

const entrySchema = z.strictObject({
  seq: z.number().int().min(1),
  time: z.number(),
  actor: z.string(),
  namespace: z.string(),
  action: z.string(),
  object: z.string(),
  result: z.string(),
  status: z.number(),
  prevHash: z.string(),
  hash: z.string(),
});

/** One data key of a part: its entry, or why it is not one (someone wrote it by hand). */
interface StoredEntry {
  readonly seq: number;
  readonly entry: AuditEntry | undefined;
}

interface AuditPart {
  metadata: V1ConfigMap["metadata"] & { name?: string; resourceVersion?: string };
  chain: string;
  part: number;
  /** In key order (= sequence order). */
  entries: StoredEntry[];
}

function partName(chain: string, part: number): string {
  return `${storeObjectPrefixes.audit}${chain}.${String(part).padStart(6, "0")}`;
}

function entryKey(seq: number): string {
  return String(seq).padStart(12, "0");
}

function auditPart(configMap: V1ConfigMap): AuditPart {
  const name = configMap.metadata?.name ?? "";
  const [chain, part, ...rest] = name.slice(storeObjectPrefixes.audit.length).split(".");
  if (!name.startsWith(storeObjectPrefixes.audit) || !chain || !part || rest.length > 0) {
    throw new Error(`an audit ConfigMap is named ${storeObjectPrefixes.audit}<chain>.<part>`);
  }
  const entries = Object.entries(configMap.data ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]): StoredEntry => {
      let entry: AuditEntry | undefined;
      try {
        entry = entrySchema.parse(JSON.parse(value));
      } catch {
        entry = undefined;
      }
      return { seq: Number(key), entry };
    });
  return { metadata: configMap.metadata ?? {}, chain, part: Number(part), entries };
}

/** A name that fits a DNS-1123 label: a pod's name, else the host's, cleaned. */
function chainPrefix(replica: string): string {
  const cleaned = replica
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 48)
    .replace(/-+$/, "");
  return cleaned === "" ? "gateway" : cleaned;
}

export class KubernetesAuditLog implements AuditLog {
  readonly #client: NamespaceClient;
  readonly #parts: ResourceCache<AuditPart>;
  readonly #entriesPerPart: number;
  /** This process's chain. */
  readonly chain: string;
  #head: { seq: number; hash: string; part: number; partEntries: number; partBytes: number } = {
    seq: 0,
    hash: auditGenesis,
    part: 0,
    partEntries: 0,
    partBytes: 0,
  };
  /** Appends one after the other: each links to the one before. */
  #tail: Promise<unknown> = Promise.resolve();

  private constructor(options: KubernetesAuditLogOptions) {
    const client = new NamespaceClient(options.kubeConfig, options.namespace);
    this.#client = client;
    this.#entriesPerPart = options.entriesPerPart ?? 500;
    this.chain = `${chainPrefix(options.replica)}-${randomBytes(4).toString("hex")}`;
    if (!dns1123Label.test(this.chain)) {
      throw new Error(`audit chain name ${this.chain} is not a DNS-1123 label`);
    }
    const labelSelector = `${labels.audit}=true`;
    this.#parts = new ResourceCache<AuditPart>({
      kubeConfig: options.kubeConfig,
      path: `/api/v1/namespaces/${options.namespace}/configmaps`,
      labelSelector,
      list: () =>
        client.core.listNamespacedConfigMap({ namespace: options.namespace, labelSelector }),
      parse: (value) => auditPart(value as V1ConfigMap),
      onError: options.onError,
    });
  }

  static async open(options: KubernetesAuditLogOptions): Promise<KubernetesAuditLog> {
    const log = new KubernetesAuditLog(options);
    await log.#parts.start();
    return log;
  }

  async close(): Promise<void> {
    await this.#tail.catch(() => undefined);
    await this.#parts.stop();
  }

  append(event: AuditEvent): Promise<AuditEntry> {
    const appended = this.#tail.catch(() => undefined).then(() => this.#appendNow(event));
    this.#tail = appended;
    return appended;
  }

  /** Every chain's entries, merged by time (then chain, then place in the chain). */
  list(query: AuditQuery = {}): AuditEntry[] {
    const since = query.since ?? 0;
    const entries: (AuditEntry & { chain: string })[] = [];
    for (const part of this.#parts.list()) {
      for (const stored of part.entries) {
        const entry = stored.entry;
        if (
          entry !== undefined &&
          entry.time >= since &&
          (query.namespace === undefined || entry.namespace === query.namespace)
        ) {
          entries.push({ ...entry, chain: part.chain });
        }
      }
    }
    entries.sort(
      (a, b) => a.time - b.time || (a.chain < b.chain ? -1 : a.chain > b.chain ? 1 : a.seq - b.seq),
    );
    return entries.slice(-(query.limit ?? 1000));
  }

  /** Recomputes every chain; the first break found names its chain. */
  verify(): AuditVerification {
    const chains = new Map<string, AuditPart[]>();
    for (const part of this.#parts.list()) {
      chains.set(part.chain, [...(chains.get(part.chain) ?? []), part]);
    }
    let total = 0;
    for (const [chain, parts] of [...chains].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const stored = parts.sort((a, b) => a.part - b.part).flatMap((part) => part.entries);
      const unreadable = stored.findIndex((entry) => entry.entry === undefined);
      const readable = (unreadable === -1 ? stored : stored.slice(0, unreadable)).flatMap(
        (entry) => (entry.entry ? [entry.entry] : []),
      );
      const result = verifyChain(readable);
      if (!result.ok) {
        return {
          ...result,
          entries: total + result.entries,
          reason: `chain ${chain}: ${result.reason}`,
        };
      }
      const broken = stored[unreadable];
      if (broken) {
        return {
          ok: false,
          entries: total + unreadable + 1,
          brokenAt: broken.seq,
          reason: `chain ${chain}: entry ${broken.seq} is not an audit entry any more (it was changed after it was written)`,
        };
      }
      total += result.entries;
    }
    return { ok: true, entries: total };
  }

  async #appendNow(event: AuditEvent): Promise<AuditEntry> {
    const head = this.#head;
    const seq = head.seq + 1;
    const hash = auditHash(seq, head.hash, event);
    const entry: AuditEntry = {
      seq,
      time: event.time,
      actor: event.actor,
      namespace: event.namespace,
      action: event.action,
      object: event.object,
      result: event.result,
      status: event.status,
      prevHash: head.hash,
      hash,
    };
    const value = JSON.stringify(entry);
    const fits =
      head.part > 0 &&
      head.partEntries < this.#entriesPerPart &&
      head.partBytes + value.length <= maxPartBytes;
    const part = fits ? head.part : head.part + 1;
    const name = partName(this.chain, part);
    const namespace = this.#client.namespace;
    const addEntry = (): Promise<V1ConfigMap> =>
      this.#client.core.patchNamespacedConfigMap(
        {
          namespace,
          name,
          body: [{ op: "add", path: `/data/${entryKey(seq)}`, value }],
          fieldManager: fieldManagers.gateway,
        },
        jsonPatch,
      );
    const createPart = (): Promise<V1ConfigMap> =>
      this.#client.core.createNamespacedConfigMap({
        namespace,
        body: {
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: {
            name,
            labels: {
              [labels.audit]: "true",
              [labels.partOf]: partOf,
              [labels.managedBy]: fieldManagers.gateway,
            },
          },
          data: { [entryKey(seq)]: value },
        },
        fieldManager: fieldManagers.gateway,
      });
    // A create that was made but whose answer was lost leaves the part there: add to it.
    const written = fits
      ? await addEntry()
      : await createPart().catch((error: unknown) => {
          if (isConflict(error)) {
            return addEntry();
          }
          throw error;
        });
    // The head moves only once the entry is on the API server: a failed write is not linked to.
    this.#head = {
      seq,
      hash,
      part,
      partEntries: fits ? head.partEntries + 1 : 1,
      partBytes: (fits ? head.partBytes : 0) + value.length,
    };
    this.#parts.put(auditPart(written));
    return entry;
  }
}
