/**
 * Finds the Python that runs the Python runtime server: the first interpreter of at least
 * Python 3.9, resolved to its real executable (a pyenv or asdf shim is a shell script that
 * needs its whole installation, so the sandbox must mount what the shim would run instead).
 */
import { spawnSync } from "node:child_process";
import { UserError } from "../errors.js";

const minimum = [3, 9] as const;

/** Where to look, in order: an explicit choice, the system's, then whatever PATH has. */
function candidates(): string[] {
  const explicit = process.env["RUNLET_PYTHON"];
  return explicit ? [explicit] : ["/usr/bin/python3", "/usr/local/bin/python3", "python3"];
}

interface Probe {
  readonly executable?: string;
  readonly problem?: string;
}

function probe(candidate: string): Probe {
  const result = spawnSync(
    candidate,
    ["-c", "import sys; print(sys.executable); print('%d.%d' % sys.version_info[:2])"],
    { encoding: "utf8", timeout: 10_000, env: { PATH: process.env["PATH"] ?? "" } },
  );
  if (result.error) {
    return { problem: `${candidate}: ${(result.error as NodeJS.ErrnoException).code ?? "failed"}` };
  }
  const [executable, version] = result.stdout.trim().split("\n");
  const [major, minor] = (version ?? "").split(".").map(Number);
  if (result.status !== 0 || !executable || major === undefined || minor === undefined) {
    return { problem: `${candidate}: did not run (exit ${result.status ?? "?"})` };
  }
  if (major < minimum[0] || (major === minimum[0] && minor < minimum[1])) {
    return { problem: `${candidate}: Python ${major}.${minor} is too old` };
  }
  return { executable };
}

/** Found interpreters by what was asked for (RUNLET_PYTHON, or "" for the default search). */
const found = new Map<string, string>();

/** The absolute path of a Python ≥ 3.9; throws a UserError saying what to install if none. */
export function pythonInterpreter(): string {
  const key = process.env["RUNLET_PYTHON"] ?? "";
  const known = found.get(key);
  if (known) {
    return known;
  }
  const problems: string[] = [];
  for (const candidate of candidates()) {
    const result = probe(candidate);
    if (result.executable) {
      found.set(key, result.executable);
      return result.executable;
    }
    problems.push(result.problem ?? candidate);
  }
  throw new UserError(
    "RUNLET_UNSUPPORTED_RUNTIME",
    `Python functions need Python ${minimum.join(".")} or newer on this machine, and none was found (${problems.join("; ")}). Install it (e.g. apt-get install python3) or set RUNLET_PYTHON to the path of a python3 executable.`,
  );
}
