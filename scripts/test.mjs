#!/usr/bin/env node
// `npm test`: builds the CLI, installs what the suite needs, checks what developers check
// (lint and typecheck), runs the whole suite, and ends with the plain "N passed, N failed"
// line CI reads.
import { spawn, spawnSync } from "node:child_process";
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

/**
 * Runs `checks` side by side (each is one process on one core, and the machine has two), and
 * exits when any fails. Output is shown whole, and only for a check that failed, so the two do
 * not interleave.
 */
async function runTogether(checks) {
  const results = await Promise.all(
    checks.map(
      ({ command, args, what }) =>
        new Promise((resolve) => {
          const started = Date.now();
          console.log(`▶ ${what}`);
          const child = spawn(command, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
          let output = "";
          child.stdout.on("data", (chunk) => (output += chunk));
          child.stderr.on("data", (chunk) => (output += chunk));
          child.on("error", (error) => (output += `${error.message}\n`));
          child.on("close", (code, signal) => {
            resolve({ what, code, signal, output, seconds: (Date.now() - started) / 1000 });
          });
        }),
    ),
  );
  for (const { what, code, signal, output, seconds } of results) {
    if (code === 0) {
      console.log(`✔ ${what} (${seconds.toFixed(1)} s)`);
    } else {
      process.stdout.write(output);
      console.error(`✖ ${what} failed (exit ${code ?? signal}) after ${seconds.toFixed(1)} s`);
    }
  }
  const failed = results.find(({ code }) => code !== 0);
  if (failed) {
    process.exit(failed.code || 1);
  }
}

run("npm", ["run", "--silent", "build"], "build the CLI (tsc)");
// Before lint: it installs ruff, which lints the Python runtime.
run("node", [join(root, "scripts", "test-setup.mjs")], "install what the suite needs");
await runTogether([
  { command: "npm", args: ["run", "--silent", "lint"], what: "lint (eslint, prettier, ruff)" },
  {
    command: "npm",
    args: ["run", "--silent", "typecheck"],
    what: "typecheck (src, test, bench, scripts, runtimes)",
  },
]);

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
