/**
 * Secret and config map bodies of the native API: one value (`value` as text, `valueBase64` as
 * any bytes; a secret only, under the key of its own name) or keys (`data`, each value base64,
 * as a Kubernetes Secret's `data`), turned into the keys and bytes the stores keep.
 */
import { z } from "zod";
import { UserError } from "../errors.js";
import { parseFunctionSpec } from "../spec/function-spec.js";
import { singleValue, type KeyedValues } from "../store/secret-store.js";

const base64 = z
  .string()
  .regex(/^[A-Za-z0-9+/]*={0,2}$/, "expected base64 (A-Z, a-z, 0-9, +, /, = padding)");

export const secretBodySchema = z.strictObject({
  value: z.string().optional(),
  valueBase64: base64.optional(),
  data: z.record(z.string(), base64).optional(),
});

export const configBodySchema = z.strictObject({ data: z.record(z.string(), base64) });

/** The keys and bytes of a PUT /api/v1/secrets/:name body. */
export function secretValuesOf(name: string, body: unknown): KeyedValues {
  const parsed = parseFunctionSpec(secretBodySchema, body, "secret");
  const given = [parsed.value, parsed.valueBase64, parsed.data].filter((v) => v !== undefined);
  if (given.length !== 1) {
    throw new UserError(
      "RUNLET_INVALID_REQUEST",
      'A secret body has exactly one of "value" (text), "valueBase64" (bytes) or "data" (keys, each base64).',
    );
  }
  if (parsed.value !== undefined) {
    return singleValue(name, parsed.value);
  }
  if (parsed.valueBase64 !== undefined) {
    return singleValue(name, Buffer.from(parsed.valueBase64, "base64"));
  }
  return decodeData(parsed.data ?? {});
}

/** The keys and bytes of a PUT /api/v1/configs/:name body. */
export function configValuesOf(body: unknown): KeyedValues {
  return decodeData(parseFunctionSpec(configBodySchema, body, "config map").data);
}

function decodeData(data: Readonly<Record<string, string>>): KeyedValues {
  const values: Record<string, Buffer> = {};
  for (const [key, encoded] of Object.entries(data)) {
    values[key] = Buffer.from(encoded, "base64");
  }
  return values;
}

/** Keys and values as the API answers them: base64, as they were given. */
export function encodedData(values: KeyedValues): Record<string, string> {
  const data: Record<string, string> = {};
  for (const [key, value] of Object.entries(values)) {
    data[key] = value.toString("base64");
  }
  return data;
}
