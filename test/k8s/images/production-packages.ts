// The installed packages the platform needs at run time: package.json's dependencies, followed through node_modules as Node resolves them.
import { readdir, readFile, realpath, stat } from "node:fs/promises";
import * as path from "node:path";

export interface InstalledPackage {
  /** Its path below node_modules, e.g. `fastify`, `@esbuild/linux-x64` or `a/node_modules/b`. */
  readonly name: string;
  /** Where it is installed (symlinks resolved). */
  readonly dir: string;
  /** Its `*.node` files, whose shared libraries the image needs too. */
  readonly nativeAddons: readonly string[];
}

interface Manifest {
  readonly name?: string;
  readonly dependencies?: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
}

/**
 * `dependencies` and the installed `optionalDependencies` of `root`'s package.json, and theirs,
 * each resolved the way Node does (the nearest node_modules upwards from the requiring
 * package), so a nested copy of another version is found where Node would find it.
 */
export async function productionPackages(root: string): Promise<InstalledPackage[]> {
  const rootManifest = await readManifest(root);
  const modules = await realpath(path.join(root, "node_modules"));
  const found = new Map<string, InstalledPackage>();
  const queue: { name: string; from: string; optional: boolean }[] = [];
  const enqueue = (manifest: Manifest, from: string): void => {
    for (const name of Object.keys(manifest.dependencies ?? {})) {
      // The package's own link to itself (`"runlet": "file:."`) is not a dependency.
      if (name !== rootManifest.name) {
        queue.push({ name, from, optional: false });
      }
    }
    for (const name of Object.keys(manifest.optionalDependencies ?? {})) {
      queue.push({ name, from, optional: true });
    }
  };
  enqueue(rootManifest, modules);
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    const dir = await resolvePackage(next.name, next.from, modules);
    if (dir === undefined) {
      if (next.optional) {
        continue; // not for this platform
      }
      throw new Error(`${next.name} (needed by ${next.from}) is not installed; run npm install`);
    }
    if (found.has(dir)) {
      continue;
    }
    const name = path.relative(modules, dir);
    if (name.startsWith("..") || path.isAbsolute(name)) {
      throw new Error(`${next.name} resolves to ${dir}, outside ${modules}`);
    }
    found.set(dir, { name, dir, nativeAddons: await nativeAddons(dir) });
    enqueue(await readManifest(dir), dir);
  }
  return [...found.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** The first `node_modules/<name>` from `from` upwards, but not above `modules`. */
async function resolvePackage(
  name: string,
  from: string,
  modules: string,
): Promise<string | undefined> {
  const top = path.dirname(modules);
  for (let dir = from; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, "node_modules", name);
    try {
      if ((await stat(path.join(candidate, "package.json"))).isFile()) {
        return await realpath(candidate);
      }
    } catch {
      // not here; look further up
    }
    if (dir === top || dir === path.dirname(dir)) {
      return undefined;
    }
  }
}

async function readManifest(dir: string): Promise<Manifest> {
  return JSON.parse(await readFile(path.join(dir, "package.json"), "utf8")) as Manifest;
}

async function nativeAddons(dir: string): Promise<string[]> {
  const addons: string[] = [];
  const walk = async (current: string): Promise<void> => {
    for (const entry of await readdir(current, { withFileTypes: true })) {
      const full = path.join(current, entry.name);
      if (entry.isDirectory() && entry.name !== "node_modules") {
        await walk(full);
      } else if (entry.isFile() && entry.name.endsWith(".node")) {
        addons.push(full);
      }
    }
  };
  await walk(dir);
  return addons;
}
