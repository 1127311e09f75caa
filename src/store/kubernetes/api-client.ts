/** What the stores on the API server share: the client for one namespace, paths, patch types. */
import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
} from "@kubernetes/client-node";
import { runletGroup, runletVersion } from "../../kubernetes/names.js";

export interface KubernetesStoreOptions {
  readonly kubeConfig: KubeConfig;
  /** Where the functions' objects live. @default defaultFunctionNamespace (names.ts) */
  readonly namespace: string;
  /** An object that does not parse, a watch that failed: reported, never thrown. */
  readonly onError: (error: unknown) => void;
}

export class NamespaceClient {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  readonly custom: CustomObjectsApi;
  readonly core: CoreV1Api;

  constructor(kubeConfig: KubeConfig, namespace: string) {
    this.kubeConfig = kubeConfig;
    this.namespace = namespace;
    this.custom = kubeConfig.makeApiClient(CustomObjectsApi);
    this.core = kubeConfig.makeApiClient(CoreV1Api);
  }

  /** The API path of a Runlet resource in this namespace, as a watch wants it. */
  path(plural: string): string {
    return `/apis/${runletGroup}/${runletVersion}/namespaces/${this.namespace}/${plural}`;
  }

  /** Arguments that name a Runlet resource collection in this namespace. */
  target(plural: string): { group: string; version: string; namespace: string; plural: string } {
    return { group: runletGroup, version: runletVersion, namespace: this.namespace, plural };
  }
}

export const jsonPatch = setHeaderOptions("Content-Type", PatchStrategy.JsonPatch);
export const serverSideApply = setHeaderOptions("Content-Type", PatchStrategy.ServerSideApply);

export function isNotFound(error: unknown): boolean {
  return error instanceof ApiException && error.code === 404;
}

/** Milliseconds of a timestamp the client gives as a Date or a string. */
export function timeOf(value: string | Date | undefined): number {
  if (value === undefined) {
    return 0;
  }
  return value instanceof Date ? value.getTime() : Date.parse(value);
}

/** A JSON patch that sets one annotation, whether or not the object has annotations yet. */
export function setAnnotation(
  annotations: Record<string, string> | undefined,
  key: string,
  value: string,
): { op: "add"; path: string; value: unknown } {
  return annotations
    ? {
        op: "add",
        path: `/metadata/annotations/${key.replaceAll("~", "~0").replaceAll("/", "~1")}`,
        value,
      }
    : { op: "add", path: "/metadata/annotations", value: { [key]: value } };
}
