// Smoke test of the Kubernetes test cluster (issue 7): Deployments, scaling, CRDs and kubectl against a real control plane.
import { randomBytes } from "node:crypto";
import {
  ApiException,
  ApiextensionsV1Api,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  Watch,
  type V1CustomResourceDefinition,
  type V1Deployment,
  type V1Pod,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildControlPlane } from "./cluster/binaries.js";
import { startTestCluster, type TestCluster } from "./cluster/test-cluster.js";
import { EventLog, pollUntil } from "./cluster/wait.js";

// A cold build compiles Kubernetes from source (see test/k8s/README.md for measured times);
// later runs find the binaries cached and only start the cluster.
const BUILD_AND_START_TIMEOUT_MS = 60 * 60_000;
const STEP_TIMEOUT_MS = 120_000;
const TEST_TIMEOUT_MS = 10 * 60_000;

let cluster: TestCluster | undefined;
let kubeConfig: KubeConfig | undefined;

beforeAll(async () => {
  const t0 = performance.now();
  const binaries = await buildControlPlane();
  const t1 = performance.now();
  cluster = await startTestCluster({ binaries });
  const t2 = performance.now();
  console.log(
    `k8s test cluster: binaries ready in ${seconds(t1 - t0)}, cluster started in ${seconds(t2 - t1)} ` +
      `(${cluster.server}, ${binaries.dir})`,
  );
  kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(cluster.kubeconfigPath);
}, BUILD_AND_START_TIMEOUT_MS);

afterAll(async () => {
  await cluster?.stop();
}, STEP_TIMEOUT_MS);

function started(): { cluster: TestCluster; kc: KubeConfig } {
  if (cluster === undefined || kubeConfig === undefined) {
    throw new Error("the test cluster did not start (see the beforeAll error)");
  }
  return { cluster, kc: kubeConfig };
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString("hex")}`;
}

function isReady(pod: V1Pod): boolean {
  return (
    pod.metadata?.deletionTimestamp === undefined &&
    pod.status?.phase === "Running" &&
    (pod.status.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True")
  );
}

describe("kubernetes test cluster", () => {
  it("reports its server version through kubectl", async () => {
    const { cluster } = started();
    const output = await cluster.kubectl(["version"]);
    console.log(`kubectl version:\n${output}`);
    expect(output).toMatch(/Client Version: v1\.\d+\.\d+/);
    expect(output).toMatch(/Server Version: v1\.\d+\.\d+/);
  });

  it(
    "runs a Deployment's pods on a kwok node, scales it through the scale subresource and removes them",
    async () => {
      const { cluster, kc } = started();
      const core = kc.makeApiClient(CoreV1Api);
      const apps = kc.makeApiClient(AppsV1Api);
      const namespace = uniqueName("smoke");
      const name = "hello";
      const selector = `app=${name}`;

      await core.createNamespace({ body: { metadata: { name: namespace } } });
      // Pods are refused until the controller manager has made the namespace's `default`
      // ServiceAccount; waiting here spares the ReplicaSet controller's retry backoff.
      await pollUntil(
        `ServiceAccount ${namespace}/default`,
        async () =>
          (await core.readNamespacedServiceAccount({ name: "default", namespace })).metadata,
        { timeoutMs: STEP_TIMEOUT_MS },
      );
      const deployment: V1Deployment = {
        metadata: { name, labels: { app: name } },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: name } },
          template: {
            metadata: { labels: { app: name } },
            // Never pulled: kwok simulates the container's lifecycle.
            spec: { containers: [{ name: "app", image: "registry.invalid/hello:1" }] },
          },
        },
      };
      await apps.createNamespacedDeployment({ namespace, body: deployment });

      let pods: V1Pod[] = [];
      const readyPods = async (count: number): Promise<V1Pod[] | undefined> => {
        pods = (await core.listNamespacedPod({ namespace, labelSelector: selector })).items;
        const ready = pods.filter(isReady);
        return ready.length === count && pods.length === count ? ready : undefined;
      };
      const describePods = (): string =>
        JSON.stringify(
          pods.map((p) => ({
            name: p.metadata?.name,
            node: p.spec?.nodeName,
            phase: p.status?.phase,
            deleting: p.metadata?.deletionTimestamp !== undefined,
          })),
        );

      const two = await pollUntil("2 Ready pods", () => readyPods(2), {
        timeoutMs: STEP_TIMEOUT_MS,
        describe: describePods,
      });
      for (const pod of two) {
        // Scheduled by kube-scheduler onto the kwok node, made Running with an IP by kwok.
        expect(pod.spec?.nodeName).toBe(cluster.nodeName);
        expect(pod.status?.podIP).toMatch(/^10\.244\./);
      }

      // Read-modify-write of the scale subresource; the deployment controller writes the same
      // object's status meanwhile, so a 409 Conflict is expected now and then.
      const scaled = await retryOnConflict(async () => {
        const scale = await apps.readNamespacedDeploymentScale({ name, namespace });
        expect(scale.spec?.replicas).toBe(2);
        return apps.replaceNamespacedDeploymentScale({
          name,
          namespace,
          body: { ...scale, spec: { replicas: 3 } },
        });
      });
      expect(scaled.spec?.replicas).toBe(3);

      await pollUntil("3 Ready pods", () => readyPods(3), {
        timeoutMs: STEP_TIMEOUT_MS,
        describe: describePods,
      });
      const status = await pollUntil(
        "Deployment status readyReplicas=3",
        async () => {
          const d = await apps.readNamespacedDeployment({ name, namespace });
          return d.status?.readyReplicas === 3 ? d.status : undefined;
        },
        { timeoutMs: STEP_TIMEOUT_MS },
      );
      expect(status.replicas).toBe(3);

      await apps.deleteNamespacedDeployment({ name, namespace, propagationPolicy: "Background" });
      // The garbage collector deletes the ReplicaSet and its pods; kwok's pod-delete stage
      // finishes the pods' termination (there is no kubelet to do it).
      await pollUntil(
        "the Deployment's pods to be gone",
        async () => {
          pods = (await core.listNamespacedPod({ namespace, labelSelector: selector })).items;
          return pods.length === 0 ? true : undefined;
        },
        { timeoutMs: STEP_TIMEOUT_MS, describe: describePods },
      );
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "applies a CustomResourceDefinition and creates, reads and watches its objects",
    async () => {
      const { kc } = started();
      const objects = KubernetesObjectApi.makeApiClient(kc);
      const extensions = kc.makeApiClient(ApiextensionsV1Api);
      const custom = kc.makeApiClient(CustomObjectsApi);
      const core = kc.makeApiClient(CoreV1Api);
      const group = "smoke.runlet.dev";
      const version = "v1";
      const plural = "widgets";
      const crdName = `${plural}.${group}`;
      const namespace = uniqueName("crd");
      await core.createNamespace({ body: { metadata: { name: namespace } } });

      const crd: V1CustomResourceDefinition = {
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "CustomResourceDefinition",
        metadata: { name: crdName },
        spec: {
          group,
          scope: "Namespaced",
          names: { plural, singular: "widget", kind: "Widget", listKind: "WidgetList" },
          versions: [
            {
              name: version,
              served: true,
              storage: true,
              schema: {
                openAPIV3Schema: {
                  type: "object",
                  properties: {
                    spec: {
                      type: "object",
                      required: ["size"],
                      properties: { size: { type: "integer", minimum: 1 } },
                    },
                  },
                },
              },
            },
          ],
        },
      };
      // Server-side apply, as `kubectl apply --server-side` does.
      await objects.patch(
        crd,
        undefined,
        undefined,
        "runlet-smoke-test",
        true,
        PatchStrategy.ServerSideApply,
      );
      await pollUntil(
        "the CRD to be Established",
        async () => {
          const current = await extensions.readCustomResourceDefinition({ name: crdName });
          const established = (current.status?.conditions ?? []).some(
            (c) => c.type === "Established" && c.status === "True",
          );
          return established ? true : undefined;
        },
        { timeoutMs: STEP_TIMEOUT_MS },
      );

      // The schema is enforced: size must be >= 1.
      await expect(
        custom.createNamespacedCustomObject({
          group,
          version,
          namespace,
          plural,
          body: {
            apiVersion: `${group}/${version}`,
            kind: "Widget",
            metadata: { name: "bad" },
            spec: { size: 0 },
          },
        }),
      ).rejects.toThrow(/spec\.size/);

      // Watch from the list's resourceVersion, so no event between list and watch is missed.
      const list: unknown = await custom.listNamespacedCustomObject({
        group,
        version,
        namespace,
        plural,
      });
      const resourceVersion = readPath(list, ["metadata", "resourceVersion"]);
      expect(typeof resourceVersion).toBe("string");
      const events = new EventLog<{ type: string; name: unknown; size: unknown }>();
      const watch = new Watch(kc);
      const watchPath = `/apis/${group}/${version}/namespaces/${namespace}/${plural}`;
      const abort = await watch.watch(
        watchPath,
        { resourceVersion: String(resourceVersion), allowWatchBookmarks: false },
        (type: string, object: unknown) => {
          events.push({
            type,
            name: readPath(object, ["metadata", "name"]),
            size: readPath(object, ["spec", "size"]),
          });
        },
        (error: unknown) => {
          events.close(error instanceof Error ? error : new Error(`watch ended: ${String(error)}`));
        },
      );
      try {
        const created: unknown = await custom.createNamespacedCustomObject({
          group,
          version,
          namespace,
          plural,
          body: {
            apiVersion: `${group}/${version}`,
            kind: "Widget",
            metadata: { name: "w1" },
            spec: { size: 3 },
          },
        });
        expect(readPath(created, ["spec", "size"])).toBe(3);

        const read: unknown = await custom.getNamespacedCustomObject({
          group,
          version,
          namespace,
          plural,
          name: "w1",
        });
        expect(readPath(read, ["metadata", "uid"])).toBe(readPath(created, ["metadata", "uid"]));
        expect(readPath(read, ["spec", "size"])).toBe(3);

        const added = await events.first(
          "ADDED w1",
          (e) => e.type === "ADDED" && e.name === "w1",
          STEP_TIMEOUT_MS,
        );
        expect(added.size).toBe(3);

        await custom.deleteNamespacedCustomObject({
          group,
          version,
          namespace,
          plural,
          name: "w1",
        });
        await events.first(
          "DELETED w1",
          (e) => e.type === "DELETED" && e.name === "w1",
          STEP_TIMEOUT_MS,
        );
        expect(events.events.map((e) => e.type)).toEqual(["ADDED", "DELETED"]);
      } finally {
        abort.abort();
      }
    },
    TEST_TIMEOUT_MS,
  );
});

/** Retries `update` (a read-modify-write) when the server answers 409 Conflict. */
async function retryOnConflict<T>(update: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await update();
    } catch (error) {
      if (!(error instanceof ApiException && error.code === 409) || attempt >= attempts) {
        throw error;
      }
    }
  }
}

/** Reads a nested field of an untyped object (custom resources come back as plain JSON). */
function readPath(value: unknown, keys: readonly string[]): unknown {
  let current = value;
  for (const key of keys) {
    if (typeof current !== "object" || current === null || !(key in current)) {
      return undefined;
    }
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}
