/**
 * Runlet's custom resources, runlet.dev/v1alpha1 (issue 16): Function, FunctionRevision and
 * Trigger, as zod schemas built from the ones the stack file and the API use, the TypeScript
 * types that come from them, and their CustomResourceDefinitions (`npm run crds` writes those
 * to deploy/crds/). The API server checks what it can with the CRD's schema and rules; the
 * gateway and the operator parse every object with these schemas before acting on it.
 */
import { z } from "zod";
import {
  cpuSchema,
  cpuTextPattern,
  defaultHandler,
  deployRequestSchema,
  durationSchema,
  envNameSchema,
  envNamePattern,
  fieldMessages,
  functionSpecSchema,
  secretNameSchema,
  sizeSchema,
  type FunctionSpec,
} from "../spec/function-spec.js";
import { dns1123Label } from "../spec/names.js";
import { triggerSpecSchema, type TriggerSpec } from "../spec/trigger-spec.js";
import { durationTextPattern, sizeTextPattern } from "../spec/units.js";
import type { runletApiVersion } from "./names.js";
import { kinds, labels, runletGroup, runletVersion } from "./names.js";
import {
  celString,
  toStructuralSchema,
  type StructuralSchema,
  type ValidationRule,
} from "./structural-schema.js";

/** A rule checked twice: by zod (gateway, operator) and by the API server (CEL), same words. */
interface SharedRule<T> {
  readonly holds: (value: T) => boolean;
  readonly path?: string;
  readonly rule: string;
  readonly message: string;
}

const specRules: readonly SharedRule<{ runtime: string; handler?: string; command?: string }>[] = [
  {
    holds: (spec) => spec.runtime === "exec" || spec.handler !== undefined,
    path: "handler",
    rule: "self.runtime == 'exec' || has(self.handler)",
    message:
      'handler is required: the file in the package that serves calls, e.g. "index.js" or "handler.py:main" (runtime exec takes a command instead)',
  },
  {
    holds: (spec) => spec.runtime !== "exec" || spec.command !== undefined,
    path: "command",
    rule: "self.runtime != 'exec' || has(self.command)",
    message: "runtime exec needs a command: the program and its arguments, run in the package",
  },
];

function withRules<S extends z.ZodType<{ runtime: string; handler?: string; command?: string }>>(
  schema: S,
): S {
  return schema.check((ctx) => {
    for (const rule of specRules) {
      if (!rule.holds(ctx.value)) {
        ctx.issues.push({
          code: "custom",
          input: ctx.value,
          path: rule.path === undefined ? [] : [rule.path],
          message: rule.message,
        });
      }
    }
  });
}

/** What a FunctionRevision keeps: a function's spec and the package it runs, as deployed. */
export const revisionSnapshotSchema = functionSpecSchema.extend({
  package: deployRequestSchema.shape.package,
});
export type RevisionSnapshot = z.infer<typeof revisionSnapshotSchema>;

/** Function.spec: the function as deployed, and which of its revisions serves. */
export const functionResourceSpecSchema = withRules(
  revisionSnapshotSchema.extend({
    /**
     * The revision that serves (a deploy or rollback through the API sets it). When absent, the
     * revision made from this spec serves: the operator makes it (kubectl apply).
     */
    activeRevision: z.number().int().min(1).optional(),
  }),
);
export type FunctionResourceSpec = z.infer<typeof functionResourceSpecSchema>;

export const conditionTypes = ["Ready", "Progressing", "Degraded"] as const;
export type ConditionType = (typeof conditionTypes)[number];

/** A status condition, as metav1.Condition has it. */
export const conditionSchema = z.strictObject({
  type: z.enum(conditionTypes),
  status: z.enum(["True", "False", "Unknown"]),
  /** CamelCase, for machines: "Serving", "LoadFailed", "PackageMissing". */
  reason: z.string().regex(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/, "reason is CamelCase"),
  /** For people: e.g. the handler's syntax error with its file and line. */
  message: z.string().max(32_768),
  lastTransitionTime: z.string(),
  observedGeneration: z.number().int().min(0).optional(),
});
export type Condition = z.infer<typeof conditionSchema>;

export const functionStatusSchema = z.strictObject({
  observedGeneration: z.number().int().min(0).optional(),
  conditions: z.array(conditionSchema).optional(),
  /** Instances the function has (pods, or processes on one gateway). */
  replicas: z.number().int().min(0).optional(),
  /** The URL calls reach it at through the gateway. */
  url: z.string().optional(),
  /** The revision serving now. */
  activeRevision: z.number().int().min(1).optional(),
  /** The highest revision number made so far. */
  latestRevision: z.number().int().min(1).optional(),
});
export type FunctionStatus = z.infer<typeof functionStatusSchema>;

/** FunctionRevision.spec: immutable; named `<function>-r<revision>`, owned by its Function. */
export const revisionResourceSpecSchema = z.strictObject({
  function: z.string().regex(dns1123Label, "a function name (a DNS-1123 label)"),
  revision: z.number().int().min(1),
  /** Identity of the revision (function-spec.ts revisionHash with its triggers). */
  hash: z.string().regex(/^[a-f0-9]{64}$/, "a hex sha256"),
  spec: revisionSnapshotSchema,
});
export type RevisionResourceSpec = z.infer<typeof revisionResourceSpecSchema>;

/** Trigger.spec: what calls which function ("hello", or "hello@3" for one revision). */
export const triggerResourceSpecSchema = z.strictObject({
  function: z
    .string()
    .regex(
      /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(@[1-9][0-9]*)?$/,
      'expected a function name, or "name@revision"',
    ),
  /** "spec": declared in the function's spec (replaced on each deploy); "api": on its own. */
  origin: z.enum(["spec", "api"]).optional(),
  trigger: triggerSpecSchema,
});
export type TriggerResourceSpec = z.infer<typeof triggerResourceSpecSchema>;

/** The metadata fields Runlet reads and writes (the rest of ObjectMeta passes through). */
export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string | Date;
  deletionTimestamp?: string | Date;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: OwnerReference[];
  managedFields?: unknown[];
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface FunctionObject {
  apiVersion: typeof runletApiVersion;
  kind: "Function";
  metadata: ObjectMeta;
  spec: FunctionResourceSpec;
  status?: FunctionStatus;
}

export interface FunctionRevisionObject {
  apiVersion: typeof runletApiVersion;
  kind: "FunctionRevision";
  metadata: ObjectMeta;
  spec: RevisionResourceSpec;
}

export interface TriggerObject {
  apiVersion: typeof runletApiVersion;
  kind: "Trigger";
  metadata: ObjectMeta;
  spec: TriggerResourceSpec;
}

/** The object name of a function's revision: "hello-r3". */
export function revisionObjectName(functionName: string, revision: number): string {
  return `${functionName}-r${revision}`;
}

/** Where an object's parse failed, as one line for a condition's message or a log. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length > 0 ? `${issue.path.join(".")}: ` : ""}${issue.message}`)
    .join("; ");
}

/**
 * A spec as a Function or FunctionRevision holds it. The CRD types durations, sizes and cores
 * as int-or-string (the only union Kubernetes has), so a fraction such as `cpu: 0.5` is written
 * as the string "0.5", and a fractional size as whole bytes; each means what it meant before
 * (resolveFunctionConfig reads them to the same values).
 */
export function toResourceSnapshot(spec: FunctionSpec, packageDigest: string): RevisionSnapshot {
  const out: RevisionSnapshot = { ...spec, package: packageDigest };
  const seconds = (value: string | number | undefined): string | number | undefined =>
    typeof value === "number" && !Number.isInteger(value) ? `${Math.round(value * 1000)}ms` : value;
  const bytes = (value: string | number | undefined): string | number | undefined =>
    typeof value === "number" ? Math.round(value) : value;
  if (spec.timeout !== undefined) {
    out.timeout = seconds(spec.timeout);
  }
  if (spec.memory !== undefined) {
    out.memory = bytes(spec.memory);
  }
  if (spec.maxBody !== undefined) {
    out.maxBody = bytes(spec.maxBody);
  }
  if (typeof spec.cpu === "number" && !Number.isInteger(spec.cpu)) {
    out.cpu = String(spec.cpu);
  }
  if (spec.scale) {
    out.scale = { ...spec.scale };
    if (spec.scale.idleTimeout !== undefined) {
      out.scale.idleTimeout = seconds(spec.scale.idleTimeout);
    }
    if (spec.scale.window !== undefined) {
      out.scale.window = seconds(spec.scale.window);
    }
  }
  return out;
}

/** A Function's spec from a deployed spec: the handler written out (the CRD requires one). */
export function toFunctionResourceSpec(
  spec: FunctionSpec,
  packageDigest: string,
  activeRevision: number | undefined,
): FunctionResourceSpec {
  const snapshot = toResourceSnapshot(spec, packageDigest);
  return {
    ...snapshot,
    ...(spec.runtime === "exec" || spec.handler !== undefined
      ? {}
      : { handler: defaultHandler[spec.runtime] }),
    ...(activeRevision === undefined ? {} : { activeRevision }),
  };
}

/** The FunctionSpec inside a snapshot (the package apart). */
export function specOfSnapshot(snapshot: RevisionSnapshot): {
  spec: FunctionSpec;
  packageDigest: string;
} {
  const { package: packageDigest, ...spec } = snapshot;
  return { spec, packageDigest };
}

export type { TriggerSpec };

// ---------------------------------------------------------------------------------------------
// CustomResourceDefinitions

/** CEL rule of an int-or-string field that must read as `pattern` when it is a string. */
function intOrString(pattern: RegExp, intRule: string, message: string): Record<string, unknown> {
  return {
    "x-kubernetes-int-or-string": true,
    "x-kubernetes-validations": [
      {
        rule: `type(self) == int ? ${intRule} : self.matches(${celString(pattern.source)})`,
        message,
      },
    ],
  };
}

/** How the field schemas shared with the stack file are said in a CRD. */
const structuralForms = new Map<z.core.$ZodType, Record<string, unknown>>([
  [durationSchema, intOrString(durationTextPattern, "self >= 0", fieldMessages.duration)],
  [sizeSchema, intOrString(sizeTextPattern, "self >= 0", fieldMessages.size)],
  [cpuSchema, intOrString(cpuTextPattern, "self > 0 && self <= 256", fieldMessages.cpu)],
  [
    envNameSchema,
    { type: "string", pattern: envNamePattern.source, "x-runlet-message": fieldMessages.envName },
  ],
  [
    secretNameSchema,
    {
      type: "string",
      maxLength: 63,
      "x-kubernetes-validations": [
        {
          rule: `self.matches(${celString(dns1123Label.source)})`,
          message: fieldMessages.secretName,
        },
      ],
    },
  ],
  // true, false or "host": a union Kubernetes has no type for, and CEL cannot read an untyped
  // field, so the API server takes any value here and the zod parse refuses a wrong one.
  [functionSpecSchema.shape.network, { "x-kubernetes-preserve-unknown-fields": true }],
]);

/**
 * Bounds the CRD adds (by the path of a field, at any depth) so the API server can price the
 * CEL rules under them: a list or map a rule walks needs a largest size.
 */
const bounds: Record<string, Record<string, number>> = {
  "properties.triggers": { maxItems: 64 },
  "properties.secrets": { maxItems: 64 },
  "properties.configs": { maxItems: 64 },
  "properties.env": { maxProperties: 256 },
};

function jsonSchemaOf(schema: z.ZodType): Record<string, unknown> {
  return z.toJSONSchema(schema, {
    io: "input",
    reused: "inline",
    unrepresentable: "throw",
    override: ({ zodSchema, jsonSchema, path }) => {
      const form = structuralForms.get(zodSchema);
      if (form) {
        for (const key of Object.keys(jsonSchema)) {
          Reflect.deleteProperty(jsonSchema, key);
        }
        Object.assign(jsonSchema, structuredClone(form));
      }
      const at = path.join(".");
      for (const [suffix, bound] of Object.entries(bounds)) {
        if (at === suffix || at.endsWith(`.${suffix}`)) {
          Object.assign(jsonSchema, bound);
        }
      }
    },
  }) as Record<string, unknown>;
}

function structural(schema: z.ZodType, rules: readonly ValidationRule[] = []): StructuralSchema {
  const out = toStructuralSchema(jsonSchemaOf(schema));
  if (rules.length > 0) {
    out["x-kubernetes-validations"] = [...(out["x-kubernetes-validations"] ?? []), ...rules];
  }
  return out;
}

function functionStatusStructural(): StructuralSchema {
  const status = structural(functionStatusSchema);
  const conditions = status.properties?.conditions;
  if (conditions) {
    // The gateway and the operator each own their conditions (server-side apply merges by type).
    conditions["x-kubernetes-list-type"] = "map";
    conditions["x-kubernetes-list-map-keys"] = ["type"];
    const time = conditions.items?.properties?.lastTransitionTime;
    if (time) {
      time.format = "date-time";
    }
  }
  return status;
}

export interface CustomResourceDefinition {
  apiVersion: "apiextensions.k8s.io/v1";
  kind: "CustomResourceDefinition";
  metadata: { name: string; labels: Record<string, string> };
  spec: {
    group: string;
    scope: "Namespaced";
    names: {
      plural: string;
      singular: string;
      kind: string;
      listKind: string;
      shortNames: string[];
      categories: string[];
    };
    versions: {
      name: string;
      served: true;
      storage: true;
      schema: { openAPIV3Schema: StructuralSchema };
      subresources?: { status: Record<string, never> };
      additionalPrinterColumns: {
        name: string;
        type: "string" | "integer" | "date";
        jsonPath: string;
        priority?: number;
        description?: string;
      }[];
    }[];
  };
}

function crd(
  kind: { kind: string; plural: string },
  shortNames: string[],
  schema: { spec: StructuralSchema; status?: StructuralSchema },
  columns: CustomResourceDefinition["spec"]["versions"][number]["additionalPrinterColumns"],
  description: string,
): CustomResourceDefinition {
  const singular = kind.kind.toLowerCase();
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: {
      name: `${kind.plural}.${runletGroup}`,
      labels: { [labels.partOf]: "runlet" },
    },
    spec: {
      group: runletGroup,
      scope: "Namespaced",
      names: {
        plural: kind.plural,
        singular,
        kind: kind.kind,
        listKind: `${kind.kind}List`,
        shortNames,
        categories: ["runlet"],
      },
      versions: [
        {
          name: runletVersion,
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: {
              type: "object",
              description,
              required: ["spec"],
              properties: {
                apiVersion: { type: "string" },
                kind: { type: "string" },
                metadata: { type: "object" },
                spec: schema.spec,
                ...(schema.status ? { status: schema.status } : {}),
              },
            },
          },
          ...(schema.status ? { subresources: { status: {} } } : {}),
          additionalPrinterColumns: [
            ...columns,
            { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
          ],
        },
      ],
    },
  };
}

/** The three CRDs, in the order they are applied. */
export function customResourceDefinitions(): CustomResourceDefinition[] {
  const revisionSpec = structural(revisionResourceSpecSchema, [
    {
      rule: "self == oldSelf",
      message: "a FunctionRevision is immutable: deploy again to make a new revision",
    },
  ]);
  return [
    crd(
      kinds.function,
      ["rfn"],
      {
        spec: structural(
          functionResourceSpecSchema,
          specRules.map(({ rule, message }) => ({ rule, message })),
        ),
        status: functionStatusStructural(),
      },
      [
        { name: "Runtime", type: "string", jsonPath: ".spec.runtime" },
        {
          name: "Ready",
          type: "string",
          jsonPath: '.status.conditions[?(@.type=="Ready")].status',
        },
        { name: "Revision", type: "integer", jsonPath: ".status.activeRevision" },
        {
          name: "Reason",
          type: "string",
          jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
          priority: 1,
        },
      ],
      "A function: its runtime, handler, package and settings, and which revision serves.",
    ),
    crd(
      kinds.revision,
      ["rfnrev"],
      { spec: revisionSpec },
      [
        { name: "Function", type: "string", jsonPath: ".spec.function" },
        { name: "Revision", type: "integer", jsonPath: ".spec.revision" },
        { name: "Runtime", type: "string", jsonPath: ".spec.spec.runtime" },
        { name: "Package", type: "string", jsonPath: ".spec.spec.package", priority: 1 },
      ],
      "One immutable revision of a function (its spec and package at one deploy), owned by the Function.",
    ),
    crd(
      kinds.trigger,
      ["rtrig"],
      { spec: structural(triggerResourceSpecSchema) },
      [
        { name: "Function", type: "string", jsonPath: ".spec.function" },
        { name: "Origin", type: "string", jsonPath: ".spec.origin" },
        { name: "HTTP", type: "string", jsonPath: ".spec.trigger.http", priority: 1 },
        { name: "Cron", type: "string", jsonPath: ".spec.trigger.cron", priority: 1 },
        { name: "NATS", type: "string", jsonPath: ".spec.trigger.nats", priority: 1 },
      ],
      "An HTTP route, cron schedule or NATS subject that calls a function.",
    ),
  ];
}
