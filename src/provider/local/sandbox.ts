/**
 * The instance sandbox: on Linux with bubblewrap, each instance gets its own user (as an
 * unprivileged host uid), mount, pid, ipc, uts and network namespaces, a read-only system, its own package read-only at /function, a private
 * /tmp, its secrets at /var/openfaas/secrets, and nothing else of the host: no data dir, no
 * other function's code or secrets. Where that is not possible, instances run unsandboxed and
 * the platform says so once.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { copyFile, link, mkdir, readdir, readlink, symlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { NetworkMode } from "../../spec/function-spec.js";

export type SandboxKind = "bubblewrap" | "none";

export interface SandboxSupport {
  readonly kind: SandboxKind;
  /** Why there is no sandbox, when there is none. */
  readonly reason?: string;
}

/** Paths as the instance sees them. */
export const insidePaths = {
  function: "/function",
  runtime: "/runtime",
  socketDir: "/run/runlet",
  secrets: "/var/openfaas/secrets",
} as const;

export function detectSandbox(): SandboxSupport {
  if (process.platform !== "linux") {
    return { kind: "none", reason: `${process.platform} has no Linux namespaces` };
  }
  // The probe runs what a real sandbox does (as the uid sandboxes use), so a host that
  // cannot give instances their own unprivileged user namespace is found here, not later.
  const [command = "bwrap", ...launcher] = bubblewrapLauncher(buildUser());
  const probe = spawnSync(
    command,
    [
      ...launcher,
      ...baseSandboxArgs({ shareNet: false }),
      ...scratchMounts(2 ** 20),
      "--remount-ro",
      "/",
      "true",
    ],
    { encoding: "utf8", timeout: 10_000 },
  );
  if (probe.error) {
    return {
      kind: "none",
      reason:
        "bubblewrap (bwrap) is not installed; install it (apt-get install bubblewrap) to sandbox instances",
    };
  }
  if (probe.status !== 0) {
    return {
      kind: "none",
      reason: `bubblewrap cannot create namespaces here (${probe.stderr.trim() || `exit ${probe.status}`})`,
    };
  }
  return { kind: "bubblewrap" };
}

export interface SandboxedCommand {
  readonly command: string;
  readonly args: string[];
}

/**
 * Bind mounts a sandbox running as another uid can make. bwrap resolves what it mounts by
 * path, as the unprivileged uid, and that uid may not traverse the way there (a 0700 home
 * holding the data dir, a temp dir made by mkdtemp). So when the platform is root, each host
 * path is first bound, by root, onto a stage in a traversable folder, inside a private mount
 * namespace made for this one sandbox (`unshare --mount`): the host's mounts never change,
 * and the stages vanish with the sandbox whatever way it ends.
 */
export class StagedBinds {
  readonly #stageDir: string | undefined;
  readonly #pairs: string[] = [];

  /** `stageDir`: an empty folder others may traverse; undefined binds host paths directly. */
  constructor(stageDir: string | undefined) {
    this.#stageDir = stageDir;
  }

  /** The bwrap arguments that mount `host` at `inside`. */
  bind(host: string, inside: string, writable: boolean): string[] {
    let source = host;
    if (this.#stageDir !== undefined) {
      source = join(this.#stageDir, String(this.#pairs.length / 2));
      if (statSync(host).isDirectory()) {
        mkdirSync(source, { mode: 0o711 });
      } else {
        writeFileSync(source, "", { mode: 0o644 });
      }
      this.#pairs.push(host, source);
    }
    return [writable ? "--bind" : "--ro-bind", source, inside];
  }

  /** The launcher that makes the stages, then runs `rest` (program and its arguments). */
  launch(rest: readonly string[]): string[] {
    if (this.#pairs.length === 0) {
      return [...rest];
    }
    return [
      "unshare",
      "--mount",
      "--propagation",
      "private",
      "/bin/sh",
      "-c",
      'while [ "$1" != -- ]; do mount --bind "$1" "$2" || exit 125; shift 2; done; shift; exec "$@"',
      "sh",
      ...this.#pairs,
      "--",
      ...rest,
    ];
  }
}

export interface SandboxLayout {
  /** Host directory holding the socket. */
  readonly socketDir: string;
  /** Host directory the function's package is linked into at specialize. */
  readonly functionDir: string;
  readonly secretsDir: string;
  /** Host directory of the runtime server. */
  readonly runtimeDir: string;
  /** Runtime entry file name inside runtimeDir. */
  readonly entry: string;
  /** Program that runs the entry (node, python3); outside /usr it is mounted at its own path. */
  readonly interpreter: string;
  readonly network: NetworkMode;
  /** Size cap of /tmp and /dev/shm. */
  readonly tmpBytes: number;
  /** Host uid/gid to run as (root platforms). */
  readonly user: SandboxUser | undefined;
  /** Child fd bwrap writes its JSON info (the sandbox's pid) to. */
  readonly infoFd: number | undefined;
  /** Host file shown as /etc/resolv.conf instead of the host's. */
  readonly resolvConf: string | undefined;
  /** Empty traversable folder for the bind stages (root platforms; see StagedBinds). */
  readonly stageDir: string | undefined;
}

/**
 * Who a sandbox runs as on the host. When the platform runs as root, bubblewrap itself is
 * started as an unprivileged uid (setpriv), so the user namespace it makes maps nothing of
 * host root: /proc/sys, core_pattern and every root-owned file are out of reach even for
 * uid 0 inside (issue 13, item 1). Unprivileged platforms already run it as themselves.
 */
export interface SandboxUser {
  readonly uid: number;
  readonly gid: number;
}

/** First host uid of the range sandboxes run as when the platform is root. */
export const sandboxUidBase = 1_700_000_000;
/** How many distinct uids instances cycle through (one per live instance in practice). */
const instanceUidSpan = 1_000_000;

/** The uid builds run as (root platforms only; undefined means "as the platform"). */
export function buildUser(): SandboxUser | undefined {
  return process.getuid?.() === 0 ? { uid: sandboxUidBase, gid: sandboxUidBase } : undefined;
}

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

/** The program and arguments that start bwrap as `user` (or as the platform). */
export function bubblewrapLauncher(user: SandboxUser | undefined): string[] {
  return user
    ? ["setpriv", `--reuid=${user.uid}`, `--regid=${user.gid}`, "--clear-groups", "bwrap"]
    : ["bwrap"];
}

/**
 * What every bwrap sandbox here starts with (instances and builds): new namespaces (the
 * host's network only when asked), a user namespace that may not make more of them, no
 * capabilities, killed with its parent, and the host's programs, libraries, name resolution
 * and certificates read-only.
 */
export function baseSandboxArgs(options: {
  readonly shareNet: boolean;
  /** More files under /etc to show, when they exist. */
  readonly etc?: readonly string[];
}): string[] {
  const args = [
    "--unshare-all",
    // Explicit (not "try"): a sandbox without its own user namespace must not start.
    "--unshare-user",
    "--disable-userns",
    ...(options.shareNet ? ["--share-net"] : []),
    "--die-with-parent",
    "--new-session",
    "--cap-drop",
    "ALL",
    "--ro-bind",
    "/usr",
    "/usr",
  ];
  for (const dir of ["/bin", "/lib", "/lib64", "/lib32", "/sbin"]) {
    if (existsSync(dir)) {
      args.push("--ro-bind", dir, dir);
    }
  }
  for (const file of [
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/nsswitch.conf",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/localtime",
    "/etc/alternatives",
    ...(options.etc ?? []),
  ]) {
    if (existsSync(file)) {
      args.push("--ro-bind", file, file);
    }
  }
  return args;
}

/**
 * /proc, /dev and /tmp for a sandbox: /proc/sys read-only (bwrap already hides
 * /proc/sysrq-trigger and the host's /sys is never mounted), /tmp and /dev/shm as tmpfs of
 * at most `tmpBytes` each (their pages are charged to the instance's memory cgroup too),
 * /dev itself read-only (issue 13, item 4).
 */
export function scratchMounts(tmpBytes: number): string[] {
  const size = String(Math.max(1, Math.floor(tmpBytes)));
  return [
    "--proc",
    "/proc",
    "--ro-bind",
    "/proc/sys",
    "/proc/sys",
    "--dev",
    "/dev",
    "--size",
    size,
    "--tmpfs",
    "/dev/shm",
    "--remount-ro",
    "/dev",
    "--size",
    size,
    "--tmpfs",
    "/tmp",
  ];
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
  if (layout.resolvConf !== undefined) {
    args.push(...binds.bind(layout.resolvConf, "/etc/resolv.conf", false));
  }
  args.push(
    ...binds.bind(layout.runtimeDir, insidePaths.runtime, false),
    // Writable only until the runtime has made its sockets: then the platform takes the
    // directory back (ProcessInstance), before any function code is loaded.
    ...binds.bind(layout.socketDir, insidePaths.socketDir, true),
    ...binds.bind(layout.functionDir, insidePaths.function, false),
    ...binds.bind(layout.secretsDir, insidePaths.secrets, false),
    // The sandbox's root is a tmpfs bwrap made: nothing may be written there either.
    "--remount-ro",
    "/",
    ...(layout.infoFd === undefined ? [] : ["--info-fd", String(layout.infoFd)]),
    "--chdir",
    "/tmp",
    interpreter,
    join(insidePaths.runtime, layout.entry),
  );
  const [command = "bwrap", ...rest] = binds.launch([...bubblewrapLauncher(layout.user), ...args]);
  return { command, args: rest };
}

/**
 * Makes the package visible in the instance's function directory: hard links when it is on
 * the same filesystem (no copy), copies otherwise. The sandbox mounts it read-only.
 */
export async function linkTree(source: string, target: string): Promise<void> {
  await mkdir(target, { recursive: true });
  for (const entry of await readdir(source, { withFileTypes: true })) {
    const from = join(source, entry.name);
    const to = join(target, entry.name);
    if (entry.isDirectory()) {
      await linkTree(from, to);
    } else if (entry.isSymbolicLink()) {
      await symlink(await readlink(from), to);
    } else if (entry.isFile()) {
      await link(from, to).catch(async (error: NodeJS.ErrnoException) => {
        if (error.code === "EXDEV" || error.code === "EPERM" || error.code === "EMLINK") {
          await copyFile(from, to);
          return;
        }
        throw error;
      });
    }
  }
}
