/**
 * Turns the JSON Schema zod writes (draft 2020-12) into a Kubernetes structural schema, the
 * OpenAPI v3 subset a CustomResourceDefinition accepts: every node has a type (or says it is
 * int-or-string, or keeps unknown fields), no $ref, and anyOf only where Kubernetes allows it.
 * What cannot be said that way is said as CEL validation rules (`x-kubernetes-validations`), so
 * the API server still refuses what the zod schema refuses, with a message that says why.
 */

/** A node of the OpenAPI v3 schema of a CRD version (apiextensions.k8s.io/v1 JSONSchemaProps). */
export interface StructuralSchema {
  type?: "object" | "array" | "string" | "integer" | "number" | "boolean";
  description?: string;
  properties?: Record<string, StructuralSchema>;
  required?: string[];
  additionalProperties?: StructuralSchema;
  items?: StructuralSchema;
  enum?: unknown[];
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  minItems?: number;
  maxItems?: number;
  maxProperties?: number;
  anyOf?: StructuralSchema[];
  "x-kubernetes-int-or-string"?: boolean;
  "x-kubernetes-preserve-unknown-fields"?: boolean;
  "x-kubernetes-validations"?: ValidationRule[];
  "x-kubernetes-list-type"?: "atomic" | "set" | "map";
  "x-kubernetes-list-map-keys"?: string[];
}

export interface ValidationRule {
  readonly rule: string;
  readonly message: string;
}

type JsonSchema = Record<string, unknown>;

/** Keys zod writes that a structural schema has no use for. */
const dropped = new Set(["$schema", "$id", "id", "title", "examples", "default"]);

/** Formats the API server knows; others (zod's "uri" among them) are left to the zod check. */
const knownFormats = new Set(["date-time", "date", "int32", "int64", "byte", "uuid"]);

/**
 * Converts one node and everything under it. Throws on a construct it has no translation for,
 * so a new kind of zod schema fails `npm run crds` instead of writing a CRD that says less.
 */
export function toStructuralSchema(json: JsonSchema, path = "$"): StructuralSchema {
  if ("$ref" in json) {
    throw new Error(`${path}: $ref has no place in a structural schema; generate inline schemas`);
  }
  if (Array.isArray(json.anyOf) || Array.isArray(json.oneOf)) {
    return fromUnion(json, path);
  }
  const out: StructuralSchema = {};
  copyExtensions(json, out);
  if (typeof json.description === "string") {
    out.description = json.description;
  }
  if (out["x-kubernetes-int-or-string"] || out["x-kubernetes-preserve-unknown-fields"]) {
    if (json.type === undefined || out["x-kubernetes-int-or-string"]) {
      return out;
    }
  }
  const type = json.type;
  if (Array.isArray(type)) {
    return fromTypeList(type, json, out, path);
  }
  switch (type) {
    case "object":
      return fromObject(json, out, path);
    case "array":
      out.type = "array";
      if (typeof json.items === "object" && json.items !== null) {
        out.items = toStructuralSchema(json.items as JsonSchema, `${path}[]`);
      } else {
        throw new Error(`${path}: an array needs one schema for its items`);
      }
      copyNumbers(json, out, ["minItems", "maxItems"]);
      return out;
    case "string":
    case "integer":
    case "number":
    case "boolean":
      out.type = type;
      copyScalar(json, out);
      return out;
    case undefined:
      if ("const" in json || Array.isArray(json.enum)) {
        const values = "const" in json ? [json.const] : (json.enum as unknown[]);
        const scalarType = typeof values[0];
        if (scalarType === "string" || scalarType === "boolean") {
          out.type = scalarType;
          out.enum = values;
          return out;
        }
      }
      if (Object.keys(json).every((key) => dropped.has(key) || key === "description")) {
        // Anything at all (zod's z.unknown()).
        out["x-kubernetes-preserve-unknown-fields"] = true;
        return out;
      }
      throw new Error(`${path}: a schema without a type: ${JSON.stringify(json)}`);
    default:
      throw new Error(`${path}: unknown type ${JSON.stringify(type)}`);
  }
}

function fromObject(json: JsonSchema, out: StructuralSchema, path: string): StructuralSchema {
  out.type = "object";
  const properties = json.properties as Record<string, JsonSchema> | undefined;
  if (properties && Object.keys(properties).length > 0) {
    out.properties = Object.fromEntries(
      Object.entries(properties).map(([key, value]) => [
        key,
        toStructuralSchema(value, `${path}.${key}`),
      ]),
    );
    if (Array.isArray(json.required) && json.required.length > 0) {
      out.required = [...(json.required as string[])];
    }
    // `additionalProperties: false` (zod's strictObject) needs no saying: the API server drops
    // unknown fields, or refuses them under kubectl's default strict field validation.
  } else if (typeof json.additionalProperties === "object" && json.additionalProperties !== null) {
    out.additionalProperties = toStructuralSchema(
      json.additionalProperties as JsonSchema,
      `${path}.*`,
    );
    const names = json.propertyNames as JsonSchema | undefined;
    if (names && typeof names.pattern === "string") {
      const message =
        typeof names["x-runlet-message"] === "string"
          ? names["x-runlet-message"]
          : `keys must match ${names.pattern}`;
      addRule(out, { rule: `self.all(k, k.matches(${celString(names.pattern)}))`, message });
    }
  } else if (json.additionalProperties !== false) {
    out["x-kubernetes-preserve-unknown-fields"] = true;
  }
  copyNumbers(json, out, ["maxProperties"]);
  return out;
}

/** `type: ["string", "number"]`: only int-or-string has a structural form. */
function fromTypeList(
  types: unknown[],
  json: JsonSchema,
  out: StructuralSchema,
  path: string,
): StructuralSchema {
  const set = new Set(types);
  if (set.size === 2 && set.has("string") && (set.has("number") || set.has("integer"))) {
    out["x-kubernetes-int-or-string"] = true;
    return out;
  }
  throw new Error(`${path}: no structural form for the types ${JSON.stringify(types)}`);
}

function fromUnion(json: JsonSchema, path: string): StructuralSchema {
  const branches = (json.anyOf ?? json.oneOf) as JsonSchema[];
  const description = typeof json.description === "string" ? json.description : undefined;
  const out: StructuralSchema = {};
  copyExtensions(json, out);
  if (description) {
    out.description = description;
  }
  if (branches.every((b) => b.type === "object")) {
    return mergeObjects(branches, out, description ?? "one of several shapes", path);
  }
  const types = new Set(branches.map((b) => b.type));
  if (types.size === 2 && types.has("string") && (types.has("number") || types.has("integer"))) {
    // Each branch's own bounds are left to the rules the caller attaches (override in zod).
    out["x-kubernetes-int-or-string"] = true;
    return out;
  }
  if (out["x-kubernetes-preserve-unknown-fields"]) {
    return out;
  }
  throw new Error(`${path}: no structural form for the union ${JSON.stringify(branches)}`);
}

/**
 * A union of object shapes told apart by a key (the trigger kinds): one object with every
 * branch's properties, and rules that say exactly one branch's key is there and that it comes
 * with no key of another branch.
 */
function mergeObjects(
  branches: JsonSchema[],
  out: StructuralSchema,
  message: string,
  path: string,
): StructuralSchema {
  out.type = "object";
  const properties: Record<string, StructuralSchema> = {};
  const keysOf: { key: string; own: string[] }[] = [];
  for (const branch of branches) {
    const converted = fromObject(branch, {}, path);
    const own = Object.keys(converted.properties ?? {});
    for (const [key, value] of Object.entries(converted.properties ?? {})) {
      const known = properties[key];
      if (known && JSON.stringify(known) !== JSON.stringify(value)) {
        throw new Error(`${path}.${key}: the union's shapes disagree on this key`);
      }
      properties[key] = value;
    }
    const required = converted.required ?? [];
    const key = required[0];
    if (required.length !== 1 || key === undefined) {
      throw new Error(`${path}: each shape of an object union needs exactly one required key`);
    }
    keysOf.push({ key, own });
  }
  out.properties = properties;
  addRule(out, {
    rule: `[${keysOf.map(({ key }) => `has(self.${key})`).join(", ")}].filter(x, x).size() == 1`,
    message,
  });
  for (const { key, own } of keysOf) {
    const foreign = Object.keys(properties).filter((k) => !own.includes(k));
    if (foreign.length > 0) {
      addRule(out, {
        rule: `!has(self.${key}) || !(${foreign.map((k) => `has(self.${k})`).join(" || ")})`,
        message: `a ${key} trigger has only the keys ${own.join(", ")}`,
      });
    }
  }
  return out;
}

function copyScalar(json: JsonSchema, out: StructuralSchema): void {
  if ("const" in json) {
    out.enum = [json.const];
  } else if (Array.isArray(json.enum)) {
    out.enum = [...(json.enum as unknown[])];
  }
  if (typeof json.pattern === "string") {
    out.pattern = json.pattern;
  }
  if (typeof json.format === "string" && knownFormats.has(json.format)) {
    out.format = json.format;
  }
  copyNumbers(json, out, ["minLength", "maxLength", "minimum", "maximum"]);
  // Draft 2020-12 writes exclusive bounds as numbers; OpenAPI v3.0 as flags beside the bound.
  if (typeof json.exclusiveMinimum === "number") {
    out.minimum = json.exclusiveMinimum;
    out.exclusiveMinimum = true;
  }
  if (typeof json.exclusiveMaximum === "number") {
    out.maximum = json.exclusiveMaximum;
    out.exclusiveMaximum = true;
  }
}

function copyNumbers(
  json: JsonSchema,
  out: StructuralSchema,
  keys: readonly (
    "minLength" | "maxLength" | "minimum" | "maximum" | "minItems" | "maxItems" | "maxProperties"
  )[],
): void {
  for (const key of keys) {
    const value = json[key];
    if (typeof value === "number" && Number.isFinite(value)) {
      out[key] = value;
    }
  }
}

function copyExtensions(json: JsonSchema, out: StructuralSchema): void {
  for (const [key, value] of Object.entries(json)) {
    if (key.startsWith("x-kubernetes-")) {
      (out as Record<string, unknown>)[key] = structuredClone(value);
    }
  }
}

function addRule(out: StructuralSchema, rule: ValidationRule): void {
  out["x-kubernetes-validations"] = [...(out["x-kubernetes-validations"] ?? []), rule];
}

/** A CEL string literal of `text` (a raw string, so regular expressions need no escaping). */
export function celString(text: string): string {
  if (!text.includes("'")) {
    return `r'${text}'`;
  }
  return JSON.stringify(text);
}
