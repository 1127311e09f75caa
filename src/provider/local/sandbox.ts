/**
 * The instance sandbox: on Linux with bubblewrap, each instance gets its own user (as an
 * unprivileged host uid), mount, pid, ipc, uts and network namespaces, a read-only system, its own package read-only at /function, a private
 * /tmp, its secrets at /var/openfaas/secrets (and Fission's /secrets and /configs trees,
 * provider/instance-files.ts), and nothing else of the host: no data dir, no
 * other function's code or secrets. Where that is not possible, instances run unsandboxed and
 * the platform says so once.
 */
import { dirname, join } from "node:path";
import {
  baseSandboxArgs,
  bubblewrapLauncher,
  sandboxUidBase,
  scratchMounts,
  StagedBinds,
  type SandboxUser,
} from "../../host/bubblewrap.js";
import type { NetworkMode } from "../../spec/function-spec.js";
import { fissionConfigsFolder, fissionSecretsFolder, instanceMounts } from "../instance-files.js";

/** Paths as the instance sees them. */
export const insidePaths = {
  function: "/function",
  runtime: "/runtime",
  socketDir: "/run/runlet",
  secrets: instanceMounts.openfaas,
} as const;

export interface SandboxedCommand {
  readonly command: string;
  readonly args: string[];
}

export interface SandboxLayout {
  /** Host directory holding the socket. */
  readonly socketDir: string;
  /** Host directory the function's package is linked into at specialize. */
  readonly functionDir: string;
  readonly secretsDir: string;
  /** Host directory holding the `secrets/` and `configs/` trees shown at /secrets and /configs. */
  readonly fissionDir: string;
  /** Host directory of the runtime server. */
  readonly runtimeDir: string;
  /** Runtime entry file name inside runtimeDir. */
  readonly entry: string;
  /** Program that runs the entry (node, python3); outside /usr it is mounted at its own path. */
  readonly interpreter: string;
  /** Arguments of the interpreter before the entry (a JVM's flags and `-jar`). */
  readonly interpreterArgs?: readonly string[];
  /** More host directories the runtime reads, shown read-only at their own paths. */
  readonly readOnlyDirs?: readonly string[];
  readonly network: NetworkMode;
  /** Size cap of /tmp and /dev/shm. */
  readonly tmpBytes: number;
  /** Host uid/gid to run as (root platforms). */
  readonly user: SandboxUser | undefined;
  /** Child fd bwrap writes its JSON info (the sandbox's pid) to. */
  readonly infoFd: number | undefined;
  /** Host file shown as /etc/resolv.conf instead of the host's. */
  readonly resolvConf: string | undefined;
  /** The instance's own identity: its hostname, and a folder of the /etc files that name it. */
  readonly identity?: SandboxIdentity;
  /** Empty traversable folder for the bind stages (root platforms; see StagedBinds). */
  readonly stageDir: string | undefined;
}

/**
 * What a function reads to know who and where it is, as a container would have it: its own
 * hostname, and /etc/hostname, /etc/passwd and /etc/group naming it (never the host's: those
 * list the host's users).
 */
export interface SandboxIdentity {
  readonly hostname: string;
  /** Host folder holding hostname, passwd and group. */
  readonly dir: string;
}

/** The identity files' contents for an instance running as `uid`/`gid`. */
export function identityFiles(
  hostname: string,
  uid: number,
  gid: number,
): Record<"hostname" | "passwd" | "group", string> {
  return {
    hostname: `${hostname}\n`,
    passwd: `root:x:0:0:root:/root:/usr/sbin/nologin\nfunction:x:${uid}:${gid}:Runlet function:/tmp:/usr/sbin/nologin\n`,
    group: `root:x:0:\nfunction:x:${gid}:\n`,
  };
}

/** How many distinct uids instances cycle through (one per live instance in practice). */
const instanceUidSpan = 1_000_000;

/**
 * The uid the n-th instance runs as: each live instance its own, so no two functions share
 * a uid for anything the kernel keys by uid (signals, ptrace, shared files).
 */
export function instanceUser(n: number): SandboxUser | undefined {
  if (process.getuid?.() !== 0) {
    return undefined;
  }
  const id = sandboxUidBase + 1 + (n % instanceUidSpan);
  return { uid: id, gid: id };
}

/** The bwrap command line that runs the runtime server inside the sandbox. */
export function bubblewrapCommand(layout: SandboxLayout): SandboxedCommand {
  const interpreter = layout.interpreter;
  const binds = new StagedBinds(layout.user ? layout.stageDir : undefined);
  // The scratch tmpfs first: mounted later it would hide an interpreter under /tmp.
  const args = [
    ...baseSandboxArgs({ shareNet: layout.network === "host" }),
    ...scratchMounts(layout.tmpBytes),
  ];
  // An interpreter installed outside /usr (nvm, a tarball) must be visible at the same path.
  const prefix = dirname(dirname(interpreter));
  if (!interpreter.startsWith("/usr/") && !interpreter.startsWith("/bin/")) {
    args.push(...binds.bind(prefix, prefix, false));
  }
  for (const dir of layout.readOnlyDirs ?? []) {
    args.push(...binds.bind(dir, dir, false));
  }
  if (layout.resolvConf !== undefined) {
    args.push(...binds.bind(layout.resolvConf, "/etc/resolv.conf", false));
  }
  if (layout.identity !== undefined) {
    // Its own UTS namespace (--unshare-all) takes the name; /etc says the same.
    args.push("--hostname", layout.identity.hostname);
    for (const file of ["hostname", "passwd", "group"]) {
      args.push(...binds.bind(join(layout.identity.dir, file), `/etc/${file}`, false));
    }
  }
  args.push(
    ...binds.bind(layout.runtimeDir, insidePaths.runtime, false),
    // Writable only until the runtime has made its sockets: then the platform takes the
    // directory back (ProcessInstance), before any function code is loaded.
    ...binds.bind(layout.socketDir, insidePaths.socketDir, true),
    ...binds.bind(layout.functionDir, insidePaths.function, false),
    ...binds.bind(layout.secretsDir, insidePaths.secrets, false),
    ...binds.bind(
      join(layout.fissionDir, fissionSecretsFolder),
      instanceMounts.fissionSecrets,
      false,
    ),
    ...binds.bind(
      join(layout.fissionDir, fissionConfigsFolder),
      instanceMounts.fissionConfigs,
      false,
    ),
    // The sandbox's root is a tmpfs bwrap made: nothing may be written there either.
    "--remount-ro",
    "/",
    ...(layout.infoFd === undefined ? [] : ["--info-fd", String(layout.infoFd)]),
    "--chdir",
    "/tmp",
    interpreter,
    ...(layout.interpreterArgs ?? []),
    join(insidePaths.runtime, layout.entry),
  );
  const [command = "bwrap", ...rest] = binds.launch([...bubblewrapLauncher(layout.user), ...args]);
  return { command, args: rest };
}
