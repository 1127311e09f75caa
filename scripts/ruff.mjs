// Where the Python linter lives: ruff, pinned, in a venv of its own under the cache root, so
// neither the system's Python nor the repository holds it. scripts/test-setup.mjs installs it;
// scripts/lint-python.mjs runs it.
import { spawnSync } from "node:child_process";
import { homedir } from "node:os";
import { join } from "node:path";

export const ruffVersion = "0.17.6";

const cacheRoot = join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "runlet");

/** The venv ruff is installed into; the version is in its name, so a new pin gets a new one. */
export const ruffVenv = join(cacheRoot, `ruff-${ruffVersion}`);

export const ruffBinary = join(ruffVenv, "bin", "ruff");

/** True when the pinned ruff is installed and runs. */
export function ruffInstalled() {
  const result = spawnSync(ruffBinary, ["--version"], { encoding: "utf8" });
  return result.status === 0 && result.stdout.trim() === `ruff ${ruffVersion}`;
}

/**
 * A shell command that (re)creates the venv and installs the pinned ruff from PyPI. Debian's
 * own python3 makes venvs only with python3-venv installed, so that is installed when needed.
 */
export function ruffInstallCommand() {
  const venv = JSON.stringify(ruffVenv);
  const aptVenv =
    "(apt-get install -y -q python3-venv || (apt-get update -q && apt-get install -y -q python3-venv))";
  const makeVenv = `python3 -m venv ${venv} || (rm -rf ${venv} && ${aptVenv} && python3 -m venv ${venv})`;
  return `rm -rf ${venv} && (${makeVenv}) && ${venv}/bin/pip install --quiet --disable-pip-version-check ruff==${ruffVersion}`;
}
