#!/usr/bin/env node
// `npm run manifests`: renders the plain manifests under deploy/manifests/ from the Helm chart
// (deploy/helm/runlet) with its default values and secrets.create=false (the Secrets are made
// by hand, docs/kubernetes.md), and copies deploy/crds/ into the chart's crds/. With --check it
// writes nothing and fails when either differs from what is checked in.
// helm comes from test/k8s/tools/build.sh (built from helm.sh/helm/v4 once, cached).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const chart = join(root, "deploy", "helm", "runlet");
const manifests = join(root, "deploy", "manifests");
const crds = join(root, "deploy", "crds");
const check = process.argv.includes("--check");

function fail(message) {
  console.error(`render-manifests: ${message}`);
  process.exit(1);
}

function helmBinary() {
  const built = spawnSync("bash", [join(root, "test", "k8s", "tools", "build.sh"), "helm"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  const dir = built.stdout.trim().split("\n").pop() ?? "";
  if (built.status !== 0 || !existsSync(join(dir, "helm"))) {
    fail("could not build helm (test/k8s/tools/build.sh helm); see its output above");
  }
  return join(dir, "helm");
}

/** What the chart's crds/ must hold: deploy/crds/, file for file. */
function wantedCrds() {
  return new Map(
    readdirSync(crds)
      .filter((name) => name.endsWith(".yaml"))
      .sort()
      .map((name) => [name, readFileSync(join(crds, name), "utf8")]),
  );
}

/** helm template's output, one file per chart file: 00-namespaces, 01-crds, 10-<template>. */
function rendered(helm) {
  const result = spawnSync(
    helm,
    ["template", "runlet", chart, "--include-crds", "--set", "secrets.create=false"],
    { encoding: "utf8" },
  );
  if (result.status !== 0) {
    fail(`helm template failed:\n${result.stderr}`);
  }
  const files = new Map();
  for (const doc of result.stdout.split(/^---\n/m)) {
    const source = /^# Source: runlet\/(\S+)$/m.exec(doc)?.[1];
    if (source === undefined || doc.replace(/^#.*$/gm, "").trim() === "") {
      continue;
    }
    const base = (source.split("/").pop() ?? source).replace(/\.yaml$/, "");
    const name = source.startsWith("crds/")
      ? "01-crds.yaml"
      : base === "namespaces"
        ? "00-namespaces.yaml"
        : `10-${base}.yaml`;
    const body = doc.replace(/^# Source: .*\n/m, "").trim();
    files.set(name, [...(files.get(name) ?? []), `# From ${source}\n${body}\n`]);
  }
  const header =
    "# Rendered from deploy/helm/runlet by `npm run manifests` (helm template, default values,\n" +
    "# secrets.create=false); do not edit: change the chart and render again.\n";
  return new Map(
    [...files].sort().map(([name, docs]) => [name, `${header}---\n${docs.join("---\n")}`]),
  );
}

/** Files of `dir` (*.yaml) that differ from `wanted`, or are missing, or are extra. */
function drift(dir, wanted) {
  const have = existsSync(dir) ? readdirSync(dir).filter((name) => name.endsWith(".yaml")) : [];
  const found = [];
  for (const [name, text] of wanted) {
    const path = join(dir, name);
    if (!existsSync(path)) {
      found.push(`${name} is missing`);
    } else if (readFileSync(path, "utf8") !== text) {
      found.push(`${name} differs`);
    }
  }
  for (const name of have) {
    if (!wanted.has(name)) {
      found.push(`${name} should not be there`);
    }
  }
  return found;
}

function write(dir, wanted) {
  mkdirSync(dir, { recursive: true });
  for (const name of readdirSync(dir)) {
    if (name.endsWith(".yaml") && !wanted.has(name)) {
      rmSync(join(dir, name));
    }
  }
  for (const [name, text] of wanted) {
    writeFileSync(join(dir, name), text);
  }
}

const chartCrds = join(chart, "crds");
const crdFiles = wantedCrds();
if (check) {
  const crdDrift = drift(chartCrds, crdFiles).map((line) => `deploy/helm/runlet/crds/${line}`);
  // Rendered from the chart as checked in: its crds/ must match deploy/crds/ first.
  const manifestDrift =
    crdDrift.length > 0
      ? []
      : drift(manifests, rendered(helmBinary())).map((line) => `deploy/manifests/${line}`);
  const found = [...crdDrift, ...manifestDrift];
  if (found.length > 0) {
    fail(`out of date, run \`npm run manifests\` and commit the result:\n  ${found.join("\n  ")}`);
  }
  console.log("deploy/manifests and the chart's crds/ are up to date");
} else {
  write(chartCrds, crdFiles);
  const files = rendered(helmBinary());
  write(manifests, files);
  console.log(
    `wrote ${files.size} files to deploy/manifests and ${crdFiles.size} CRDs to the chart`,
  );
}
