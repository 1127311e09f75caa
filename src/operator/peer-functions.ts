/**
 * Peers' Function objects (Kubeless kubeless.io/v1beta1, OpenFaaS openfaas.com/v1) reconciled
 * into runlet Functions through the importers, so their users' manifests deploy with
 * `kubectl apply` as they are (issue 16). The runlet Function is owned by the foreign object
 * (a controller owner reference): deleting it deletes ours, through the garbage collector.
 *
 * Packages: a Kubeless Function carries its source inline (spec.function); the operator packs
 * it as `runlet deploy` would (src/packaging) and uploads it to the gateway's package API with
 * the admin token; the digest is deterministic, so an unchanged source is not uploaded again.
 * An OpenFaaS Function's image must already name a package the gateway has.
 *
 * What stops an object (an import problem, an image that is not a package, a name taken) is
 * said as a Degraded condition on the foreign object's status, when its CRD has a status
 * subresource, and as a Warning Event on it, which `kubectl describe` shows for any kind.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeFunctionSources } from "../importers/imported.js";
import { convertKubelessFunction } from "../importers/kubeless.js";
import { convertOpenfaasFunction } from "../importers/openfaas-function.js";
import { fieldManagers, kinds, labels, runletApiVersion } from "../kubernetes/names.js";
import { toFunctionResourceSpec, type FunctionObject } from "../kubernetes/resources.js";
import { packDirectory } from "../packaging/pack.js";
import type { FunctionSpec } from "../spec/function-spec.js";
import type { ReconcileResult, Reconciler } from "./controller.js";
import { functionType } from "./function-controller.js";
import { splitKey, type Informer } from "./informer.js";
import {
  apiVersionOf,
  collectionPath,
  isNotFound,
  KubeApiError,
  objectPath,
  type KubeClient,
  type KubeObject,
  type ResourceType,
} from "./kube-client.js";

export type PeerKind = "kubeless" | "openfaas";

export const peerKinds: readonly PeerKind[] = ["kubeless", "openfaas"];

export const peerTypes: Readonly<Record<PeerKind, ResourceType>> = {
  kubeless: {
    group: "kubeless.io",
    version: "v1beta1",
    plural: "functions",
    kind: "Function",
    namespaced: true,
  },
  openfaas: {
    group: "openfaas.com",
    version: "v1",
    plural: "functions",
    kind: "Function",
    namespaced: true,
  },
};

/** Label on a runlet Function made from a peer's object: which peer. */
export const importedFromLabel = "runlet.dev/imported-from";

/** Uploads a package archive to the gateway (POST /api/v1/packages). */
export type PackageUpload = (archive: Buffer, digest: string) => Promise<void>;

const eventType: ResourceType = {
  group: "",
  version: "v1",
  plural: "events",
  kind: "Event",
  namespaced: true,
};

export interface PeerFunctionOptions {
  readonly kind: PeerKind;
  readonly client: KubeClient;
  readonly foreign: Informer<KubeObject>;
  /** The runlet Functions, to see what exists already. */
  readonly functions: Informer<KubeObject>;
  /** Without it, a Kubeless inline source cannot become a package. */
  readonly upload?: PackageUpload;
  /** @default Date.now */
  readonly now?: () => number;
}

interface Problem {
  readonly reason: string;
  readonly message: string;
}

export class PeerFunctionReconciler implements Reconciler {
  readonly name: string;
  readonly #o: PeerFunctionOptions;
  readonly #type: ResourceType;
  /** The last problem said about each object, so an Event is sent once per problem. */
  readonly #said = new Map<string, string>();

  constructor(options: PeerFunctionOptions) {
    this.#o = options;
    this.#type = peerTypes[options.kind];
    this.name = `${options.kind}-functions`;
  }

  async reconcile(key: string): Promise<ReconcileResult | undefined> {
    const foreign = this.#o.foreign.get(key);
    if (foreign === undefined || foreign.metadata.deletionTimestamp !== undefined) {
      // Ours goes with it: the garbage collector follows the owner reference.
      this.#said.delete(key);
      return undefined;
    }
    const { namespace = "", name } = splitKey(key);
    const existing = this.#o.functions.get(key) as FunctionObject | undefined;
    const owned = existing?.metadata.ownerReferences?.some(
      (o) => o.controller === true && o.uid === foreign.metadata.uid,
    );
    if (existing !== undefined && owned !== true) {
      await this.#report(foreign, key, {
        reason: "NameTaken",
        message: `a runlet Function ${name} exists in namespace ${namespace} already and was not made from this ${this.#o.kind} Function; rename one of them`,
      });
      return undefined;
    }
    const converted = await this.#convert(foreign, name, existing);
    if ("reason" in converted) {
      await this.#report(foreign, key, converted);
      return undefined;
    }
    const spec = toFunctionResourceSpec(converted.spec, converted.packageDigest, undefined);
    await this.#o.client.apply(
      objectPath(functionType, namespace, name),
      {
        apiVersion: runletApiVersion,
        kind: kinds.function.kind,
        metadata: {
          name,
          namespace,
          labels: {
            [importedFromLabel]: this.#o.kind,
            [labels.managedBy]: fieldManagers.operator,
          },
          ownerReferences: [
            {
              apiVersion: apiVersionOf(this.#type),
              kind: this.#type.kind,
              name,
              uid: foreign.metadata.uid,
              controller: true,
              blockOwnerDeletion: true,
            },
          ],
        },
        spec,
      },
      { fieldManager: fieldManagers.operatorImport },
    );
    await this.#report(foreign, key, undefined);
    return undefined;
  }

  async #convert(
    foreign: KubeObject,
    name: string,
    existing: FunctionObject | undefined,
  ): Promise<{ spec: FunctionSpec; packageDigest: string } | Problem> {
    if (this.#o.kind === "openfaas") {
      return convertOpenfaasFunction(foreign as unknown as Record<string, unknown>);
    }
    const notices: string[] = [];
    const imported = convertKubelessFunction(
      name,
      foreign as unknown as Record<string, unknown>,
      notices,
    );
    if (typeof imported === "string") {
      return { reason: "ImportFailed", message: imported };
    }
    const dir = await mkdtemp(join(tmpdir(), "runlet-operator-"));
    try {
      const [written] = await writeFunctionSources(dir, [{ ...imported, origin: name }]);
      if (written === undefined) {
        throw new Error(`no source was written for ${name}`);
      }
      const packed = await packDirectory(written.source);
      if (existing?.spec.package !== packed.digest) {
        const upload = this.#o.upload;
        if (upload === undefined) {
          return {
            reason: "NoGateway",
            message:
              "a Kubeless Function's inline source is uploaded to the gateway as a package, and this operator has no gateway: run it with --gateway URL and RUNLET_ADMIN_TOKEN",
          };
        }
        await upload(packed.archive, packed.digest);
      }
      return { spec: imported.spec, packageDigest: packed.digest };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Says `problem` (or that there is none) on the foreign object, once per change. */
  async #report(foreign: KubeObject, key: string, problem: Problem | undefined): Promise<void> {
    const said = problem === undefined ? "" : `${problem.reason}: ${problem.message}`;
    if ((this.#said.get(key) ?? "") === said) {
      return;
    }
    const { namespace = "", name } = splitKey(key);
    const now = new Date((this.#o.now ?? Date.now)()).toISOString().replace(/\.\d{3}Z$/, "Z");
    const generation = foreign.metadata.generation ?? 0;
    // The Event first: whoever sees the condition can find the Event that goes with it.
    if (problem !== undefined) {
      await this.#o.client.create(
        collectionPath(eventType, namespace),
        {
          apiVersion: "v1",
          kind: "Event",
          metadata: { generateName: `${name}.`, namespace },
          involvedObject: {
            apiVersion: apiVersionOf(this.#type),
            kind: this.#type.kind,
            name,
            namespace,
            uid: foreign.metadata.uid,
          },
          type: "Warning",
          reason: problem.reason,
          message: problem.message,
          source: { component: fieldManagers.operator },
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
        fieldManagers.operator,
      );
    }
    try {
      await this.#o.client.apply(
        objectPath(this.#type, namespace, name),
        {
          apiVersion: apiVersionOf(this.#type),
          kind: this.#type.kind,
          metadata: { name, namespace },
          status: {
            conditions: [
              {
                type: "Degraded",
                status: problem === undefined ? "False" : "True",
                reason: problem?.reason ?? "Imported",
                message: problem?.message ?? `reconciled into runlet Function ${namespace}/${name}`,
                lastTransitionTime: now,
                observedGeneration: generation,
              },
            ],
          },
        },
        { fieldManager: fieldManagers.operator, subresource: "status" },
      );
    } catch (error) {
      // A CRD without a status subresource (Kubeless' own has none): the Event says it.
      if (!isNotFound(error) && !(error instanceof KubeApiError && error.code === 422)) {
        throw error;
      }
    }
    this.#said.set(key, said);
  }
}
