#!/usr/bin/env node
// Installs, idempotently, what the test suite needs beyond npm packages. Each step checks
// first and only installs what is missing, so later runs cost a few milliseconds.
import { spawnSync } from "node:child_process";

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
    name: "nats-server (NATS trigger tests, JetStream)",
    present: () => has("nats-server"),
    install:
      "(apt-get install -y -q nats-server || (apt-get update -q && apt-get install -y -q nats-server)) > /dev/null",
    why: "the NATS trigger tests start a real nats-server; install it with: apt-get install nats-server",
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
