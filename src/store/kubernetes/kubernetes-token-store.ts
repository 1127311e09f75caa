/**
 * Scoped tokens and invoke keys as Kubernetes Secrets in the functions' namespace, so every
 * gateway replica knows every token: one Secret per token, named `runlet-token.<name>` and
 * labelled `runlet.dev/token: "true"`, holding the token's record (its SHA-256 digest, never the
 * token) under one key.
 *
 * One Secret per token rather than one per namespace: making a token is then a create the API
 * server refuses when the name is taken (two replicas cannot both make `ci`), and revoking one
 * is a delete, so no write ever reads, changes and writes back a list other replicas change too.
 * Reads answer from an informer cache of these Secrets only; a revoke through one replica
 * reaches the others with the watch's delete event.
 */
import type { V1Secret } from "@kubernetes/client-node";
import { z } from "zod";
import { fieldManagers, labels, partOf, storeObjectPrefixes } from "../../kubernetes/names.js";
import { isConflict } from "../../kubernetes/revisions.js";
import { tokenNameTaken, type TokenRecord, type TokenStore } from "../token-store.js";
import { NamespaceClient, isNotFound, type KubernetesStoreOptions } from "./api-client.js";
import { ResourceCache } from "./resource-cache.js";

/** The Secret key the record is kept under. */
const recordKey = "token.json";

/** The record as kept in the Secret: the name is the Secret's own (unique by the API server). */
const storedRecordSchema = z.strictObject({
  namespace: z.string().min(1),
  role: z.enum(["admin", "deployer", "invoker", "viewer"]),
  function: z.string().min(1).optional(),
  digest: z.string().regex(/^[0-9a-f]{64}$/, "a hex SHA-256 digest"),
  createdAt: z.number(),
  createdBy: z.string(),
  expiresAt: z.number().optional(),
  rate: z.string().optional(),
});

interface TokenObject {
  metadata: V1Secret["metadata"] & { name?: string; resourceVersion?: string };
  record: TokenRecord;
}

export function tokenSecretName(tokenName: string): string {
  return `${storeObjectPrefixes.token}${tokenName}`;
}

function tokenObject(secret: V1Secret): TokenObject {
  const secretName = secret.metadata?.name ?? "";
  if (!secretName.startsWith(storeObjectPrefixes.token)) {
    throw new Error(`a token Secret's name starts with ${storeObjectPrefixes.token}`);
  }
  const encoded = secret.data?.[recordKey];
  if (encoded === undefined) {
    throw new Error(`a token Secret holds its record under ${recordKey}`);
  }
  const stored = storedRecordSchema.parse(JSON.parse(Buffer.from(encoded, "base64").toString()));
  return {
    metadata: secret.metadata ?? {},
    record: {
      name: secretName.slice(storeObjectPrefixes.token.length),
      namespace: stored.namespace,
      role: stored.role,
      function: stored.function,
      digest: stored.digest,
      createdAt: stored.createdAt,
      createdBy: stored.createdBy,
      expiresAt: stored.expiresAt,
      rate: stored.rate,
    },
  };
}

export class KubernetesTokenStore implements TokenStore {
  readonly #client: NamespaceClient;
  readonly #tokens: ResourceCache<TokenObject>;
  /** Token names by digest, rebuilt on the first lookup after any change. */
  #byDigest: Map<string, string> | undefined;

  private constructor(options: KubernetesStoreOptions) {
    const client = new NamespaceClient(options.kubeConfig, options.namespace);
    this.#client = client;
    const labelSelector = `${labels.token}=true`;
    this.#tokens = new ResourceCache<TokenObject>({
      kubeConfig: options.kubeConfig,
      path: `/api/v1/namespaces/${options.namespace}/secrets`,
      labelSelector,
      list: () => client.core.listNamespacedSecret({ namespace: options.namespace, labelSelector }),
      parse: (value) => tokenObject(value as V1Secret),
      onError: options.onError,
    });
    this.#tokens.onChange(() => {
      this.#byDigest = undefined;
    });
  }

  static async open(options: KubernetesStoreOptions): Promise<KubernetesTokenStore> {
    const store = new KubernetesTokenStore(options);
    await store.#tokens.start();
    return store;
  }

  async close(): Promise<void> {
    await this.#tokens.stop();
  }

  async create(record: TokenRecord): Promise<void> {
    const stored: z.infer<typeof storedRecordSchema> = {
      namespace: record.namespace,
      role: record.role,
      ...(record.function !== undefined && { function: record.function }),
      digest: record.digest,
      createdAt: record.createdAt,
      createdBy: record.createdBy,
      ...(record.expiresAt !== undefined && { expiresAt: record.expiresAt }),
      ...(record.rate !== undefined && { rate: record.rate }),
    };
    const body: V1Secret = {
      apiVersion: "v1",
      kind: "Secret",
      type: "Opaque",
      metadata: {
        name: tokenSecretName(record.name),
        labels: {
          [labels.token]: "true",
          [labels.partOf]: partOf,
          [labels.managedBy]: fieldManagers.gateway,
        },
      },
      data: { [recordKey]: Buffer.from(JSON.stringify(stored)).toString("base64") },
    };
    let written: V1Secret;
    try {
      written = await this.#client.core.createNamespacedSecret({
        namespace: this.#client.namespace,
        body,
        fieldManager: fieldManagers.gateway,
      });
    } catch (error) {
      // The name is taken, through this replica or another: the API server is the referee.
      if (isConflict(error)) {
        throw tokenNameTaken(record.name);
      }
      throw error;
    }
    this.#tokens.put(tokenObject(written));
    this.#byDigest = undefined;
  }

  findByDigest(digest: string): TokenRecord | undefined {
    if (this.#byDigest === undefined) {
      this.#byDigest = new Map(
        this.#tokens.list().map((token) => [token.record.digest, token.record.name]),
      );
    }
    const name = this.#byDigest.get(digest);
    return name === undefined ? undefined : this.get(name);
  }

  get(name: string): TokenRecord | undefined {
    return this.#tokens.get(tokenSecretName(name))?.record;
  }

  list(): TokenRecord[] {
    return this.#tokens
      .list()
      .map((token) => token.record)
      .sort((a, b) =>
        a.namespace !== b.namespace
          ? a.namespace < b.namespace
            ? -1
            : 1
          : a.name < b.name
            ? -1
            : a.name > b.name
              ? 1
              : 0,
      );
  }

  async remove(name: string): Promise<boolean> {
    const secretName = tokenSecretName(name);
    let removed = true;
    try {
      await this.#client.core.deleteNamespacedSecret({
        namespace: this.#client.namespace,
        name: secretName,
      });
    } catch (error) {
      if (!isNotFound(error)) {
        throw error;
      }
      removed = false;
    }
    this.#tokens.remove(secretName);
    this.#byDigest = undefined;
    return removed;
  }

  async removeFunctionKeys(namespace: string, functionName: string): Promise<number> {
    const keys = this.list().filter(
      (record) => record.namespace === namespace && record.function === functionName,
    );
    let removed = 0;
    for (const key of keys) {
      if (await this.remove(key.name)) {
        removed += 1;
      }
    }
    return removed;
  }
}
