/**
 * Fission and Kubeless name a handler "file.function"; Runlet names it "file.js:function".
 * A function deployed with one of their shapes may be given either.
 */
import type { FunctionSpec } from "./function-spec.js";

const fileExtension = /\.(?:[cm]?js|ts|py)$/;
const platformForm = /^([\w./-]+)\.([A-Za-z_$][\w$]*)$/;

/** The spec with a "file.function" handler written the Runlet way, when its shape uses that form. */
export function withRunletHandler(spec: FunctionSpec): FunctionSpec {
  const handler = spec.handler;
  if (
    (spec.compat !== "fission" && spec.compat !== "kubeless") ||
    handler === undefined ||
    handler.includes(":") ||
    fileExtension.test(handler)
  ) {
    return spec;
  }
  const match = platformForm.exec(handler);
  if (!match) {
    return spec;
  }
  const extension = spec.runtime === "python" ? "py" : "js";
  return { ...spec, handler: `${match[1]}.${extension}:${match[2]}` };
}
