/**
 * Runlet config maps as Kubernetes ConfigMaps in the functions' namespace, of the same name and
 * labelled `runlet.dev/config: "true"`: keys whose value is UTF-8 text under `data` (readable
 * with kubectl), any other bytes under `binaryData`, so every value comes back as it was put.
 */
import type { V1ConfigMap } from "@kubernetes/client-node";
import { annotations, fieldManagers, labels, partOf } from "../../kubernetes/names.js";
import { isConflict } from "../../kubernetes/revisions.js";
import { revealEach, type ConfigInfo, type ConfigStore } from "../config-store.js";
import { assertValueKeys, type KeyedValues } from "../secret-store.js";
import { NamespaceClient, isNotFound, timeOf, type KubernetesStoreOptions } from "./api-client.js";
import { ResourceCache } from "./resource-cache.js";

interface ConfigObject {
  metadata: V1ConfigMap["metadata"] & { name?: string; resourceVersion?: string };
  values: KeyedValues;
}

export class KubernetesConfigStore implements ConfigStore {
  readonly #client: NamespaceClient;
  readonly #configs: ResourceCache<ConfigObject>;

  private constructor(options: KubernetesStoreOptions) {
    const client = new NamespaceClient(options.kubeConfig, options.namespace);
    this.#client = client;
    const labelSelector = `${labels.config}=true`;
    this.#configs = new ResourceCache<ConfigObject>({
      kubeConfig: options.kubeConfig,
      path: `/api/v1/namespaces/${options.namespace}/configmaps`,
      labelSelector,
      list: () =>
        client.core.listNamespacedConfigMap({ namespace: options.namespace, labelSelector }),
      parse: (value) => configObject(value as V1ConfigMap),
      onError: options.onError,
    });
  }

  static async open(options: KubernetesStoreOptions): Promise<KubernetesConfigStore> {
    const store = new KubernetesConfigStore(options);
    await store.#configs.start();
    return store;
  }

  async close(): Promise<void> {
    await this.#configs.stop();
  }

  async put(name: string, values: KeyedValues): Promise<{ created: boolean }> {
    assertValueKeys(values, "config map");
    const data: Record<string, string> = {};
    const binaryData: Record<string, string> = {};
    for (const [key, value] of Object.entries(values)) {
      const text = value.toString("utf8");
      if (Buffer.from(text, "utf8").equals(value)) {
        data[key] = text;
      } else {
        binaryData[key] = value.toString("base64");
      }
    }
    const body: V1ConfigMap = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: {
        name,
        labels: {
          [labels.config]: "true",
          [labels.partOf]: partOf,
          [labels.managedBy]: fieldManagers.gateway,
        },
        annotations: { [annotations.updatedAt]: String(Date.now()) },
      },
      data,
      binaryData,
    };
    const namespace = this.#client.namespace;
    const replace = async (): Promise<V1ConfigMap> => {
      const current = await this.#client.core.readNamespacedConfigMap({ namespace, name });
      return this.#client.core.replaceNamespacedConfigMap({
        namespace,
        name,
        body: {
          ...body,
          metadata: { ...body.metadata, resourceVersion: current.metadata?.resourceVersion },
        },
        fieldManager: fieldManagers.gateway,
      });
    };
    let created = this.#configs.get(name) === undefined;
    let written: V1ConfigMap;
    try {
      written = created
        ? await this.#client.core.createNamespacedConfigMap({
            namespace,
            body,
            fieldManager: fieldManagers.gateway,
          })
        : await replace();
    } catch (error) {
      if (!isConflict(error) || !created) {
        throw error;
      }
      // Made meanwhile by another replica: this write replaces it.
      written = await replace();
      created = false;
    }
    this.#configs.put(configObject(written));
    return { created };
  }

  has(name: string): boolean {
    return this.#configs.get(name) !== undefined;
  }

  get(name: string): KeyedValues | undefined {
    return this.#configs.get(name)?.values;
  }

  list(): ConfigInfo[] {
    return this.#configs
      .list()
      .map((config) => {
        const createdAt = timeOf(config.metadata.creationTimestamp);
        const updatedAt = Number(config.metadata.annotations?.[annotations.updatedAt]);
        return {
          name: config.metadata.name ?? "",
          keys: Object.keys(config.values).sort(),
          createdAt,
          updatedAt: Number.isFinite(updatedAt) ? updatedAt : createdAt,
        };
      })
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async remove(name: string): Promise<boolean> {
    const namespace = this.#client.namespace;
    try {
      // Only a ConfigMap that is a Runlet config map: not an audit chain's part, nor one someone
      // else keeps in the namespace. The precondition keeps the check and the delete together.
      const current = await this.#client.core.readNamespacedConfigMap({ namespace, name });
      if (current.metadata?.labels?.[labels.config] !== "true") {
        this.#configs.remove(name);
        return false;
      }
      await this.#client.core.deleteNamespacedConfigMap({
        namespace,
        name,
        body: { preconditions: { resourceVersion: current.metadata.resourceVersion } },
      });
    } catch (error) {
      if (!isNotFound(error)) {
        throw error;
      }
      this.#configs.remove(name);
      return false;
    }
    this.#configs.remove(name);
    return true;
  }

  reveal(names: readonly string[]): Record<string, KeyedValues> {
    return revealEach(names, (name) => this.get(name));
  }
}

function configObject(config: V1ConfigMap): ConfigObject {
  const values: Record<string, Buffer> = {};
  for (const [key, text] of Object.entries(config.data ?? {})) {
    values[key] = Buffer.from(text, "utf8");
  }
  for (const [key, encoded] of Object.entries(config.binaryData ?? {})) {
    values[key] = Buffer.from(encoded, "base64");
  }
  return { metadata: config.metadata ?? {}, values };
}
