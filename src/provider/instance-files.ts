/**
 * The files an instance reads its secrets and config maps from, where the platforms it may come
 * from put them, so their functions read them unchanged:
 *
 * - `/var/openfaas/secrets/<key>`: each key of each secret, as faas-netes projects a Secret (a
 *   one-value secret is the key of its own name, so `/var/openfaas/secrets/<name>`). Runlet's own
 *   `context.secret(name)` reads the same folder.
 * - `/secrets/<namespace>/<name>/<key>` and `/configs/<namespace>/<name>/<key>`: each key of
 *   each secret and config map, as Fission's environments mount them; the default namespace
 *   is Fission's default one, `default`, in the path.
 *
 * A function reads the secrets and config maps of its own namespace only: the names its spec
 * gives are looked up qualified by its namespace (spec/namespaces.ts), and laid out bare.
 *
 * Every provider writes the same layout; paths here are relative to the folder that stands for
 * `/` of those three trees (see `openfaasFolder`, `fissionSecretsFolder`, `fissionConfigsFolder`).
 */
import { fissionPathNamespace, namespaceOfKey, qualifiedName } from "../spec/namespaces.js";
import type { KeyedBytes, SecretSource, SpecializeRequest } from "./types.js";

export const fissionSecretsFolder = "secrets";
export const fissionConfigsFolder = "configs";

/** Where each tree is inside the instance. */
export const instanceMounts = {
  openfaas: "/var/openfaas/secrets",
  fissionSecrets: `/${fissionSecretsFolder}`,
  fissionConfigs: `/${fissionConfigsFolder}`,
} as const;

export interface InstanceFiles {
  /** Files of the OpenFaaS folder, by key. */
  readonly openfaas: ReadonlyMap<string, Uint8Array>;
  /** Files of Fission's folders, by path relative to their parent (`secrets/default/db/user`). */
  readonly fission: ReadonlyMap<string, Uint8Array>;
}

/** The files of the secrets and config maps `request` names, from its function's namespace. */
export function instanceFilesFor(
  request: Pick<SpecializeRequest, "name" | "secrets" | "configs">,
  secrets: SecretSource,
  configs: SecretSource,
): InstanceFiles {
  const namespace = namespaceOfKey(request.name);
  return instanceFiles(
    revealIn(secrets, namespace, request.secrets),
    revealIn(configs, namespace, request.configs ?? []),
    fissionPathNamespace(namespace),
  );
}

/** The values of `names` in `namespace`, by their bare names. */
export function revealIn(
  source: SecretSource,
  namespace: string,
  names: readonly string[],
): Record<string, KeyedBytes> {
  const revealed = source.reveal(names.map((name) => qualifiedName(name, namespace)));
  const byName: Record<string, KeyedBytes> = {};
  for (const name of names) {
    const values = revealed[qualifiedName(name, namespace)];
    if (values !== undefined) {
      byName[name] = values;
    }
  }
  return byName;
}

/** Lays out the revealed secrets and config maps (names sorted, so the layout is stable). */
export function instanceFiles(
  secrets: Readonly<Record<string, KeyedBytes>>,
  configs: Readonly<Record<string, KeyedBytes>>,
  pathNamespace = "default",
): InstanceFiles {
  const openfaas = new Map<string, Uint8Array>();
  const fission = new Map<string, Uint8Array>();
  const names = Object.keys(secrets).sort();
  // Two secrets with the same key: the one named as the key owns the file, else the first.
  for (const name of names) {
    const own = secrets[name]?.[name];
    if (own !== undefined) {
      openfaas.set(name, own);
    }
  }
  for (const name of names) {
    for (const [key, value] of Object.entries(secrets[name] ?? {})) {
      if (!openfaas.has(key)) {
        openfaas.set(key, value);
      }
      fission.set(`${fissionSecretsFolder}/${pathNamespace}/${name}/${key}`, value);
    }
  }
  for (const name of Object.keys(configs).sort()) {
    for (const [key, value] of Object.entries(configs[name] ?? {})) {
      fission.set(`${fissionConfigsFolder}/${pathNamespace}/${name}/${key}`, value);
    }
  }
  return { openfaas, fission };
}
