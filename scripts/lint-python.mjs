#!/usr/bin/env node
// `npm run lint`, Python part: ruff over the Python runtime (rules in ruff.toml). Fails, saying
// how to install it, when the pinned ruff is not there.
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ruffBinary, ruffInstalled, ruffVersion } from "./ruff.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

if (!ruffInstalled()) {
  console.error(
    `✖ ruff ${ruffVersion}, the Python linter, is not installed at ${ruffBinary}.\n` +
      "  Install it with: node scripts/test-setup.mjs (it puts ruff in a venv there, from PyPI).",
  );
  process.exit(1);
}
const result = spawnSync(ruffBinary, ["check", "--quiet", join(root, "runtimes", "python")], {
  cwd: root,
  stdio: "inherit",
});
process.exit(result.status ?? 1);
