// The operator's machinery against a real API server (kwok cluster): an informer that lists again after a real 410 Gone, and two replicas electing a leader on a Lease with failover when the leader is killed.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildControlPlane } from "../k8s/cluster/binaries.js";
import { startTestCluster, type TestCluster } from "../k8s/cluster/test-cluster.js";
import { pollUntil } from "../k8s/cluster/wait.js";
import { Informer } from "../../src/operator/informer.js";
import {
  collectionPath,
  KubeClient,
  loadKubeConfig,
  objectPath,
  type KubeObject,
  type ResourceType,
} from "../../src/operator/kube-client.js";

const BUILD_AND_START_TIMEOUT_MS = 60 * 60_000;
const STEP_TIMEOUT_MS = 120_000;
const TEST_TIMEOUT_MS = 10 * 60_000;
const fieldManager = "runlet-operator-test";

let cluster: TestCluster | undefined;
let client: KubeClient | undefined;

beforeAll(async () => {
  cluster = await startTestCluster({ binaries: await buildControlPlane() });
  client = new KubeClient({ kubeConfig: loadKubeConfig(cluster.kubeconfigPath) });
}, BUILD_AND_START_TIMEOUT_MS);

afterAll(async () => {
  await client?.close();
  await cluster?.stop();
}, STEP_TIMEOUT_MS);

function started(): { cluster: TestCluster; client: KubeClient } {
  if (cluster === undefined || client === undefined) {
    throw new Error("the test cluster did not start (see the beforeAll error)");
  }
  return { cluster, client };
}

function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString("hex")}`;
}

const namespaces: ResourceType = {
  group: "",
  version: "v1",
  plural: "namespaces",
  kind: "Namespace",
  namespaced: false,
};
const configMaps: ResourceType = {
  group: "",
  version: "v1",
  plural: "configmaps",
  kind: "ConfigMap",
  namespaced: true,
};

async function createNamespace(client: KubeClient, name: string): Promise<void> {
  await client.create(
    collectionPath(namespaces),
    { apiVersion: "v1", kind: "Namespace", metadata: { name } },
    fieldManager,
  );
}

describe("informer", () => {
  it(
    "lists again when the server answers 410 Gone, and its cache matches the server's afterwards",
    async () => {
      const { client } = started();
      const group = `${randomBytes(3).toString("hex")}.optest.runlet.dev`;
      const widgets: ResourceType = {
        group,
        version: "v1",
        plural: "widgets",
        kind: "Widget",
        namespaced: true,
      };
      const crdPath = `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.${group}`;
      const crd = (columns: readonly string[]) => ({
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "CustomResourceDefinition",
        metadata: { name: `widgets.${group}` },
        spec: {
          group,
          scope: "Namespaced",
          names: { plural: "widgets", singular: "widget", kind: "Widget", listKind: "WidgetList" },
          versions: [
            {
              name: "v1",
              served: true,
              storage: true,
              schema: {
                openAPIV3Schema: {
                  type: "object",
                  properties: {
                    spec: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
                  },
                },
              },
              additionalPrinterColumns: columns.map((name) => ({
                name,
                type: "string",
                jsonPath: `.spec.${name}`,
              })),
            },
          ],
        },
      });
      await client.apply(crdPath, crd(["size"]), { fieldManager });
      await pollUntil(
        "the CRD to be Established",
        async () => {
          const current = await client.get<
            KubeObject & { status?: { conditions?: { type: string; status: string }[] } }
          >(crdPath);
          return current.status?.conditions?.some(
            (c) => c.type === "Established" && c.status === "True",
          )
            ? true
            : undefined;
        },
        { timeoutMs: STEP_TIMEOUT_MS },
      );
      const namespace = uniqueName("informer");
      await createNamespace(client, namespace);
      const widget = (name: string) => ({
        apiVersion: `${group}/v1`,
        kind: "Widget",
        metadata: { name, namespace },
        spec: { size: "1" },
      });
      const created = (name: string) =>
        pollUntil(
          `widget ${name} created`,
          async () =>
            (await client.create(collectionPath(widgets, namespace), widget(name), fieldManager))
              .metadata.name,
          { timeoutMs: STEP_TIMEOUT_MS },
        );
      await created("w1");
      await created("w2");

      const informer = new Informer<KubeObject>({
        client,
        type: widgets,
        namespace,
        // Short watches, so the informer watches again soon after the CRD changes.
        watchTimeoutSeconds: 2,
      });
      const seen: string[] = [];
      informer.onChange((key, current) => seen.push(`${current ? "set" : "del"} ${key}`));
      informer.start();
      try {
        await informer.synced();
        expect(informer.keys().sort()).toEqual([`${namespace}/w1`, `${namespace}/w2`]);
        expect(informer.lists).toBe(1);

        // Changing a CRD's spec makes the API server build that resource's storage and watch
        // cache anew, from the current etcd revision: a watch that resumes from an older
        // resourceVersion is answered 410 "too old resource version", as after a compaction.
        await client.apply(crdPath, crd(["size", "colour"]), { fieldManager });
        await pollUntil(
          "a relist after 410 Gone",
          async () => (informer.relistsAfterGone > 0 ? true : undefined),
          {
            timeoutMs: STEP_TIMEOUT_MS,
            describe: () => `lists ${String(informer.lists)}, events ${seen.join(", ")}`,
          },
        );
        expect(informer.lists).toBeGreaterThanOrEqual(2);

        // The informer keeps up afterwards: an object created and one deleted arrive.
        await created("w3");
        await client.delete(objectPath(widgets, namespace, "w1"));
        await pollUntil(
          "the cache to hold w2 and w3",
          async () =>
            informer.keys().sort().join(",") === `${namespace}/w2,${namespace}/w3`
              ? true
              : undefined,
          { timeoutMs: STEP_TIMEOUT_MS, describe: () => informer.keys().join(",") },
        );
        const onServer = await client.listAll(collectionPath(widgets, namespace));
        expect(onServer.items.map((w) => `${namespace}/${w.metadata.name}`).sort()).toEqual(
          informer.keys().sort(),
        );
      } finally {
        await informer.stop();
        await client.delete(crdPath).catch(() => undefined);
      }
    },
    TEST_TIMEOUT_MS,
  );
});

interface Replica {
  readonly child: ChildProcess;
  readonly identity: string;
  readonly url: string;
  readonly exited: Promise<unknown>;
}

const replicaScript = fileURLToPath(new URL("./fixtures/config-map-operator.ts", import.meta.url));

async function startReplica(
  kubeconfig: string,
  namespace: string,
  identity: string,
): Promise<Replica> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", replicaScript, kubeconfig, namespace, identity],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const exited = once(child, "exit");
  const lines: string[] = [];
  createInterface({ input: child.stdout }).on("line", (line) => lines.push(line));
  const url = await pollUntil(
    `replica ${identity}'s url`,
    async () => lines.find((line) => line.startsWith("url "))?.slice(4),
    { timeoutMs: STEP_TIMEOUT_MS, describe: () => lines.join("\n") },
  );
  return { child, identity, url, exited };
}

async function stopReplica(replica: Replica, signal: NodeJS.Signals): Promise<void> {
  if (replica.child.exitCode === null && replica.child.signalCode === null) {
    replica.child.kill(signal);
  }
  await replica.exited;
}

async function metric(replica: Replica, name: string): Promise<number | undefined> {
  const text = await (await fetch(`${replica.url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.split(" ")[1]);
}

async function leaseHolder(client: KubeClient, namespace: string): Promise<string | undefined> {
  const lease = await client.get<KubeObject & { spec?: { holderIdentity?: string } }>(
    `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/test-operator`,
  );
  const holder = lease.spec?.holderIdentity;
  return holder === "" ? undefined : holder;
}

describe("leader election", () => {
  it(
    "lets one of two replicas act, and the other takes over when the leader is killed or stops",
    async () => {
      const { cluster, client } = started();
      const namespace = uniqueName("election");
      await createNamespace(client, namespace);
      const replicas: Replica[] = [];
      try {
        replicas.push(await startReplica(cluster.kubeconfigPath, namespace, "replica-a"));
        replicas.push(await startReplica(cluster.kubeconfigPath, namespace, "replica-b"));
        const leaderId = await pollUntil("a leader", () => leaseHolder(client, namespace), {
          timeoutMs: STEP_TIMEOUT_MS,
        });
        const leader = replicas.find((r) => r.identity === leaderId);
        const standby = replicas.find((r) => r.identity !== leaderId);
        if (leader === undefined || standby === undefined) {
          throw new Error(`the Lease names ${leaderId}, not one of the replicas`);
        }
        // Both ready (caches synced, election decided); only the leader acts.
        await pollUntil(
          "both replicas ready",
          async () => {
            const codes = await Promise.all(
              replicas.map(async (r) => (await fetch(`${r.url}/readyz`)).status),
            );
            return codes.every((c) => c === 200) ? true : undefined;
          },
          { timeoutMs: STEP_TIMEOUT_MS },
        );
        expect(await metric(leader, "runlet_operator_leader")).toBe(1);
        expect(await metric(standby, "runlet_operator_leader")).toBe(0);

        const stampedBy = (name: string, identity: string) =>
          pollUntil(
            `${name} reconciled by ${identity}`,
            async () => {
              const cm = await client.get<KubeObject & { data?: Record<string, string> }>(
                objectPath(configMaps, namespace, name),
              );
              return cm.data?.["reconciledBy"] === identity ? true : undefined;
            },
            { timeoutMs: STEP_TIMEOUT_MS },
          );
        await client.create(
          collectionPath(configMaps, namespace),
          { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "one" }, data: {} },
          fieldManager,
        );
        await stampedBy("one", leader.identity);

        // Killed: the Lease is not released; the standby waits for it to expire.
        const killedAt = performance.now();
        await stopReplica(leader, "SIGKILL");
        await pollUntil(
          `${standby.identity} to lead`,
          async () => ((await metric(standby, "runlet_operator_leader")) === 1 ? true : undefined),
          { timeoutMs: STEP_TIMEOUT_MS, maxIntervalMs: 50 },
        );
        const killFailoverMs = performance.now() - killedAt;
        expect(await leaseHolder(client, namespace)).toBe(standby.identity);
        await client.create(
          collectionPath(configMaps, namespace),
          { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "two" }, data: {} },
          fieldManager,
        );
        await stampedBy("two", standby.identity);

        // Stopped gracefully: the leader releases the Lease, so a new replica takes over at
        // its next try rather than after the lease duration.
        const third = await startReplica(cluster.kubeconfigPath, namespace, "replica-c");
        replicas.push(third);
        await pollUntil(
          "replica-c ready",
          async () => ((await fetch(`${third.url}/readyz`)).status === 200 ? true : undefined),
          { timeoutMs: STEP_TIMEOUT_MS },
        );
        const stoppedAt = performance.now();
        await stopReplica(standby, "SIGTERM");
        await pollUntil(
          "replica-c to lead",
          async () => ((await metric(third, "runlet_operator_leader")) === 1 ? true : undefined),
          { timeoutMs: STEP_TIMEOUT_MS, maxIntervalMs: 50 },
        );
        const releaseFailoverMs = performance.now() - stoppedAt;
        await stampedBy("two", "replica-c");
        console.log(
          `operator failover (lease 4 s, renew deadline 3 s, retry 0.5 s): leader SIGKILLed → ` +
            `standby leads in ${(killFailoverMs / 1000).toFixed(2)} s; leader SIGTERMed (Lease released) → ` +
            `standby leads in ${(releaseFailoverMs / 1000).toFixed(2)} s`,
        );
      } finally {
        await Promise.all(replicas.map((r) => stopReplica(r, "SIGKILL")));
      }
    },
    TEST_TIMEOUT_MS,
  );
});
