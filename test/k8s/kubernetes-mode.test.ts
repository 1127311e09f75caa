// Kubernetes mode end to end on the real node (issue 16): Runlet installed from its chart, the
// unchanged `runlet` CLI against the gateway Service; functions become Function resources, run
// in pool pods the gateway pods specialize, and answer through the gateway pods.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, type CliResult } from "../helpers/cli.js";
import {
  FUNCTION_NAMESPACE,
  installRunletInCluster,
  SYSTEM_NAMESPACE,
  type RunletInCluster,
} from "./cluster/runlet-install.js";

// Cold builds of the control plane, the node, helm and nats-server take many minutes.
const BUILD_AND_START_TIMEOUT_MS = 75 * 60_000;
const STEP_TIMEOUT_MS = 180_000;

let runlet: RunletInCluster | undefined;
let cwd = "";

beforeAll(async () => {
  cwd = await mkdtemp(join(tmpdir(), "runlet-k8s-mode-"));
  runlet = await installRunletInCluster({
    startTimeoutMs: STEP_TIMEOUT_MS,
    values: ["gateway.callLease=5s"],
  });
}, BUILD_AND_START_TIMEOUT_MS);

afterAll(async () => {
  await runlet?.stop();
  await rm(cwd, { recursive: true, force: true });
}, STEP_TIMEOUT_MS);

function installed(): RunletInCluster {
  if (!runlet) {
    throw new Error("Runlet was not installed (see the beforeAll error)");
  }
  return runlet;
}

/** The `runlet` CLI, as a user runs it against the in-cluster gateway. */
function cli(args: readonly string[], stdin?: string): Promise<CliResult> {
  const { gatewayUrl, adminToken } = installed();
  return runCli(args, {
    cwd,
    stdin,
    env: { RUNLET_GATEWAY: gatewayUrl, RUNLET_TOKEN: adminToken },
  });
}

async function ok(args: readonly string[], stdin?: string): Promise<string> {
  const result = await cli(args, stdin);
  expect(result.code, `runlet ${args.join(" ")}:\n${result.stdout}\n${result.stderr}`).toBe(0);
  return result.stdout;
}

describe("Kubernetes mode on the real node", () => {
  it(
    "deploys a Node and a Python function with the CLI and answers through the gateway pods",
    async () => {
      await ok(["new", "hello", "--runtime", "node"]);
      await ok(["new", "greet", "--runtime", "python"]);
      const deployed = await ok(["deploy"]);
      expect(deployed).toMatch(/hello deployed \(revision 1\)/);
      expect(deployed).toMatch(/greet deployed \(revision 1\)/);
      expect(await ok(["invoke", "hello", "--query", "name=Ada"])).toBe(
        '{"message":"Hello, Ada!"}',
      );
      expect(await ok(["invoke", "greet", "--query", "name=Ada"])).toContain("Ada");
      // The functions are objects on the API server, and their pods run in the system namespace.
      const { kubectl } = installed();
      const functions = await kubectl([
        "-n",
        FUNCTION_NAMESPACE,
        "get",
        "functions.runlet.dev",
        "-o",
        "jsonpath={.items[*].metadata.name}",
      ]);
      expect(functions.split(" ").sort()).toEqual(["greet", "hello"]);
      const pods = await kubectl([
        "-n",
        SYSTEM_NAMESPACE,
        "get",
        "pods",
        "-l",
        "runlet.dev/function=hello",
        "-o",
        "jsonpath={.items[*].status.phase}",
      ]);
      expect(pods).toContain("Running");
    },
    STEP_TIMEOUT_MS,
  );
});
