/**
 * The instance sandbox: on Linux with bubblewrap, each instance gets its own mount, pid, ipc
 * and uts namespaces, a read-only system, its own package read-only at /function, a private
 * /tmp, its secrets at /var/openfaas/secrets, and nothing else of the host: no data dir, no
 * other function's code or secrets. Where that is not possible, instances run unsandboxed and
 * the platform says so once.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { copyFile, link, mkdir, readdir, readlink, symlink } from "node:fs/promises";
import { dirname, join } from "node:path";

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
  const probe = spawnSync(
    "bwrap",
    [
      "--unshare-all",
      "--share-net",
      "--ro-bind",
      "/",
      "/",
      "--proc",
      "/proc",
      "--dev",
      "/dev",
      "true",
    ],
    {
      encoding: "utf8",
      timeout: 10_000,
    },
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
  readonly network: boolean;
}

/**
 * What every bwrap sandbox here starts with (instances and builds): new namespaces (the
 * host's network only when asked), no capabilities, killed with its parent, and the host's
 * programs, libraries, name resolution and certificates read-only.
 */
export function baseSandboxArgs(options: {
  readonly network: boolean;
  /** More files under /etc to show, when they exist. */
  readonly etc?: readonly string[];
}): string[] {
  const args = [
    "--unshare-all",
    ...(options.network ? ["--share-net"] : []),
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

/** The bwrap command line that runs the runtime server inside the sandbox. */
export function bubblewrapCommand(layout: SandboxLayout): SandboxedCommand {
  const interpreter = layout.interpreter;
  const args = baseSandboxArgs({ network: layout.network });
  // An interpreter installed outside /usr (nvm, a tarball) must be visible at the same path.
  const prefix = dirname(dirname(interpreter));
  if (!interpreter.startsWith("/usr/") && !interpreter.startsWith("/bin/")) {
    args.push("--ro-bind", prefix, prefix);
  }
  args.push(
    "--proc",
    "/proc",
    "--dev",
    "/dev",
    "--tmpfs",
    "/tmp",
    "--ro-bind",
    layout.runtimeDir,
    insidePaths.runtime,
    "--bind",
    layout.socketDir,
    insidePaths.socketDir,
    "--ro-bind",
    layout.functionDir,
    insidePaths.function,
    "--ro-bind",
    layout.secretsDir,
    insidePaths.secrets,
    "--chdir",
    "/tmp",
    interpreter,
    join(insidePaths.runtime, layout.entry),
  );
  return { command: "bwrap", args };
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
