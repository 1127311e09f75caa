/**
 * Image tags as ConfigMaps in the functions' namespace, one per image name, labelled
 * `runlet.dev/image-tag: "true"`, as Runlet config maps are kept (one object each, read from an
 * informer cache, so replicas retagging different images never contend and kubectl shows them).
 * An image name is no object name (`me/hello:0.1`), so the object is named by its hash, with a
 * dot no Runlet config map name can have: `runlet-image.<hex>` never collides with a user's.
 */
import { createHash } from "node:crypto";
import type { V1ConfigMap } from "@kubernetes/client-node";
import {
  annotations,
  fieldManagers,
  labels,
  partOf,
  storeObjectPrefixes,
} from "../../kubernetes/names.js";
import { isConflict } from "../../kubernetes/revisions.js";
import {
  byImageName,
  parseImageShape,
  type ImageShape,
  type ImageTag,
  type ImageTagStore,
} from "../image-tag-store.js";
import { NamespaceClient, isNotFound, timeOf, type KubernetesStoreOptions } from "./api-client.js";
import { ResourceCache } from "./resource-cache.js";

interface TagObject {
  metadata: NonNullable<V1ConfigMap["metadata"]> & { name?: string; resourceVersion?: string };
  tag: ImageTag;
}

/** The ConfigMap name of an image's tag. */
export function imageTagObjectName(image: string): string {
  return `${storeObjectPrefixes.imageTag}${createHash("sha256").update(image).digest("hex").slice(0, 40)}`;
}

export class KubernetesImageTagStore implements ImageTagStore {
  readonly #client: NamespaceClient;
  readonly #tags: ResourceCache<TagObject>;

  private constructor(options: KubernetesStoreOptions) {
    const client = new NamespaceClient(options.kubeConfig, options.namespace);
    this.#client = client;
    const labelSelector = `${labels.imageTag}=true`;
    this.#tags = new ResourceCache<TagObject>({
      kubeConfig: options.kubeConfig,
      path: `/api/v1/namespaces/${options.namespace}/configmaps`,
      labelSelector,
      list: () =>
        client.core.listNamespacedConfigMap({ namespace: options.namespace, labelSelector }),
      parse: (value) => tagObject(value as V1ConfigMap),
      onError: options.onError,
    });
  }

  static async open(options: KubernetesStoreOptions): Promise<KubernetesImageTagStore> {
    const store = new KubernetesImageTagStore(options);
    await store.#tags.start();
    return store;
  }

  async close(): Promise<void> {
    await this.#tags.stop();
  }

  async put(
    image: string,
    packageDigest: string,
    shape: ImageShape,
  ): Promise<{ created: boolean; previous: string | undefined }> {
    const name = imageTagObjectName(image);
    const namespace = this.#client.namespace;
    const body = (createdAt: string | undefined): V1ConfigMap => ({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: {
        name,
        labels: {
          [labels.imageTag]: "true",
          [labels.partOf]: partOf,
          [labels.managedBy]: fieldManagers.gateway,
        },
        annotations: {
          [annotations.updatedAt]: String(Date.now()),
          ...(createdAt === undefined ? {} : { [annotations.createdAt]: createdAt }),
        },
      },
      data: { image, package: packageDigest, shape: JSON.stringify(shape) },
    });
    // Read from the API server, not the cache: the tag it replaces is the one to report.
    const replace = async (): Promise<{ written: V1ConfigMap; previous: string | undefined }> => {
      const current = await this.#client.core.readNamespacedConfigMap({ namespace, name });
      const next = body(current.metadata?.annotations?.[annotations.createdAt]);
      const written = await this.#client.core.replaceNamespacedConfigMap({
        namespace,
        name,
        body: {
          ...next,
          metadata: { ...next.metadata, resourceVersion: current.metadata?.resourceVersion },
        },
        fieldManager: fieldManagers.gateway,
      });
      return { written, previous: current.data?.["package"] };
    };
    const create = (): Promise<V1ConfigMap> =>
      this.#client.core.createNamespacedConfigMap({
        namespace,
        body: body(String(Date.now())),
        fieldManager: fieldManagers.gateway,
      });
    let created = this.#tags.get(name) === undefined;
    let written: V1ConfigMap;
    let previous: string | undefined;
    try {
      if (created) {
        written = await create();
      } else {
        ({ written, previous } = await replace());
      }
    } catch (error) {
      if (isNotFound(error) && !created) {
        // Removed by another replica after this one's cache saw it: made again.
        written = await create();
        created = true;
      } else if (isConflict(error)) {
        // Made meanwhile by another replica, or changed since it was read: this write wins.
        ({ written, previous } = await replace());
        created = false;
      } else {
        throw error;
      }
    }
    this.#tags.put(tagObject(written));
    return { created, previous };
  }

  get(image: string): ImageTag | undefined {
    return this.#tags.get(imageTagObjectName(image))?.tag;
  }

  list(): ImageTag[] {
    return this.#tags
      .list()
      .map((object) => object.tag)
      .sort(byImageName);
  }

  async remove(image: string): Promise<boolean> {
    const name = imageTagObjectName(image);
    try {
      await this.#client.core.deleteNamespacedConfigMap({
        namespace: this.#client.namespace,
        name,
      });
    } catch (error) {
      if (!isNotFound(error)) {
        throw error;
      }
      this.#tags.remove(name);
      return false;
    }
    this.#tags.remove(name);
    return true;
  }

  referencedPackages(): Set<string> {
    return new Set(this.#tags.list().map((object) => object.tag.packageDigest));
  }
}

function tagObject(config: V1ConfigMap): TagObject {
  const data = config.data ?? {};
  const image = data["image"];
  const packageDigest = data["package"];
  const shape = data["shape"];
  if (image === undefined || packageDigest === undefined || shape === undefined) {
    throw new Error("an image tag ConfigMap needs data image, package and shape");
  }
  const metadata = config.metadata ?? {};
  const createdAt =
    Number(metadata.annotations?.[annotations.createdAt]) || timeOf(metadata.creationTimestamp);
  const updatedAt = Number(metadata.annotations?.[annotations.updatedAt]);
  return {
    metadata,
    tag: {
      image,
      packageDigest,
      shape: parseImageShape(shape),
      createdAt,
      updatedAt: Number.isFinite(updatedAt) ? updatedAt : createdAt,
    },
  };
}
