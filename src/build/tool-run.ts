/**
 * Runs one build tool (npm, pip, go) as a child process: inside a bubblewrap sandbox where the
 * host allows (read-only system, the build's work directory and the tool caches writable,
 * network on for the registries, nothing else of the host), unsandboxed otherwise. Streams
 * its output line by line, keeps the last lines for the error message, and kills it when it
 * runs past the timeout.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { onLines } from "../provider/local/lines.js";
import { baseSandboxArgs } from "../provider/local/sandbox.js";

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

/** Runs `run` sandboxed when `sandboxed`, else on the host with mounts meaning host paths. */
export function runTool(run: ToolRun, sandboxed: boolean): Promise<ToolResult> {
  const [command, args] = sandboxed
    ? ["bwrap", [...bubblewrapArgs(run), run.command, ...run.args]]
    : [run.command, [...run.args]];
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

function bubblewrapArgs(run: ToolRun): string[] {
  // Builds reach the package registries; npm and pip want a user database.
  const args = baseSandboxArgs({ network: true, etc: ["/etc/passwd", "/etc/group"] });
  for (const dir of run.toolDirs) {
    if (!dir.startsWith("/usr/") && existsSync(dir)) {
      args.push("--ro-bind", dir, dir);
    }
  }
  args.push("--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp");
  for (const mount of run.mounts) {
    args.push(mount.writable ? "--bind" : "--ro-bind", mount.host, mount.inside);
  }
  args.push("--chdir", run.cwd);
  return args;
}
