/**
 * Runlet secrets as Kubernetes Secrets in the functions' namespace: one Secret per Runlet
 * secret, of the same name, with its keys (a one-value secret under the key of its own name,
 * where OpenFaaS keeps its secrets, so their pods read them the same way), labelled
 * `runlet.dev/secret: "true"`. Values
 * are read from an informer cache of those Secrets only; they are never logged, nor put into
 * an error message.
 */
import type { V1Secret } from "@kubernetes/client-node";
import { annotations, fieldManagers, labels, partOf } from "../../kubernetes/names.js";
import { isConflict } from "../../kubernetes/revisions.js";
import {
  assertValueKeys,
  secretNotFound,
  type KeyedValues,
  type SecretInfo,
  type SecretStore,
} from "../secret-store.js";
import { NamespaceClient, isNotFound, timeOf, type KubernetesStoreOptions } from "./api-client.js";
import { ResourceCache } from "./resource-cache.js";

interface SecretObject {
  metadata: V1Secret["metadata"] & { name?: string; resourceVersion?: string };
  data?: Record<string, string>;
}

export class KubernetesSecretStore implements SecretStore {
  readonly #client: NamespaceClient;
  readonly #secrets: ResourceCache<SecretObject>;

  private constructor(options: KubernetesStoreOptions) {
    const client = new NamespaceClient(options.kubeConfig, options.namespace);
    this.#client = client;
    const labelSelector = `${labels.secret}=true`;
    this.#secrets = new ResourceCache<SecretObject>({
      kubeConfig: options.kubeConfig,
      path: `/api/v1/namespaces/${options.namespace}/secrets`,
      labelSelector,
      list: () => client.core.listNamespacedSecret({ namespace: options.namespace, labelSelector }),
      parse: (value) => {
        const secret = value as V1Secret;
        return { metadata: secret.metadata ?? {}, data: secret.data ?? {} };
      },
      onError: options.onError,
    });
  }

  static async open(options: KubernetesStoreOptions): Promise<KubernetesSecretStore> {
    const store = new KubernetesSecretStore(options);
    await store.#secrets.start();
    return store;
  }

  async close(): Promise<void> {
    await this.#secrets.stop();
  }

  async put(name: string, values: KeyedValues): Promise<{ created: boolean }> {
    assertValueKeys(values, "secret");
    const data: Record<string, string> = {};
    for (const [key, value] of Object.entries(values)) {
      data[key] = value.toString("base64");
    }
    const body: V1Secret = {
      apiVersion: "v1",
      kind: "Secret",
      type: "Opaque",
      metadata: {
        name,
        labels: {
          [labels.secret]: "true",
          [labels.partOf]: partOf,
          [labels.managedBy]: fieldManagers.gateway,
        },
        annotations: { [annotations.updatedAt]: String(Date.now()) },
      },
      data,
    };
    const known = this.#secrets.get(name);
    let written: V1Secret;
    let created = known === undefined;
    try {
      written = known
        ? await this.#replace(name, body)
        : await this.#client.core.createNamespacedSecret({
            namespace: this.#client.namespace,
            body,
            fieldManager: fieldManagers.gateway,
          });
    } catch (error) {
      if (!isConflict(error) || !created) {
        throw error;
      }
      // Made meanwhile by another replica: this write replaces it.
      written = await this.#replace(name, body);
      created = false;
    }
    this.#secrets.put({ metadata: written.metadata ?? {}, data: written.data ?? {} });
    return { created };
  }

  has(name: string): boolean {
    return this.#secrets.get(name) !== undefined;
  }

  list(): SecretInfo[] {
    return this.#secrets
      .list()
      .map((secret) => {
        const createdAt = timeOf(secret.metadata.creationTimestamp);
        const updatedAt = Number(secret.metadata.annotations?.[annotations.updatedAt]);
        return {
          name: secret.metadata.name ?? "",
          createdAt,
          updatedAt: Number.isFinite(updatedAt) ? updatedAt : createdAt,
        };
      })
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async remove(name: string): Promise<boolean> {
    const namespace = this.#client.namespace;
    try {
      // Only a Secret that is a Runlet secret: not a token's, nor one someone else keeps in the
      // namespace (the name alone would reach them). The precondition keeps the check and the
      // delete about the same object.
      const current = await this.#client.core.readNamespacedSecret({ namespace, name });
      if (current.metadata?.labels?.[labels.secret] !== "true") {
        this.#secrets.remove(name);
        return false;
      }
      await this.#client.core.deleteNamespacedSecret({
        namespace,
        name,
        body: { preconditions: { resourceVersion: current.metadata.resourceVersion } },
      });
    } catch (error) {
      if (!isNotFound(error)) {
        throw error;
      }
      this.#secrets.remove(name);
      return false;
    }
    this.#secrets.remove(name);
    return true;
  }

  reveal(names: readonly string[]): Record<string, KeyedValues> {
    const values: Record<string, KeyedValues> = {};
    for (const name of names) {
      const data = this.#secrets.get(name)?.data;
      if (data === undefined) {
        throw secretNotFound(name);
      }
      const keyed: Record<string, Buffer> = {};
      for (const [key, encoded] of Object.entries(data)) {
        keyed[key] = Buffer.from(encoded, "base64");
      }
      values[name] = keyed;
    }
    return values;
  }

  /** Replaces the Secret whatever its version (the last write of a value wins, as embedded). */
  async #replace(name: string, body: V1Secret): Promise<V1Secret> {
    const current = await this.#client.core.readNamespacedSecret({
      namespace: this.#client.namespace,
      name,
    });
    return this.#client.core.replaceNamespacedSecret({
      namespace: this.#client.namespace,
      name,
      body: {
        ...body,
        metadata: {
          ...body.metadata,
          resourceVersion: current.metadata?.resourceVersion,
          annotations: { ...body.metadata?.annotations },
        },
      },
      fieldManager: fieldManagers.gateway,
    });
  }
}
