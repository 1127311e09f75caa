/**
 * Runs one build tool (npm, pip, go) as a child process: inside a bubblewrap sandbox where the
 * host allows (as an unprivileged uid when the platform is root, so an install script cannot
 * touch host kernel settings or root's files; read-only system, /proc/sys read-only, a
 * size-capped /tmp, the build's work directory and the tool caches writable,
 * network on for the registries, nothing else of the host), unsandboxed otherwise. Streams
 * its output line by line, keeps the last lines for the error message, and kills it when it
 * runs past the timeout.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, lchown, mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { onLines } from "../host/lines.js";
import {
  baseSandboxArgs,
  bubblewrapLauncher,
  buildUser,
  scratchMounts,
  StagedBinds,
  type SandboxUser,
} from "../host/bubblewrap.js";

export interface Mount {
  /** Directory on the host. */
  readonly host: string;
  /** Where the tool sees it; the host path when unsandboxed. */
  readonly inside: string;
  readonly writable: boolean;
}

export interface ToolRun {
  /** Program as the tool sees it (absolute). */
  readonly command: string;
  readonly args: readonly string[];
  /** Working directory as the tool sees it. */
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  readonly mounts: readonly Mount[];
  /** Host directories the tool's own files live in (mounted read-only at the same path). */
  readonly toolDirs: readonly string[];
  readonly timeoutMs: number;
  readonly onLine: (text: string) => void;
}

export interface ToolResult {
  readonly exitCode: number | null;
  readonly timedOut: boolean;
  /** The last lines the tool printed (stdout and stderr interleaved). */
  readonly tail: readonly string[];
}

const tailLines = 40;
/** Longer lines (minified code in an error, a progress bar) are cut for the log and the error. */
const maxLineChars = 2000;

/** A build's /tmp holds at most this much. */
const buildTmpBytes = 2 * 2 ** 30;

/** Runs `run` sandboxed when `sandboxed`, else on the host with mounts meaning host paths. */
export async function runTool(run: ToolRun, sandboxed: boolean): Promise<ToolResult> {
  const user = sandboxed ? buildUser() : undefined;
  if (user) {
    for (const mount of run.mounts.filter((m) => m.writable)) {
      await ownTree(mount.host, user);
    }
  }
  // Bind stages for a bwrap that runs as another uid (see StagedBinds); gone with the build.
  const stageDir = user
    ? await mkdtemp(join(tmpdir(), `runlet-${process.pid}-build-`)).then(async (dir) => {
        await chmod(dir, 0o711);
        return dir;
      })
    : undefined;
  try {
    const binds = new StagedBinds(stageDir);
    const sandboxArgs = sandboxed ? bubblewrapArgs(run, binds) : [];
    const [command = run.command, ...args] = sandboxed
      ? binds.launch([...bubblewrapLauncher(user), ...sandboxArgs, run.command, ...run.args])
      : [run.command, ...run.args];
    return await spawnTool(run, command, args, sandboxed);
  } finally {
    if (stageDir) {
      await rm(stageDir, { recursive: true, force: true });
    }
  }
}

function spawnTool(
  run: ToolRun,
  command: string,
  args: readonly string[],
  sandboxed: boolean,
): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: sandboxed ? "/" : run.cwd,
      env: { ...run.env },
      stdio: ["ignore", "pipe", "pipe"],
      // Its own process group, so a timeout kills the tool and everything it started.
      detached: true,
    });
    const tail: string[] = [];
    // Tools name files in their caches ("A complete log of this run can be found in
    // /cache/npm/_logs/…"); those paths mean nothing outside the sandbox, so show the host's.
    const caches = sandboxed
      ? run.mounts.filter((m) => m.writable && m.inside.startsWith("/cache/"))
      : [];
    const onLine = (raw: string): void => {
      let whole = raw;
      for (const cache of caches) {
        whole = whole.replaceAll(`${cache.inside}/`, `${cache.host}/`);
      }
      const text =
        whole.length > maxLineChars ? `${whole.slice(0, maxLineChars)}… (line cut)` : whole;
      tail.push(text);
      if (tail.length > tailLines) {
        tail.shift();
      }
      run.onLine(text);
    };
    onLines(child.stdout, onLine);
    onLines(child.stderr, onLine);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
    }, run.timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ exitCode: code, timedOut, tail });
    });
  });
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) {
    return;
  }
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}

/**
 * Gives a writable mount to the build's uid. A tree already owned by it (a tool cache after
 * its first build) costs one stat; a fresh work directory is walked once.
 */
async function ownTree(path: string, user: SandboxUser): Promise<void> {
  const info = await stat(path);
  if (info.uid === user.uid && info.gid === user.gid) {
    return;
  }
  const walk = async (at: string): Promise<void> => {
    await lchown(at, user.uid, user.gid);
    const entries = await readdir(at, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const child = join(at, entry.name);
      if (entry.isDirectory()) {
        await walk(child);
      } else {
        await lchown(child, user.uid, user.gid);
      }
    }
  };
  await walk(path);
}

function bubblewrapArgs(run: ToolRun, binds: StagedBinds): string[] {
  // Builds reach the package registries; npm and pip want a user database.
  const args = baseSandboxArgs({ shareNet: true, etc: ["/etc/passwd", "/etc/group"] });
  // The scratch tmpfs first: mounted later it would hide a tool or mount under /tmp.
  args.push(...scratchMounts(buildTmpBytes));
  for (const dir of run.toolDirs) {
    if (!dir.startsWith("/usr/") && existsSync(dir)) {
      args.push(...binds.bind(dir, dir, false));
    }
  }
  for (const mount of run.mounts) {
    args.push(...binds.bind(mount.host, mount.inside, mount.writable));
  }
  // Nothing outside the mounts is writable: bwrap's own root tmpfs is made read-only too.
  args.push("--remount-ro", "/", "--chdir", run.cwd);
  return args;
}
