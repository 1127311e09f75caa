/**
 * Namespace quotas (issue 18): the most functions, instances and instance memory one namespace
 * may hold, so one tenant cannot take the machine from the others. Set by the admin token only
 * (a namespace's own admin does not raise its own); a namespace without a quota has no limits.
 */
import { z } from "zod";
import type { Db } from "./database.js";

export const quotaSchema = z.strictObject({
  /** Functions the namespace may have deployed. */
  functions: z.number().int().min(0).optional(),
  /** Instances of its functions running (or starting) at once. */
  instances: z.number().int().min(0).optional(),
  /** Memory limits of those instances, summed, in bytes. */
  memoryBytes: z.number().int().min(0).optional(),
});
export type Quota = z.infer<typeof quotaSchema>;

export interface NamespaceQuota {
  readonly namespace: string;
  readonly quota: Quota;
  readonly updatedAt: number;
}

export interface QuotaStore {
  put(namespace: string, quota: Quota): void;
  get(namespace: string): Quota | undefined;
  list(): NamespaceQuota[];
  remove(namespace: string): boolean;
}

interface QuotaRow {
  namespace: string;
  quota: string;
  updated_at: number;
}

/** The embedded quota store: rows of the SQLite database, read through a cache (calls ask). */
export class SqliteQuotaStore implements QuotaStore {
  readonly #db: Db;
  #cache: Map<string, NamespaceQuota> | undefined;

  constructor(db: Db) {
    this.#db = db;
  }

  put(namespace: string, quota: Quota): void {
    this.#db
      .prepare(
        `INSERT INTO namespace_quotas (namespace, quota, updated_at) VALUES (?, ?, ?)
         ON CONFLICT(namespace) DO UPDATE SET quota = excluded.quota, updated_at = excluded.updated_at`,
      )
      .run(namespace, JSON.stringify(quota), Date.now());
    this.#cache = undefined;
  }

  get(namespace: string): Quota | undefined {
    return this.#all().get(namespace)?.quota;
  }

  list(): NamespaceQuota[] {
    return [...this.#all().values()];
  }

  remove(namespace: string): boolean {
    this.#cache = undefined;
    return (
      this.#db.prepare("DELETE FROM namespace_quotas WHERE namespace = ?").run(namespace).changes >
      0
    );
  }

  #all(): Map<string, NamespaceQuota> {
    this.#cache ??= new Map(
      this.#db
        .prepare<[], QuotaRow>("SELECT * FROM namespace_quotas ORDER BY namespace")
        .all()
        .map((row) => [
          row.namespace,
          {
            namespace: row.namespace,
            quota: quotaSchema.parse(JSON.parse(row.quota)),
            updatedAt: row.updated_at,
          },
        ]),
    );
    return this.#cache;
  }
}
