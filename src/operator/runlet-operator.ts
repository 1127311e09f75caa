/**
 * The Runlet operator (issue 16): the machinery of operator.ts reconciling runlet.dev
 * Functions, and, when asked, Kubeless and OpenFaaS Function objects into runlet Functions.
 * `runlet operator` runs it; tests start it in process.
 */
import { CustomObjectsApi } from "@kubernetes/client-node";
import { request } from "undici";
import {
  defaultSystemNamespace,
  fieldManagers,
  labels,
  operatorLeaseName,
} from "../kubernetes/names.js";
import type { FunctionRevisionObject } from "../kubernetes/resources.js";
import {
  FunctionReconciler,
  functionType,
  podType,
  revisionType,
  type PackageCheck,
} from "./function-controller.js";
import { FunctionReplicasReconciler } from "./function-replicas.js";
import { objectKey } from "./informer.js";
import { KubeClient, loadKubeConfig, type KubeObject } from "./kube-client.js";
import { Operator } from "./operator.js";
import {
  PeerFunctionReconciler,
  peerTypes,
  type PackageUpload,
  type PeerKind,
} from "./peer-functions.js";

export interface GatewayAccess {
  /** The gateway's base URL, e.g. http://runlet-gateway.runlet-system:8080. */
  readonly url: string;
  readonly adminToken: string;
}

export interface RunletOperatorOptions {
  /** A kubeconfig file; undefined: the pod's service account (or ~/.kube/config outside a pod). */
  readonly kubeconfigPath?: string;
  /** Where the leader Lease lives. @default runlet-system */
  readonly leaseNamespace?: string;
  /** Reconcile only this namespace's objects. @default every namespace */
  readonly watchNamespace?: string;
  /** Where function pods run (the provider's namespace). @default each Function's namespace */
  readonly podNamespace?: string;
  /** For package checks and for uploading the packages of Kubeless inline sources. */
  readonly gateway?: GatewayAccess;
  /** Which peers' Function kinds to reconcile too (their CRDs must be installed). @default [] */
  readonly peers?: readonly PeerKind[];
  readonly host?: string;
  /** @default 0 (any free port) */
  readonly port?: number;
  readonly identity?: string;
  /** Functions reconciled at once. @default 8 */
  readonly workers?: number;
  readonly leaseDurationMs?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
  readonly watchTimeoutSeconds?: number;
  /** How soon a Function waiting on a secret or a package is looked at again. @default 15_000 */
  readonly recheckMs?: number;
  readonly log?: (level: "info" | "warn" | "error", message: string) => void;
}

export interface RunletOperator {
  readonly operator: Operator;
  readonly url: string;
  stop(): Promise<void>;
}

export async function startRunletOperator(options: RunletOperatorOptions): Promise<RunletOperator> {
  const kubeConfig = loadKubeConfig(options.kubeconfigPath);
  const client = new KubeClient({ kubeConfig });
  const operator = new Operator({
    client,
    leaseNamespace: options.leaseNamespace ?? defaultSystemNamespace,
    leaseName: operatorLeaseName,
    fieldManager: fieldManagers.operator,
    ...pick(options, [
      "identity",
      "host",
      "port",
      "leaseDurationMs",
      "renewDeadlineMs",
      "retryPeriodMs",
      "watchTimeoutSeconds",
      "log",
    ]),
  });
  const namespace = options.watchNamespace;
  const inNamespace = namespace === undefined ? {} : { namespace };
  const functions = operator.informer<KubeObject>(functionType, inNamespace);
  const revisions = operator.informer<KubeObject>(revisionType, {
    ...inNamespace,
    labelSelector: labels.function,
  });
  const gateway = options.gateway;
  const reconciler = new FunctionReconciler({
    client,
    customObjects: kubeConfig.makeApiClient(CustomObjectsApi),
    functions,
    revisions,
    ...(gateway === undefined ? {} : { packageExists: packageCheck(gateway) }),
    ...(options.podNamespace === undefined ? {} : { podNamespace: options.podNamespace }),
    ...(options.recheckMs === undefined ? {} : { recheckMs: options.recheckMs }),
  });
  operator.controller({
    reconciler,
    workers: options.workers ?? 8,
    sources: [
      { informer: functions },
      {
        // A revision changed or went: look at its function again.
        informer: revisions,
        keys: (_key, current, previous) => {
          const revision = (current ?? previous) as unknown as FunctionRevisionObject | undefined;
          const ns = revision?.metadata.namespace;
          return revision === undefined || ns === undefined
            ? []
            : [`${ns}/${revision.spec.function}`];
        },
      },
    ],
  });
  if (options.podNamespace !== undefined) {
    // Pods of every function run in one namespace: their count is the Functions' replicas.
    const pods = operator.informer<KubeObject>(podType, {
      namespace: options.podNamespace,
      labelSelector: labels.function,
    });
    const replicas = new FunctionReplicasReconciler({ client, functions, pods });
    operator.controller({
      reconciler: replicas,
      workers: 2,
      sources: [
        { informer: functions },
        {
          informer: pods,
          keys: (_key, current, previous) => replicas.keysOfPod(current ?? previous),
        },
      ],
    });
  }
  for (const peer of options.peers ?? []) {
    const foreign = operator.informer<KubeObject>(peerTypes[peer], inNamespace);
    operator.controller({
      reconciler: new PeerFunctionReconciler({
        kind: peer,
        client,
        foreign,
        functions,
        ...(gateway === undefined ? {} : { upload: packageUpload(gateway) }),
      }),
      workers: 2,
      sources: [
        { informer: foreign },
        {
          // Our Function changed or went: the peer object that owns it is looked at again.
          informer: functions,
          keys: (_key, current, previous) => {
            const fn = current ?? previous;
            const owner = fn?.metadata.ownerReferences?.find(
              (o) =>
                o.controller === true &&
                o.kind === peerTypes[peer].kind &&
                o.apiVersion.startsWith(`${peerTypes[peer].group}/`),
            );
            return fn === undefined || owner === undefined
              ? []
              : [objectKey({ metadata: { ...fn.metadata, name: owner.name } })];
          },
        },
      ],
    });
  }
  await operator.start();
  return {
    operator,
    url: operator.url,
    stop: () => operator.stop(),
  };
}

function packageCheck(gateway: GatewayAccess): PackageCheck {
  return async (digest) => {
    try {
      const response = await request(
        `${gateway.url.replace(/\/+$/, "")}/api/v1/packages/${digest}`,
        {
          method: "HEAD",
          headers: { authorization: `Bearer ${gateway.adminToken}` },
        },
      );
      await response.body.dump();
      if (response.statusCode === 200) {
        return true;
      }
      return response.statusCode === 404 ? false : undefined;
    } catch {
      // The gateway is not reachable: that is no verdict on the package.
      return undefined;
    }
  };
}

function packageUpload(gateway: GatewayAccess): PackageUpload {
  return async (archive, digest) => {
    const response = await request(`${gateway.url.replace(/\/+$/, "")}/api/v1/packages`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${gateway.adminToken}`,
        "content-type": "application/gzip",
        "x-runlet-digest": digest,
      },
      body: archive,
    });
    const text = await response.body.text();
    if (response.statusCode !== 200 && response.statusCode !== 201) {
      throw new Error(
        `the gateway refused the package upload: ${String(response.statusCode)} ${text.slice(0, 300)}`,
      );
    }
  };
}

function pick<T extends object, K extends keyof T>(
  object: T,
  keys: readonly K[],
): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const key of keys) {
    if (object[key] !== undefined) {
      out[key] = object[key];
    }
  }
  return out;
}
