/**
 * Where client commands find the gateway and its token: flags, then RUNLET_GATEWAY /
 * RUNLET_TOKEN, then what `runlet login` saved, then the local platform's own token file
 * (so the README tour works on the machine running `runlet up` without a login).
 */
import { existsSync, readFileSync } from "node:fs";
import { chmod, mkdir, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { z } from "zod";
import { UserError } from "../errors.js";

export const defaultGateway = "http://127.0.0.1:8080";

const savedConfigSchema = z.object({ gateway: z.string(), token: z.string() });
export type SavedConfig = z.infer<typeof savedConfigSchema>;

export interface ClientTarget {
  readonly gateway: string;
  readonly token: string | undefined;
  /** The namespace control requests act in (-n, RUNLET_NAMESPACE); undefined: the default. */
  readonly namespace?: string;
  /** Whether the command line named the namespace (-n), which beats a stack function's own. */
  readonly namespaceGiven?: boolean;
  /** PEM certificates an https gateway is checked against (--ca, RUNLET_CA), in place of the system roots. */
  readonly ca?: string;
}

export function configPath(env: Readonly<Record<string, string | undefined>>): string {
  const base = env["XDG_CONFIG_HOME"] || join(env["HOME"] || homedir(), ".config");
  return join(base, "runlet", "config.json");
}

export function defaultDataDir(env: Readonly<Record<string, string | undefined>>): string {
  return env["RUNLET_DATA_DIR"] || join(env["HOME"] || homedir(), ".runlet");
}

export function readSavedConfig(
  env: Readonly<Record<string, string | undefined>>,
): SavedConfig | undefined {
  const path = configPath(env);
  if (!existsSync(path)) {
    return undefined;
  }
  const parsed = savedConfigSchema.safeParse(JSON.parse(readFileSync(path, "utf8")));
  return parsed.success ? parsed.data : undefined;
}

export async function saveConfig(
  env: Readonly<Record<string, string | undefined>>,
  config: SavedConfig,
): Promise<string> {
  const path = configPath(env);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(path, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  await chmod(path, 0o600);
  return path;
}

export async function forgetConfig(
  env: Readonly<Record<string, string | undefined>>,
): Promise<boolean> {
  const path = configPath(env);
  const existed = existsSync(path);
  await rm(path, { force: true });
  return existed;
}

export function resolveTarget(
  flags: {
    gateway?: string;
    token?: string;
    ca?: string;
    namespace?: string;
    /** @default whether `namespace` is set: false when it is a stack file's, not -n. */
    namespaceGiven?: boolean;
  },
  env: Readonly<Record<string, string | undefined>>,
): ClientTarget {
  const caPath = flags.ca ?? (env["RUNLET_CA"] || undefined);
  const ca = caPath === undefined ? undefined : readCa(caPath);
  const saved = readSavedConfig(env);
  const gateway = (
    flags.gateway ??
    env["RUNLET_GATEWAY"] ??
    saved?.gateway ??
    defaultGateway
  ).replace(/\/+$/, "");
  const token =
    flags.token ??
    env["RUNLET_TOKEN"] ??
    (saved && saved.gateway.replace(/\/+$/, "") === gateway ? saved.token : undefined) ??
    localToken(gateway, env);
  const namespace = flags.namespace ?? (env["RUNLET_NAMESPACE"] || undefined);
  return {
    gateway,
    token,
    ...(ca === undefined ? {} : { ca }),
    ...(namespace === undefined
      ? {}
      : { namespace, namespaceGiven: flags.namespaceGiven ?? flags.namespace !== undefined }),
  };
}

function readCa(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new UserError(
      "RUNLET_INVALID_REQUEST",
      `Cannot read the CA certificate ${path} (${(error as Error).message}); give the gateway's certificate as a PEM file with --ca FILE or RUNLET_CA (runlet up --tls keeps it in <data-dir>/tls/cert.pem).`,
      { cause: error },
    );
  }
}

/** The token of a platform started on this machine with the default data dir. */
function localToken(
  gateway: string,
  env: Readonly<Record<string, string | undefined>>,
): string | undefined {
  const host = new URL(gateway).hostname;
  if (host !== "127.0.0.1" && host !== "localhost" && host !== "[::1]") {
    return undefined;
  }
  try {
    return readFileSync(join(defaultDataDir(env), "admin-token"), "utf8").trim();
  } catch {
    return undefined;
  }
}
