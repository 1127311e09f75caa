/**
 * The bubblewrap command-line pieces every sandbox on this host is made from, instances and
 * build tools alike: who bwrap runs as, the namespaces and read-only system it starts with,
 * its scratch mounts, and the staged binds a sandbox running as another uid needs.
 */
import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

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

/** The uid builds run as (root platforms only; undefined means "as the platform"). */
export function buildUser(): SandboxUser | undefined {
  return process.getuid?.() === 0 ? { uid: sandboxUidBase, gid: sandboxUidBase } : undefined;
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
