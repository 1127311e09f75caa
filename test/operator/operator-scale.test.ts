// 1,000 Functions on a kwok cluster reconciled by `runlet operator` (the built binary) in its own process: every status converges (revision made, Ready), and the operator's memory stays bounded. The time and memory are printed for test/k8s/README.md, not asserted.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { FunctionObject } from "../../src/kubernetes/resources.js";
import { functionType, revisionType } from "../../src/operator/function-controller.js";
import {
  collectionPath,
  KubeClient,
  loadKubeConfig,
  type KubeObject,
} from "../../src/operator/kube-client.js";
import { runletBin } from "../helpers/binary.js";
import { buildControlPlane } from "../k8s/cluster/binaries.js";
import { startTestCluster, type TestCluster } from "../k8s/cluster/test-cluster.js";
import { pollUntil } from "../k8s/cluster/wait.js";

const BUILD_AND_START_TIMEOUT_MS = 60 * 60_000;
const STEP_TIMEOUT_MS = 120_000;
/** Generous: the point is that they converge, not how fast (that is printed). */
const CONVERGE_TIMEOUT_MS = 15 * 60_000;
const FUNCTIONS = 1000;
const fieldManager = "runlet-operator-test";
const crdDir = fileURLToPath(new URL("../../deploy/crds/", import.meta.url));

let cluster: TestCluster | undefined;
let client: KubeClient | undefined;

beforeAll(async () => {
  cluster = await startTestCluster({ binaries: await buildControlPlane() });
  client = new KubeClient({ kubeConfig: loadKubeConfig(cluster.kubeconfigPath) });
  await cluster.kubectl(["apply", "--server-side", "-f", crdDir]);
  await cluster.kubectl([
    "wait",
    "--for=condition=Established",
    "--timeout=120s",
    "crd/functions.runlet.dev",
    "crd/functionrevisions.runlet.dev",
  ]);
}, BUILD_AND_START_TIMEOUT_MS);

afterAll(async () => {
  await client?.close();
  await cluster?.stop();
}, STEP_TIMEOUT_MS);

async function residentBytes(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text
    .split("\n")
    .find((l) => l.startsWith("runlet_operator_process_resident_memory_bytes "));
  return Number(line?.split(" ")[1]);
}

it(
  `reconciles ${String(FUNCTIONS)} Functions, each to a revision and a Ready status, with bounded memory`,
  async () => {
    if (cluster === undefined || client === undefined) {
      throw new Error("the test cluster did not start (see the beforeAll error)");
    }
    const api = client;
    const namespace = `scale-${randomBytes(3).toString("hex")}`;
    for (const name of ["runlet-system", namespace]) {
      await api.create(
        "/api/v1/namespaces",
        { apiVersion: "v1", kind: "Namespace", metadata: { name } },
        fieldManager,
      );
    }
    // The built binary, as an install runs it (npm test builds it first).
    const child = spawn(
      process.execPath,
      [
        runletBin,
        "operator",
        "--kubeconfig",
        cluster.kubeconfigPath,
        "--lease-namespace",
        "runlet-system",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const exited = once(child, "exit");
    const lines: string[] = [];
    createInterface({ input: child.stdout }).on("line", (l) => lines.push(l));
    try {
      const url = await pollUntil(
        "the operator's url",
        async () => /health\s+(http:\/\/\S+)\/healthz/.exec(lines.join("\n"))?.[1],
        { timeoutMs: STEP_TIMEOUT_MS },
      );
      await pollUntil(
        "the operator ready",
        async () => ((await fetch(`${url}/readyz`)).status === 200 ? true : undefined),
        { timeoutMs: STEP_TIMEOUT_MS },
      );
      const idleRss = await residentBytes(url);
      const digest = `sha256:${"a".repeat(64)}`;
      const names = Array.from({ length: FUNCTIONS }, (_, i) => `fn-${String(i).padStart(4, "0")}`);
      const t0 = performance.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < names.length) {
            const name = names[next++] ?? "";
            await api.create(
              collectionPath(functionType, namespace),
              {
                apiVersion: "runlet.dev/v1alpha1",
                kind: "Function",
                metadata: { name },
                spec: { runtime: "node", handler: "index.js", package: digest, env: { N: name } },
              },
              fieldManager,
            );
          }
        }),
      );
      const createdMs = performance.now() - t0;
      let ready = 0;
      let peakRss = 0;
      await pollUntil(
        `all ${String(FUNCTIONS)} Functions Ready`,
        async () => {
          peakRss = Math.max(peakRss, await residentBytes(url));
          const list = await api.listAll<KubeObject>(collectionPath(functionType, namespace));
          ready = (list.items as unknown as FunctionObject[]).filter(
            (fn) =>
              fn.status?.observedGeneration === 1 &&
              fn.status.activeRevision === 1 &&
              fn.status.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
          ).length;
          return ready === FUNCTIONS ? true : undefined;
        },
        {
          timeoutMs: CONVERGE_TIMEOUT_MS,
          maxIntervalMs: 1000,
          describe: () => `${String(ready)} Ready`,
        },
      );
      const convergedMs = performance.now() - t0;
      const revisions = await api.listAll(collectionPath(revisionType, namespace));
      expect(revisions.items.length).toBe(FUNCTIONS);
      const settledRss = await residentBytes(url);
      console.log(
        `operator scale: ${String(FUNCTIONS)} Functions created in ${(createdMs / 1000).toFixed(1)} s, ` +
          `all Ready (revision made, status written) ${(convergedMs / 1000).toFixed(1)} s after the first create; ` +
          `operator RSS ${(idleRss / 2 ** 20).toFixed(0)} MiB idle, peak seen ${(peakRss / 2 ** 20).toFixed(0)} MiB, ` +
          `${(settledRss / 2 ** 20).toFixed(0)} MiB after`,
      );
      // Bounded: a few hundred bytes of cache per object, far below this.
      expect(settledRss).toBeLessThan(512 * 2 ** 20);
    } finally {
      child.kill("SIGTERM");
      await exited;
    }
  },
  CONVERGE_TIMEOUT_MS + STEP_TIMEOUT_MS,
);
