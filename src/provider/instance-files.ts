/**
 * The files an instance reads its secrets and config maps from, where the platforms it may come
 * from put them, so their functions read them unchanged:
 *
 * - `/var/openfaas/secrets/<key>`: each key of each secret, as faas-netes projects a Secret (a
 *   one-value secret is the key of its own name, so `/var/openfaas/secrets/<name>`). Runlet's own
 *   `context.secret(name)` reads the same folder.
 * - `/secrets/<namespace>/<name>/<key>` and `/configs/<namespace>/<name>/<key>`: each key of
 *   each secret and config map, as Fission's environments mount them. Runlet has one namespace;
 *   Fission's default one, `default`, is the one in the path.
 *
 * Every provider writes the same layout; paths here are relative to the folder that stands for
 * `/` of those three trees (see `openfaasFolder`, `fissionSecretsFolder`, `fissionConfigsFolder`).
 */
import { fissionNamespace } from "../spec/names.js";
import type { KeyedBytes } from "./types.js";

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

/** Lays out the revealed secrets and config maps (names sorted, so the layout is stable). */
export function instanceFiles(
  secrets: Readonly<Record<string, KeyedBytes>>,
  configs: Readonly<Record<string, KeyedBytes>>,
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
      fission.set(`${fissionSecretsFolder}/${fissionNamespace}/${name}/${key}`, value);
    }
  }
  for (const name of Object.keys(configs).sort()) {
    for (const [key, value] of Object.entries(configs[name] ?? {})) {
      fission.set(`${fissionConfigsFolder}/${fissionNamespace}/${name}/${key}`, value);
    }
  }
  return { openfaas, fission };
}
