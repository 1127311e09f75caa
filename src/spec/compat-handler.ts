/**
 * Fission and Kubeless name a handler "file.function"; Runlet names it "file.js:function".
 * A function deployed with one of their shapes may be given either. Fission's entrypoints
 * mean more than that (a module name, dotted Python modules, none at all), so they are
 * resolved against the package's files as Fission's environments resolve them.
 */
import type { FunctionSpec } from "./function-spec.js";
import { resolveFissionEntrypoint, type PackageFiles } from "./fission-entrypoint.js";
import { UserError } from "../errors.js";

const fileExtension = /\.(?:[cm]?js|ts|py)$/;
const platformForm = /^([\w./-]+)\.([A-Za-z_$][\w$]*)$/;

/** Whether a handler is already written the Runlet way ("file.js" or "file.py:name"). */
function isRunletForm(handler: string): boolean {
  return handler.includes(":") || fileExtension.test(handler);
}

/**
 * The spec with its handler written the Runlet way, when its shape uses another form.
 * `files` (the source folder's) lets a Fission entrypoint be resolved as Fission would.
 */
export function withRunletHandler(spec: FunctionSpec, files?: PackageFiles): FunctionSpec {
  const handler = spec.handler;
  if (
    spec.compat === "fission" &&
    files !== undefined &&
    (spec.runtime === "node" || spec.runtime === "python") &&
    (handler === undefined || !isRunletForm(handler))
  ) {
    const resolved = resolveFissionEntrypoint(handler ?? "", spec.runtime, files);
    if ("problem" in resolved) {
      throw new UserError(
        "RUNLET_HANDLER_NOT_FOUND",
        `Fission entrypoint: ${resolved.problem} (looked for ${resolved.tried.join(", ")}); set --handler to module.function, or to the file that exports your function.`,
      );
    }
    return { ...spec, handler: resolved.handler };
  }
  if (
    (spec.compat !== "fission" && spec.compat !== "kubeless") ||
    // Java's "Class.method" is already the platform's form, which its runtime reads.
    (spec.runtime !== "node" && spec.runtime !== "python") ||
    handler === undefined ||
    isRunletForm(handler)
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
