/** A function's source folder as the handler resolvers see a package's files. */
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import type { PackageFiles } from "../spec/fission-entrypoint.js";

export function sourceFiles(dir: string): PackageFiles {
  return {
    has: (path) => statSync(join(dir, path), { throwIfNoEntry: false })?.isFile() === true,
    topLevel: () =>
      readdirSync(dir, { withFileTypes: true })
        .filter((entry) => entry.isFile())
        .map((entry) => entry.name),
    packageMain: () => {
      try {
        const parsed: unknown = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
        const main = (parsed as { main?: unknown } | null)?.main;
        return typeof main === "string" ? main : undefined;
      } catch {
        return undefined; // No package.json, or not JSON: the usual names are tried.
      }
    },
  };
}
