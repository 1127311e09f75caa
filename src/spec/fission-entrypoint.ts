/**
 * A Fission entrypoint (`fission fn create --entrypoint`, a spec's `functionName`) turned into
 * the Runlet handler it names, resolved the way Fission's own environments resolve it against
 * the files of the package:
 *
 * - Node: `file.func` is export `func` of `file` (`.js`, `.cjs`, `.mjs` or `file/index.js`);
 *   a single word is a module whose default export is the function; an empty entrypoint is the
 *   package's only script, its package.json `main`, `index.js` or `main.js`.
 * - Python: `module.func` with dotted modules (`sub_mod.altmain.entrypoint` is
 *   `sub_mod/altmain.py`, function `entrypoint`); a bare name is a function of `main.py`; an
 *   empty entrypoint is `main.main`, or `main` of the package's only Python file.
 */
import { posix } from "node:path";
import type { RuntimeName } from "./function-spec.js";

/** What the resolver may ask of the package. */
export interface PackageFiles {
  has(path: string): boolean;
  /** Files at the package's top level. */
  topLevel(): readonly string[];
  /** The package.json `main` field, when there is one. */
  packageMain(): string | undefined;
}

export type ResolvedEntrypoint =
  { readonly handler: string } | { readonly problem: string; readonly tried: readonly string[] };

const identifier = /^[A-Za-z_$][\w$]*$/;

export function resolveFissionEntrypoint(
  entrypoint: string,
  runtime: RuntimeName,
  files: PackageFiles,
): ResolvedEntrypoint {
  const trimmed = entrypoint.trim();
  return runtime === "python" ? resolvePython(trimmed, files) : resolveNode(trimmed, files);
}

function moduleFiles(path: string): string[] {
  return [path, `${path}.js`, `${path}.cjs`, `${path}.mjs`, `${path}/index.js`];
}

function resolveNode(entrypoint: string, files: PackageFiles): ResolvedEntrypoint {
  if (entrypoint === "") {
    const scripts = files.topLevel().filter((file) => /\.[cm]?js$/.test(file));
    const main = files.packageMain();
    const candidates = [
      ...(scripts.length === 1 ? scripts : []),
      ...(main === undefined ? [] : moduleFiles(posix.normalize(main))),
      "index.js",
      "main.js",
    ];
    const found = candidates.find((file) => files.has(file));
    return found === undefined
      ? { problem: "no entrypoint is given and the package has no main script", tried: candidates }
      : { handler: found };
  }
  // A file named exactly so ("hello.js") is a module with a default export.
  if (files.has(entrypoint) && /\.[cm]?js$/.test(entrypoint)) {
    return { handler: entrypoint };
  }
  const dot = entrypoint.lastIndexOf(".");
  const name = dot < 0 ? "" : entrypoint.slice(dot + 1);
  if (dot > 0 && identifier.test(name)) {
    const candidates = moduleFiles(entrypoint.slice(0, dot));
    const found = candidates.find((file) => files.has(file));
    if (found !== undefined) {
      return { handler: `${found}:${name}` };
    }
  }
  const candidates = moduleFiles(entrypoint);
  const found = candidates.find((file) => files.has(file));
  return found === undefined
    ? { problem: `entrypoint ${JSON.stringify(entrypoint)} names no module`, tried: candidates }
    : { handler: found };
}

function pythonModule(dotted: string): string[] {
  const path = dotted.split(".").join("/");
  return [`${path}.py`, `${path}/__init__.py`];
}

function resolvePython(entrypoint: string, files: PackageFiles): ResolvedEntrypoint {
  if (entrypoint === "") {
    const scripts = files.topLevel().filter((file) => file.endsWith(".py"));
    const only = scripts.length === 1 ? scripts[0] : undefined;
    const file = files.has("main.py") ? "main.py" : only;
    return file === undefined
      ? {
          problem: "no entrypoint is given and the package has no main.py",
          tried: ["main.py"],
        }
      : { handler: `${file}:main` };
  }
  const dot = entrypoint.lastIndexOf(".");
  if (dot < 0) {
    // Fission reads a bare name as a function of main.py; a package without main.py but with
    // a module of that name means the module's main().
    if (files.has("main.py")) {
      return { handler: `main.py:${entrypoint}` };
    }
    const found = pythonModule(entrypoint).find((file) => files.has(file));
    return found === undefined
      ? {
          problem: `entrypoint ${JSON.stringify(entrypoint)} names no function`,
          tried: ["main.py"],
        }
      : { handler: `${found}:main` };
  }
  const candidates = pythonModule(entrypoint.slice(0, dot));
  const found = candidates.find((file) => files.has(file));
  return found === undefined
    ? { problem: `entrypoint ${JSON.stringify(entrypoint)} names no module`, tried: candidates }
    : { handler: `${found}:${entrypoint.slice(dot + 1)}` };
}
