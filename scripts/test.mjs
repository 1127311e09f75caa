#!/usr/bin/env node
// `npm test`: builds the CLI, runs the whole suite (installing what it needs on the way),
// and ends with the plain "N passed, N failed" line CI reads.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const resultsFile = join(root, ".test-results.json");

function run(command, args, what) {
  const started = Date.now();
  console.log(`▶ ${what}`);
  const result = spawnSync(command, args, { cwd: root, stdio: "inherit" });
  if (result.status !== 0) {
    console.error(
      `✖ ${what} failed (exit ${result.status ?? result.signal}) after ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    process.exit(result.status ?? 1);
  }
  console.log(`✔ ${what} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

run("npm", ["run", "--silent", "build"], "build the CLI (tsc)");
run("node", [join(root, "scripts", "test-setup.mjs")], "install what the suite needs");

rmSync(resultsFile, { force: true });
const vitest = spawnSync(
  join(root, "node_modules", ".bin", "vitest"),
  [
    "run",
    "--reporter=default",
    "--reporter=json",
    `--outputFile.json=${resultsFile}`,
    ...process.argv.slice(2),
  ],
  { cwd: root, stdio: "inherit" },
);
if (!existsSync(resultsFile)) {
  console.error("✖ the test runner wrote no results");
  process.exit(vitest.status || 1);
}
const results = JSON.parse(readFileSync(resultsFile, "utf8"));
const passed = results.numPassedTests ?? 0;
// A file that fails to load has no failed test in it; count it as one failure.
const brokenFiles = (results.testResults ?? []).filter(
  (file) =>
    file.status === "failed" &&
    !(file.assertionResults ?? []).some((test) => test.status === "failed"),
).length;
const failed = (results.numFailedTests ?? 0) + brokenFiles;
const skipped = (results.numPendingTests ?? 0) + (results.numTodoTests ?? 0);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(vitest.status ?? 1);
