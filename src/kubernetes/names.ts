/**
 * The names Runlet's objects carry in a Kubernetes cluster: one place, so the gateway's
 * provider, the operator, the stores on custom resources and the manifests under deploy/
 * agree on every group, label and field manager.
 */
import { defaultNamespace } from "../spec/namespaces.js";

/** API group and version of Runlet's own custom resources. */
export const runletGroup = "runlet.dev";
export const runletVersion = "v1alpha1";
export const runletApiVersion = `${runletGroup}/${runletVersion}`;

/** Kinds and their plurals (the resource names in API paths). */
export const kinds = {
  function: { kind: "Function", plural: "functions" },
  revision: { kind: "FunctionRevision", plural: "functionrevisions" },
  trigger: { kind: "Trigger", plural: "triggers" },
} as const;

/** The namespace functions live in when none is named: the one OpenFaaS clients expect. */
export const defaultFunctionNamespace = defaultNamespace;
/** Where the gateway, operator and runtime pools run when the install names no other. */
export const defaultSystemNamespace = "runlet-system";

/**
 * Labels. A pool pod carries `pool` (its Deployment's selector); a pod taken for a function
 * loses `pool` (so its ReplicaSet lets it go and makes a replacement) and gains `function`,
 * `revision` and `instance`.
 */
export const labels = {
  pool: "runlet.dev/pool",
  runtime: "runlet.dev/runtime",
  limitsClass: "runlet.dev/limits-class",
  function: "runlet.dev/function",
  revision: "runlet.dev/revision",
  instance: "runlet.dev/instance",
  component: "app.kubernetes.io/component",
  partOf: "app.kubernetes.io/part-of",
  managedBy: "app.kubernetes.io/managed-by",
  /** On the Kubernetes Secrets that hold Runlet secrets (value "true"): the ones it lists. */
  secret: "runlet.dev/secret",
  /** On the ConfigMaps that hold Runlet config maps (value "true"): the ones it lists. */
  config: "runlet.dev/config",
  /** On the Secrets that hold scoped tokens' digests (value "true"): one Secret per token. */
  token: "runlet.dev/token",
  /** On the ConfigMaps that hold the gateways' audit chains (value "true"). */
  audit: "runlet.dev/audit",
  /** On the ConfigMaps that hold image tags (value "true"), one per image name. */
  imageTag: "runlet.dev/image-tag",
} as const;

/**
 * How the objects holding tokens, audit entries and image tags are named in the functions'
 * namespace: `runlet-token.<token>`, `runlet-audit.<chain>.<part>`, `runlet-image.<hash>`. The dot keeps them out of reach of the
 * secret and config map API, whose names are DNS-1123 labels (no dots): a deployer cannot
 * overwrite or delete a token or an audit part through `runlet secret` or `runlet config`.
 */
export const storeObjectPrefixes = {
  token: "runlet-token.",
  audit: "runlet-audit.",
  imageTag: "runlet-image.",
} as const;

/** Annotations Runlet writes on its objects. */
export const annotations = {
  /** When the function's active revision last changed (ms since the epoch), as `updatedAt`. */
  activatedAt: "runlet.dev/activated-at",
  /** When a Secret's (or config map's) value was last written (ms since the epoch). */
  updatedAt: "runlet.dev/updated-at",
  /** When an object Runlet replaces whole (an image tag) was first made (ms since the epoch). */
  createdAt: "runlet.dev/created-at",
} as const;

/** The value of `app.kubernetes.io/part-of` on everything Runlet makes. */
export const partOf = "runlet";

/** Server-side apply field managers: who owns which fields of an object. */
export const fieldManagers = {
  gateway: "runlet-gateway",
  operator: "runlet-operator",
  /**
   * The spec of a runlet Function the operator made from a peer's (Kubeless, OpenFaaS) object.
   * Apart from `operator`, whose applies on the same Function hold only its finalizer: an
   * apply drops the fields its manager left out, so one manager for both would delete the spec.
   */
  operatorImport: "runlet-operator-import",
  provider: "runlet-provider",
  /** A Function's status.replicas, counted from its pods (operator/function-replicas.ts). */
  operatorReplicas: "runlet-operator-replicas",
} as const;

/** The operator's finalizer on Function objects (their pods and revisions go first). */
export const functionFinalizer = "runlet.dev/cleanup";

/** The Lease the operator replicas elect their leader with. */
export const operatorLeaseName = "runlet-operator";
