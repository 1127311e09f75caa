// Kubernetes mode end to end on the real node (issue 16): Runlet installed from its chart, the
// unchanged `runlet` CLI against the gateway Service; functions become Function resources, run
// in pool pods the gateway pods specialize, and answer through the gateway pods.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, type CliResult } from "../helpers/cli.js";
import { pollUntil } from "./cluster/wait.js";
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

/**
 * Writes a function's folder with its own runlet.yaml (`spec`: the lines under its name) and
 * deploys it from that file.
 */
async function deployFunction(
  name: string,
  files: Record<string, string>,
  spec: readonly string[],
): Promise<string> {
  const dir = join(cwd, "functions", name);
  await mkdir(dir, { recursive: true });
  for (const [file, content] of Object.entries(files)) {
    await writeFile(join(dir, file), content);
  }
  const stack = ["version: 1", "functions:", `  ${name}:`, ...spec.map((l) => `    ${l}`)];
  await writeFile(join(dir, "runlet.yaml"), `${stack.join("\n")}\n`);
  return ok(["deploy", "-f", join(dir, "runlet.yaml")]);
}

/** A call through the gateway Service, as any HTTP client makes it. */
async function call(
  path: string,
  init: RequestInit = {},
): Promise<{ status: number; body: string }> {
  const response = await fetch(`${installed().gatewayUrl}${path}`, init);
  return { status: response.status, body: await response.text() };
}

/** Names of the pods running `fn`, from the API server. */
async function podsOf(fn: string): Promise<string[]> {
  const out = await installed().kubectl([
    "-n",
    SYSTEM_NAMESPACE,
    "get",
    "pods",
    "-l",
    `runlet.dev/function=${fn}`,
    "-o",
    "jsonpath={.items[*].metadata.name}",
  ]);
  return out.split(" ").filter((name) => name !== "");
}

/** Every answer of `rounds` calls is `expected` (both gateway replicas serve it). */
async function converges(path: string, expected: string, rounds = 8): Promise<void> {
  await pollUntil(
    `every answer of ${path} to be ${expected}`,
    async () => {
      for (let i = 0; i < rounds; i += 1) {
        const answer = await call(path);
        if (answer.status !== 200 || answer.body !== expected) {
          return undefined;
        }
      }
      return true;
    },
    { timeoutMs: STEP_TIMEOUT_MS },
  );
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

  it(
    "scales a function to zero, and a 200-call burst at zero gets 200 answers and no 5xx",
    async () => {
      await deployFunction(
        "burst",
        {
          "index.js":
            "export default async () => { await new Promise((r) => setTimeout(r, 50)); return 'ok'; };",
        },
        [
          "runtime: node",
          "source: .",
          "handler: index.js",
          "scale: { idleTimeout: 3s, window: 6s }",
        ],
      );
      expect((await call("/function/burst")).body).toBe("ok");
      await pollUntil(
        "burst's pods to be gone (scaled to zero)",
        async () => ((await podsOf("burst")).length === 0 ? true : undefined),
        { timeoutMs: STEP_TIMEOUT_MS },
      );
      const answers = await Promise.all(Array.from({ length: 200 }, () => call("/function/burst")));
      const statuses = new Map<number, number>();
      for (const { status } of answers) {
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
      expect(Object.fromEntries(statuses)).toEqual({ 200: 200 });
      expect(answers.every(({ body }) => body === "ok")).toBe(true);
    },
    STEP_TIMEOUT_MS,
  );

  it(
    "names a crash and an OOM kill in the caller's 502, then serves again from a new pod",
    async () => {
      await deployFunction(
        "fragile",
        {
          "index.js": [
            "const kept = [];",
            "export default async function (event) {",
            "  if (event.query.crash) { setTimeout(() => process.exit(3), 10); await new Promise(() => {}); }",
            "  if (event.query.hog) { for (;;) { kept.push(Buffer.alloc(16 << 20, 1)); await new Promise((r) => setTimeout(r, 5)); } }",
            "  return 'alive';",
            "}",
          ].join("\n"),
        },
        ["runtime: node", "source: .", "handler: index.js", "memory: 128Mi"],
      );
      const crashed = await call("/function/fragile?crash=1");
      expect(crashed.status).toBe(502);
      expect(JSON.parse(crashed.body)).toMatchObject({
        error: { message: expect.stringContaining("exited with code 3") },
      });
      expect((await call("/function/fragile")).body).toBe("alive");
      const hogged = await call("/function/fragile?hog=1");
      expect(hogged.status).toBe(502);
      expect(JSON.parse(hogged.body)).toMatchObject({
        error: { message: expect.stringMatching(/out of memory|memory limit/) },
      });
      expect((await call("/function/fragile")).body).toBe("alive");
    },
    STEP_TIMEOUT_MS,
  );

  it(
    "rolls a function back on every gateway replica, and gives it its secrets",
    async () => {
      await ok(["secret", "create", "api-key", "--from-literal", "s3cr3t"]);
      const source = (version: string): Record<string, string> => ({
        "index.js": `export default async (event, context) => '${version} ' + (await context.secret('api-key'));`,
      });
      const spec = ["runtime: node", "source: .", "handler: index.js", "secrets: [api-key]"];
      await deployFunction("versioned", source("v1"), spec);
      await converges("/function/versioned", "v1 s3cr3t");
      await deployFunction("versioned", source("v2"), spec);
      await converges("/function/versioned", "v2 s3cr3t");
      expect(await ok(["rollback", "versioned"])).toMatch(/revision 1/);
      await converges("/function/versioned", "v1 s3cr3t");
    },
    STEP_TIMEOUT_MS,
  );
});
