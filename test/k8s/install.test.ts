// The install (issue 16): the Helm chart lints, the plain manifests are the chart's output, and
// the API server accepts both (kubectl apply --dry-run=server) with the CRDs applied first; the
// RBAC grants each part what it needs and nothing more (kubectl auth can-i, impersonating it).
import { spawn } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { V1Deployment } from "@kubernetes/client-node";
import { parse, parseAllDocuments } from "yaml";
import { defaultLimitsClasses, findLimitsClass } from "../../src/provider/kubernetes/options.js";
import { poolDeployment } from "../../src/provider/kubernetes/pod-template.js";
import { buildControlPlane, type ControlPlaneBinaries } from "./cluster/binaries.js";
import { applyCrds } from "./cluster/runlet-install.js";
import { startTestCluster, type TestCluster } from "./cluster/test-cluster.js";
import { REPO_ROOT } from "./images/image-specs.js";
import { buildTool } from "./tools/binaries.js";

// Cold builds of the control plane and of helm take minutes (test/k8s/README.md).
const BUILD_AND_START_TIMEOUT_MS = 60 * 60_000;
const CHART = path.join(REPO_ROOT, "deploy", "helm", "runlet");
const MANIFESTS = path.join(REPO_ROOT, "deploy", "manifests");

let cluster: TestCluster | undefined;
let binaries: ControlPlaneBinaries | undefined;
let helm = "";

beforeAll(async () => {
  helm = await buildTool("helm");
  binaries = await buildControlPlane();
  cluster = await startTestCluster({ binaries });
  await applyCrds(kubectl);
  await kubectl(["apply", "-f", path.join(MANIFESTS, "00-namespaces.yaml")]);
}, BUILD_AND_START_TIMEOUT_MS);

afterAll(async () => {
  await cluster?.stop();
}, 120_000);

interface Result {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function run(command: string, args: readonly string[], input?: string, env = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? "");
  });
}

/** kubectl against the test cluster; rejects with its output when it fails. */
async function kubectl(args: readonly string[], input?: string): Promise<string> {
  const result = await tryKubectl(args, input);
  if (result.code !== 0) {
    throw new Error(`kubectl ${args.join(" ")} failed (${String(result.code)}):\n${result.stderr}`);
  }
  return result.stdout;
}

function tryKubectl(args: readonly string[], input?: string): Promise<Result> {
  if (!cluster || !binaries) {
    throw new Error("the test cluster did not start (see the beforeAll error)");
  }
  return run(binaries.kubectl, ["--kubeconfig", cluster.kubeconfigPath, ...args], input);
}

/** Server-side dry run with strict field validation: any error or warning fails it. */
async function dryRun(args: readonly string[], input?: string): Promise<Result> {
  return tryKubectl(["apply", "--dry-run=server", "--validate=strict", ...args], input);
}

async function helmTemplate(...set: string[]): Promise<string> {
  const result = await run(helm, [
    "template",
    "runlet",
    CHART,
    ...set.flatMap((s) => ["--set", s]),
  ]);
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  return result.stdout;
}

describe("the install", () => {
  it("has a chart that helm lints without a finding", async () => {
    const result = await run(helm, ["lint", "--strict", CHART]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain("1 chart(s) linted, 0 chart(s) failed");
    expect(result.stdout).not.toMatch(/\[(WARNING|ERROR)\]/);
  });

  it("has plain manifests that are the chart's output, and the chart's CRDs are deploy/crds", async () => {
    const result = await run("node", [
      path.join(REPO_ROOT, "scripts", "render-manifests.mjs"),
      "--check",
    ]);
    expect(result.code, result.stderr).toBe(0);
  });

  it("is accepted by the API server: the plain manifests and the chart's output", async () => {
    const plain = await dryRun(["-f", MANIFESTS]);
    expect(plain.stderr).toBe("");
    expect(plain.code).toBe(0);
    // Every object was checked: one "(server dry run)" line each.
    const objects = (await readManifestKinds()).length;
    expect(plain.stdout.match(/\(server dry run\)/g)?.length).toBe(objects);

    // The chart with its defaults (the Secrets made) and with other pools and classes.
    for (const values of [
      [],
      ["pools[0].runtime=python", "pools[0].limitsClass=xlarge", "gateway.replicas=3"],
    ]) {
      const chart = await dryRun(["-f", "-"], await helmTemplate(...values));
      expect(chart.stderr).toBe("");
      expect(chart.code).toBe(0);
      expect(chart.stdout).toContain("secret/runlet-admin-token created (server dry run)");
    }
  });

  it("is refused by the same check when a manifest is wrong", async () => {
    const gateway = await readFile(path.join(MANIFESTS, "10-gateway.yaml"), "utf8");
    const typo = await dryRun(["-f", "-"], gateway.replace("  replicas: 2", "  replica: 2"));
    expect(typo.code).not.toBe(0);
    expect(typo.stderr).toContain('unknown field "spec.replica"');
    const badPort = await dryRun(
      ["-f", "-"],
      gateway.replace("containerPort: 8080", "containerPort: 80800"),
    );
    expect(badPort.code).not.toBe(0);
  });

  it("has the pool Deployments the Kubernetes provider applies, with its limits classes", async () => {
    const values = parse(await readFile(path.join(CHART, "values.yaml"), "utf8")) as {
      images: { runtimes: Record<string, string>; pullPolicy: "IfNotPresent" };
      limitsClasses: Record<string, { memory: string; cpu: string; cpuRequest: string }>;
      namespaces: { system: string };
    };
    for (const limitsClass of defaultLimitsClasses) {
      const chartClass = values.limitsClasses[limitsClass.name];
      expect(chartClass, `limits class ${limitsClass.name}`).toBeDefined();
      expect(quantity(chartClass?.memory ?? "0")).toBe(limitsClass.memoryBytes);
      expect(quantity(chartClass?.cpu ?? "0")).toBeCloseTo(limitsClass.cpu, 3);
      expect(quantity(chartClass?.cpuRequest ?? "0")).toBeCloseTo(
        limitsClass.cpuRequest ?? limitsClass.cpu / 10,
        3,
      );
    }
    const pools = parseAllDocuments(await helmTemplate())
      .map((doc) => doc.toJS() as V1Deployment | null)
      .filter(
        (object): object is V1Deployment =>
          object?.kind === "Deployment" &&
          object.metadata?.labels?.["app.kubernetes.io/component"] === "runtime-pool",
      );
    expect(pools.map((pool) => pool.metadata?.name)).toEqual([
      "runtime-node-small",
      "runtime-python-small",
      "runtime-exec-small",
    ]);
    for (const pool of pools) {
      const runtime = pool.metadata?.labels?.["runlet.dev/runtime"] as "node" | "python" | "exec";
      const applied = poolDeployment({
        runtime,
        limitsClass: findLimitsClass(defaultLimitsClasses, "small"),
        image: values.images.runtimes[runtime] ?? "",
        imagePullPolicy: values.images.pullPolicy,
        namespace: values.namespaces.system,
        replicas: pool.spec?.replicas ?? 0,
      });
      expect(normalized(pool)).toEqual(normalized(applied));
    }
  });

  it("refuses a pool whose limits class does not exist, naming it", async () => {
    const result = await run(helm, [
      "template",
      "runlet",
      CHART,
      "--set",
      "pools[0].limitsClass=huge",
    ]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('limits class "huge" is not in limitsClasses');
  });

  it("grants each part only what it needs: namespaced Roles, nothing cluster-wide", async () => {
    const kinds = await readManifestKinds();
    expect(kinds).not.toContain("ClusterRole");
    expect(kinds).not.toContain("ClusterRoleBinding");
    for (const file of [
      "10-serviceaccounts.yaml",
      "10-rbac-gateway.yaml",
      "10-rbac-operator.yaml",
    ]) {
      await kubectl(["apply", "-f", path.join(MANIFESTS, file)]);
    }
    const sa = (name: string) => `system:serviceaccount:runlet-system:${name}`;
    // [who, verb, resource, namespace, allowed]
    const table: [string, string, string, string, boolean][] = [
      ["runlet-gateway", "create", "pods", "runlet-system", true],
      ["runlet-gateway", "patch", "pods", "runlet-system", true],
      ["runlet-gateway", "delete", "pods", "runlet-system", true],
      ["runlet-gateway", "get", "pods/log", "runlet-system", true],
      ["runlet-gateway", "patch", "deployments.apps", "runlet-system", true],
      ["runlet-gateway", "delete", "deployments.apps", "runlet-system", false],
      ["runlet-gateway", "create", "pods", "openfaas-fn", false],
      ["runlet-gateway", "create", "pods", "default", false],
      ["runlet-gateway", "get", "secrets", "openfaas-fn", true],
      ["runlet-gateway", "delete", "secrets", "openfaas-fn", true],
      // Audit entries are patches of the gateway's own ConfigMaps; Secrets are never patched.
      ["runlet-gateway", "patch", "configmaps", "openfaas-fn", true],
      ["runlet-gateway", "patch", "secrets", "openfaas-fn", false],
      ["runlet-gateway", "deletecollection", "configmaps", "openfaas-fn", false],
      ["runlet-gateway", "get", "secrets", "runlet-system", false],
      ["runlet-gateway", "list", "secrets", "kube-system", false],
      ["runlet-gateway", "create", "functions.runlet.dev", "openfaas-fn", true],
      ["runlet-gateway", "update", "functions.runlet.dev/status", "openfaas-fn", false],
      ["runlet-gateway", "create", "leases.coordination.k8s.io", "runlet-system", false],
      ["runlet-gateway", "create", "clusterroles.rbac.authorization.k8s.io", "", false],
      [
        "runlet-gateway",
        "create",
        "rolebindings.rbac.authorization.k8s.io",
        "runlet-system",
        false,
      ],
      ["runlet-operator", "update", "functions.runlet.dev/status", "openfaas-fn", true],
      ["runlet-operator", "update", "functions.runlet.dev/finalizers", "openfaas-fn", true],
      ["runlet-operator", "patch", "functionrevisions.runlet.dev", "openfaas-fn", true],
      ["runlet-operator", "list", "functions.kubeless.io", "openfaas-fn", true],
      ["runlet-operator", "watch", "functions.openfaas.com", "openfaas-fn", true],
      ["runlet-operator", "update", "functions.openfaas.com", "openfaas-fn", false],
      ["runlet-operator", "delete", "functions.kubeless.io", "openfaas-fn", false],
      ["runlet-operator", "patch", "functions.kubeless.io/status", "openfaas-fn", true],
      ["runlet-operator", "update", "functions.openfaas.com/finalizers", "openfaas-fn", true],
      ["runlet-operator", "create", "events", "openfaas-fn", true],
      ["runlet-operator", "create", "events", "runlet-system", false],
      ["runlet-gateway", "create", "events", "openfaas-fn", false],
      ["runlet-operator", "create", "leases.coordination.k8s.io", "runlet-system", true],
      ["runlet-operator", "create", "leases.coordination.k8s.io", "openfaas-fn", false],
      ["runlet-operator", "create", "pods", "runlet-system", false],
      ["runlet-operator", "deletecollection", "pods", "runlet-system", true],
      ["runlet-operator", "deletecollection", "pods", "openfaas-fn", false],
      ["runlet-operator", "get", "secrets", "openfaas-fn", true],
      ["runlet-operator", "list", "secrets", "openfaas-fn", false],
      ["runlet-operator", "get", "secrets", "runlet-system", false],
      // Function pods run as the namespace's default account (and without its token).
      ["default", "get", "pods", "runlet-system", false],
      ["default", "get", "secrets", "openfaas-fn", false],
      ["default", "list", "functions.runlet.dev", "openfaas-fn", false],
      ["runlet-nats", "get", "secrets", "runlet-system", false],
    ];
    const wrong: string[] = [];
    for (const [who, verb, resource, namespace, allowed] of table) {
      const [type, subresource] = resource.split("/");
      const result = await tryKubectl([
        "auth",
        "can-i",
        verb,
        type ?? "",
        ...(subresource ? ["--subresource", subresource] : []),
        "--as",
        sa(who),
        ...(namespace ? ["-n", namespace] : ["--all-namespaces"]),
      ]);
      const answer = result.stdout.trim();
      if (answer !== (allowed ? "yes" : "no")) {
        wrong.push(
          `${who} ${verb} ${resource} in ${namespace || "the cluster"}: ${answer} ${result.stderr.trim()}`,
        );
      }
    }
    expect(wrong).toEqual([]);
  });
});

/** Kinds of every object in the plain manifests. */
async function readManifestKinds(): Promise<string[]> {
  const kinds: string[] = [];
  for (const file of (await readdir(MANIFESTS)).filter((name) => name.endsWith(".yaml")).sort()) {
    for (const doc of parseAllDocuments(await readFile(path.join(MANIFESTS, file), "utf8"))) {
      const kind = (doc.toJS() as { kind?: string } | null)?.kind;
      if (kind !== undefined) {
        kinds.push(kind);
      }
    }
  }
  return kinds;
}

/** An object as the API server stores it: quantities in one spelling (128Mi and 134217728 alike). */
function normalized(object: unknown): unknown {
  return JSON.parse(JSON.stringify(object), (key, value: unknown) =>
    (key === "memory" || key === "cpu") && (typeof value === "string" || typeof value === "number")
      ? quantity(String(value))
      : value,
  ) as unknown;
}

function quantity(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi)?$/.exec(text);
  if (!match) {
    throw new Error(`not a quantity this test reads: ${text}`);
  }
  const scale = { m: 0.001, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30 }[match[2] ?? ""] ?? 1;
  return Number(match[1]) * scale;
}
