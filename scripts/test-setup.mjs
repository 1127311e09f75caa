#!/usr/bin/env node
// Installs, idempotently, what the test suite needs beyond npm packages. Each step checks
// first and only installs what is missing, so later runs cost a few milliseconds.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { ruffInstallCommand, ruffInstalled, ruffVenv, ruffVersion } from "./ruff.mjs";

function has(command) {
  return spawnSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" }).status === 0;
}

const steps = [
  {
    name: "bubblewrap (instance sandbox)",
    present: () => has("bwrap"),
    install:
      "(apt-get install -y -q bubblewrap || (apt-get update -q && apt-get install -y -q bubblewrap)) > /dev/null",
    why: "the sandbox tests need bwrap; install it with: apt-get install bubblewrap",
  },
  {
    name: "slirp4netns and nftables (instances' filtered outbound network)",
    present: () => has("slirp4netns") && has("nft"),
    install:
      "(apt-get install -y -q slirp4netns nftables || (apt-get update -q && apt-get install -y -q slirp4netns nftables)) > /dev/null",
    why: "the sandbox tests need user-mode networking; install it with: apt-get install slirp4netns nftables",
  },
  {
    name: "Go (Go function builds)",
    present: () => has("go") || existsSync("/usr/local/go/bin/go"),
    install:
      "(apt-get install -y -q golang-go || (apt-get update -q && apt-get install -y -q golang-go)) > /dev/null",
    why: "the build tests compile Go functions; install Go (apt-get install golang-go)",
  },
  {
    name: "JDK 17 and Maven (Java functions: the runtime server and pom.xml builds)",
    present: () => has("javac") && has("mvn"),
    install:
      "(apt-get install -y -q openjdk-17-jdk-headless maven || (apt-get update -q && apt-get install -y -q openjdk-17-jdk-headless maven)) > /dev/null",
    why: "the Java tests compile and run Java functions; install a JDK and Maven (apt-get install openjdk-17-jdk-headless maven)",
  },
  {
    name: "pip for the system python3 (Python function builds)",
    present: () =>
      !existsSync("/usr/bin/python3") ||
      spawnSync("/usr/bin/python3", ["-m", "pip", "--version"], { stdio: "ignore" }).status === 0,
    install:
      "(apt-get install -y -q python3-pip || (apt-get update -q && apt-get install -y -q python3-pip)) > /dev/null",
    why: "the build tests install requirements.txt with pip; install it (apt-get install python3-pip)",
  },
  {
    name: "nats-server (NATS trigger tests, JetStream)",
    present: () => has("nats-server"),
    install:
      "(apt-get install -y -q nats-server || (apt-get update -q && apt-get install -y -q nats-server)) > /dev/null",
    why: "the NATS trigger tests start a real nats-server; install it with: apt-get install nats-server",
  },
  {
    name: "chromium (the dashboard's browser tests, driven by playwright-core)",
    // Installed and able to start headless: a browser that cannot start fails the setup here,
    // not as a skipped test later.
    present: () =>
      existsSync("/usr/bin/chromium") &&
      spawnSync(
        "/usr/bin/chromium",
        ["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", "about:blank"],
        { stdio: "ignore", timeout: 60_000 },
      ).status === 0,
    install:
      "(apt-get install -y -q chromium || (apt-get update -q && apt-get install -y -q chromium)) > /dev/null",
    why: "the dashboard tests drive Debian's chromium; install it with: apt-get install chromium",
  },
  {
    name: `ruff ${ruffVersion} (lints the Python runtime; npm run lint)`,
    present: ruffInstalled,
    install: `(${ruffInstallCommand()}) > /dev/null`,
    why: `npm run lint needs ruff ${ruffVersion} in ${ruffVenv}; it is installed with python3 -m venv and pip from PyPI (apt-get install python3-venv if venv is missing)`,
  },
  {
    name: "openssl (the Kubernetes test cluster's certificates)",
    present: () => has("openssl"),
    install:
      "(apt-get install -y -q openssl || (apt-get update -q && apt-get install -y -q openssl)) > /dev/null",
    why: "the Kubernetes tests make their CA with openssl; install it with: apt-get install openssl",
  },
  {
    name: "gcc, libc6-dev and libseccomp-dev (the real test node's pause and runc are C)",
    present: () =>
      has("gcc") &&
      existsSync("/usr/lib/x86_64-linux-gnu/libc.a") &&
      existsSync("/usr/include/seccomp.h"),
    install:
      "(apt-get install -y -q gcc libc6-dev libseccomp-dev || (apt-get update -q && apt-get install -y -q gcc libc6-dev libseccomp-dev)) > /dev/null",
    why: "test/k8s/node/build.sh compiles pause (static) and runc; install: apt-get install gcc libc6-dev libseccomp-dev",
  },
  {
    name: "iptables (kube-proxy and the CNI portmap plugin on the real test node)",
    present: () => has("iptables") || existsSync("/usr/sbin/iptables"),
    install:
      "(apt-get install -y -q iptables || (apt-get update -q && apt-get install -y -q iptables)) > /dev/null",
    why: "the real test node's kube-proxy writes iptables rules (inside its own network namespace only); install it with: apt-get install iptables",
  },
];

let failed = false;
for (const step of steps) {
  if (step.present()) {
    continue;
  }
  console.log(`  installing ${step.name}…`);
  const result = spawnSync("sh", ["-c", step.install], { stdio: "inherit" });
  if (result.status !== 0 || !step.present()) {
    console.error(`  ✖ could not install ${step.name}: ${step.why}`);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
