// The Runlet operator against a real API server (kwok cluster) and a real gateway: a Function reconciled into a revision and a status, invalid specs Degraded with their message, a delete held by the finalizer until the function's pods and revisions are gone, and Kubeless and OpenFaaS Function objects reconciled into runlet Functions.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRunlet, type Runlet } from "../../src/gateway/start.js";
import { functionFinalizer, labels } from "../../src/kubernetes/names.js";
import type { FunctionObject, FunctionRevisionObject } from "../../src/kubernetes/resources.js";
import {
  functionType,
  podType,
  revisionType,
  secretType,
} from "../../src/operator/function-controller.js";
import {
  collectionPath,
  KubeClient,
  loadKubeConfig,
  objectPath,
  type KubeObject,
  type ResourceType,
} from "../../src/operator/kube-client.js";
import { peerTypes } from "../../src/operator/peer-functions.js";
import { startRunletOperator, type RunletOperator } from "../../src/operator/runlet-operator.js";
import { packDirectory } from "../../src/packaging/pack.js";
import { buildControlPlane } from "../k8s/cluster/binaries.js";
import { startTestCluster, type TestCluster } from "../k8s/cluster/test-cluster.js";
import { pollUntil } from "../k8s/cluster/wait.js";

const BUILD_AND_START_TIMEOUT_MS = 60 * 60_000;
const STEP_TIMEOUT_MS = 120_000;
const TEST_TIMEOUT_MS = 10 * 60_000;
const fieldManager = "runlet-operator-test";
const adminToken = "operator-test-admin-token";
const crdDir = fileURLToPath(new URL("../../deploy/crds/", import.meta.url));
const peerCrds = fileURLToPath(new URL("./fixtures/peer-crds.yaml", import.meta.url));

let cluster: TestCluster | undefined;
let client: KubeClient | undefined;
let gateway: Runlet | undefined;
let gatewayDir = "";
let operator: RunletOperator | undefined;
let namespace = "";
let packageDigest = "";

const namespaces: ResourceType = {
  group: "",
  version: "v1",
  plural: "namespaces",
  kind: "Namespace",
  namespaced: false,
};

beforeAll(async () => {
  cluster = await startTestCluster({ binaries: await buildControlPlane() });
  client = new KubeClient({ kubeConfig: loadKubeConfig(cluster.kubeconfigPath) });
  await cluster.kubectl(["apply", "--server-side", "-f", crdDir, "-f", peerCrds]);
  await cluster.kubectl([
    "wait",
    "--for=condition=Established",
    "--timeout=120s",
    "crd/functions.runlet.dev",
    "crd/functionrevisions.runlet.dev",
    "crd/functions.kubeless.io",
    "crd/functions.openfaas.com",
  ]);
  for (const name of ["runlet-system", (namespace = `fns-${randomBytes(3).toString("hex")}`)]) {
    await client.create(
      collectionPath(namespaces),
      { apiVersion: "v1", kind: "Namespace", metadata: { name } },
      fieldManager,
    );
  }
  gatewayDir = await mkdtemp(join(tmpdir(), "runlet-operator-gateway-"));
  gateway = await startRunlet({
    dataDir: gatewayDir,
    port: 0,
    adminToken,
    poolSize: 0,
    sandbox: "none",
  });
  // A package the gateway has, for Functions to name.
  const source = await mkdtemp(join(tmpdir(), "runlet-operator-src-"));
  const { writeFile } = await import("node:fs/promises");
  await writeFile(join(source, "index.js"), "export default async () => 'hi';\n");
  const packed = await packDirectory(source);
  await rm(source, { recursive: true, force: true });
  const uploaded = await fetch(`${gateway.url}/api/v1/packages`, {
    method: "POST",
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/gzip" },
    body: packed.archive,
  });
  expect(uploaded.status).toBeLessThan(300);
  packageDigest = packed.digest;
  operator = await startRunletOperator({
    kubeconfigPath: cluster.kubeconfigPath,
    leaseNamespace: "runlet-system",
    gateway: { url: gateway.url, adminToken },
    peers: ["kubeless", "openfaas"],
    recheckMs: 500,
    retryPeriodMs: 500,
    log: (level, message) => {
      if (level !== "info") {
        console.log(`operator ${level}: ${message}`);
      }
    },
  });
}, BUILD_AND_START_TIMEOUT_MS);

afterAll(async () => {
  await operator?.stop();
  await gateway?.close(2000);
  await client?.close();
  await cluster?.stop();
  if (gatewayDir !== "") {
    await rm(gatewayDir, { recursive: true, force: true });
  }
}, STEP_TIMEOUT_MS);

function started(): { client: KubeClient; cluster: TestCluster } {
  if (client === undefined || cluster === undefined || operator === undefined) {
    throw new Error("the cluster or the operator did not start (see the beforeAll error)");
  }
  return { client, cluster };
}

function functionBody(name: string, spec: Record<string, unknown>): Record<string, unknown> {
  return {
    apiVersion: "runlet.dev/v1alpha1",
    kind: "Function",
    metadata: { name, namespace },
    spec,
  };
}

async function readFunction(client: KubeClient, name: string): Promise<FunctionObject> {
  return client.get<KubeObject>(
    objectPath(functionType, namespace, name),
  ) as unknown as Promise<FunctionObject>;
}

function condition(fn: FunctionObject, type: string) {
  return fn.status?.conditions?.find((c) => c.type === type);
}

/** The Function once the operator has written the status of its current generation. */
async function reconciled(
  client: KubeClient,
  name: string,
  generation?: number,
): Promise<FunctionObject> {
  let last: FunctionObject | undefined;
  return pollUntil(
    `function ${name} reconciled`,
    async () => {
      last = await readFunction(client, name);
      const want = generation ?? last.metadata.generation;
      return last.status?.observedGeneration === want && condition(last, "Ready") !== undefined
        ? last
        : undefined;
    },
    { timeoutMs: STEP_TIMEOUT_MS, describe: () => JSON.stringify(last?.status) },
  );
}

async function revisionsOf(client: KubeClient, name: string): Promise<FunctionRevisionObject[]> {
  const list = await client.listAll<KubeObject>(collectionPath(revisionType, namespace), {
    labelSelector: `${labels.function}=${name}`,
  });
  return (list.items as unknown as FunctionRevisionObject[]).sort(
    (a, b) => a.spec.revision - b.spec.revision,
  );
}

describe("runlet Functions", () => {
  it(
    "makes a revision for each new spec and writes the status: observedGeneration, conditions, revision, url",
    async () => {
      const { client } = started();
      await client.create(
        collectionPath(functionType, namespace),
        functionBody("hello", { runtime: "node", handler: "index.js", package: packageDigest }),
        fieldManager,
      );
      const first = await reconciled(client, "hello", 1);
      expect(condition(first, "Ready")).toMatchObject({ status: "True", observedGeneration: 1 });
      expect(condition(first, "Degraded")?.status).toBe("False");
      expect(condition(first, "Progressing")?.status).toBe("False");
      expect(first.status).toMatchObject({
        activeRevision: 1,
        latestRevision: 1,
        url: "/function/hello",
      });
      expect(first.metadata.finalizers).toContain(functionFinalizer);
      const [revision] = await revisionsOf(client, "hello");
      expect(revision?.metadata.name).toBe("hello-r1");
      expect(revision?.spec.spec).toMatchObject({ runtime: "node", package: packageDigest });
      expect(revision?.metadata.ownerReferences?.[0]).toMatchObject({
        kind: "Function",
        name: "hello",
        uid: first.metadata.uid,
      });
      // Every field the operator wrote is its own (server-side apply).
      const managers = (
        first.metadata.managedFields as { manager: string; subresource?: string }[]
      ).map((f) => `${f.manager}${f.subresource === undefined ? "" : `/${f.subresource}`}`);
      expect(managers).toContain("runlet-operator/status");
      expect(managers).toContain("runlet-operator");

      // A new spec: a new immutable revision, which serves.
      await client.apply(
        objectPath(functionType, namespace, "hello"),
        functionBody("hello", {
          runtime: "node",
          handler: "index.js",
          package: packageDigest,
          env: { GREETING: "hi" },
        }),
        { fieldManager },
      );
      const second = await reconciled(client, "hello", 2);
      expect(second.status).toMatchObject({ activeRevision: 2, latestRevision: 2 });
      const revisions = await revisionsOf(client, "hello");
      expect(revisions.map((r) => r.spec.revision)).toEqual([1, 2]);
      expect(revisions[0]?.spec.spec.env).toBeUndefined();
      expect(revisions[1]?.spec.spec.env).toEqual({ GREETING: "hi" });

      // A rollback is a pointer move: no new revision, revision 1 serves.
      await client.apply(
        objectPath(functionType, namespace, "hello"),
        functionBody("hello", {
          runtime: "node",
          handler: "index.js",
          package: packageDigest,
          env: { GREETING: "hi" },
          activeRevision: 1,
        }),
        { fieldManager },
      );
      const rolledBack = await reconciled(client, "hello", 3);
      expect(rolledBack.status).toMatchObject({ activeRevision: 1, latestRevision: 2 });
      expect((await revisionsOf(client, "hello")).length).toBe(2);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "marks a Function Degraded with the reason and a message that says how to fix it, and Ready once fixed",
    async () => {
      const { client } = started();
      const degraded = async (name: string, spec: Record<string, unknown>) => {
        await client.create(
          collectionPath(functionType, namespace),
          functionBody(name, spec),
          fieldManager,
        );
        const fn = await reconciled(client, name);
        expect(condition(fn, "Ready")?.status).toBe("False");
        return condition(fn, "Degraded");
      };
      // What the CRD's schema lets through and the spec's own schema refuses.
      expect(
        await degraded("bad-network", {
          runtime: "node",
          handler: "index.js",
          package: packageDigest,
          network: "everywhere",
        }),
      ).toMatchObject({
        status: "True",
        reason: "InvalidSpec",
        message: expect.stringMatching(/^network: /),
      });
      expect(
        await degraded("bad-mode", {
          runtime: "node",
          handler: "index.js",
          package: packageDigest,
          mode: "http",
        }),
      ).toMatchObject({
        status: "True",
        reason: "InvalidSpec",
        message: expect.stringMatching(/mode is for runtime exec/),
      });
      expect(
        await degraded("no-package", {
          runtime: "node",
          handler: "index.js",
          package: `sha256:${"0".repeat(64)}`,
        }),
      ).toMatchObject({
        status: "True",
        reason: "PackageMissing",
        message: expect.stringMatching(/has not been uploaded/),
      });
      expect(
        await degraded("no-secret", {
          runtime: "node",
          handler: "index.js",
          package: packageDigest,
          secrets: ["api-key"],
        }),
      ).toMatchObject({
        status: "True",
        reason: "SecretMissing",
        message: expect.stringMatching(/api-key not found/),
      });
      expect(await revisionsOf(client, "no-secret")).toEqual([]);

      // The secret appears: the Function is looked at again and serves.
      await client.create(
        collectionPath(secretType, namespace),
        {
          apiVersion: "v1",
          kind: "Secret",
          metadata: { name: "api-key" },
          stringData: { value: "s3cret" },
        },
        fieldManager,
      );
      const fixed = await pollUntil(
        "no-secret to be Ready",
        async () => {
          const fn = await readFunction(client, "no-secret");
          return condition(fn, "Ready")?.status === "True" ? fn : undefined;
        },
        { timeoutMs: STEP_TIMEOUT_MS },
      );
      expect(condition(fixed, "Degraded")?.status).toBe("False");
      expect(fixed.status?.activeRevision).toBe(1);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "holds a deleted Function with its finalizer until its revisions and pods are gone",
    async () => {
      const { client, cluster } = started();
      await client.create(
        collectionPath(functionType, namespace),
        functionBody("doomed", { runtime: "node", handler: "index.js", package: packageDigest }),
        fieldManager,
      );
      await reconciled(client, "doomed", 1);
      // A pod of the function, as the provider labels one (no owner reference: only the
      // finalizer's cleanup removes it).
      await client.create(
        collectionPath(podType, namespace),
        {
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name: "doomed-pod", labels: { [labels.function]: "doomed" } },
          spec: {
            nodeName: cluster.nodeName,
            containers: [{ name: "runtime", image: "runlet.local/runtime-node:0.1.0" }],
          },
        },
        fieldManager,
      );
      expect((await revisionsOf(client, "doomed")).length).toBe(1);
      await client.delete(objectPath(functionType, namespace, "doomed"));
      await pollUntil(
        "the Function to be gone",
        async () =>
          (await client.get(objectPath(functionType, namespace, "doomed")).then(
            () => undefined,
            () => true,
          )) ?? undefined,
        { timeoutMs: STEP_TIMEOUT_MS },
      );
      const pods = await client.list(collectionPath(podType, namespace), {
        labelSelector: `${labels.function}=doomed`,
      });
      expect(pods.items).toEqual([]);
      expect(await revisionsOf(client, "doomed")).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );
});

describe("peers' Function objects", () => {
  it(
    "reconciles a Kubeless Function with inline source into a runlet Function whose package the gateway has, and deletes it with its owner",
    async () => {
      const { client } = started();
      const kubeless = await client.create<KubeObject>(
        collectionPath(peerTypes.kubeless, namespace),
        {
          apiVersion: "kubeless.io/v1beta1",
          kind: "Function",
          metadata: { name: "kl-hello", namespace },
          spec: {
            runtime: "nodejs14",
            handler: "hello.foo",
            function: "module.exports = { foo: (event) => 'hello ' + event.data };\n",
            "function-content-type": "text",
            timeout: "20",
          },
        },
        fieldManager,
      );
      const fn = await reconciled(client, "kl-hello", 1);
      expect(condition(fn, "Ready")?.status).toBe("True");
      expect(fn.spec).toMatchObject({
        runtime: "node",
        handler: "hello.js:foo",
        compat: "kubeless",
        timeout: "20s",
      });
      expect(fn.metadata.ownerReferences?.[0]).toMatchObject({
        apiVersion: "kubeless.io/v1beta1",
        kind: "Function",
        uid: kubeless.metadata.uid,
        controller: true,
      });
      // The operator uploaded the inline source: the gateway has the package.
      const head = await fetch(`${gateway?.url ?? ""}/api/v1/packages/${fn.spec.package}`, {
        method: "HEAD",
        headers: { authorization: `Bearer ${adminToken}` },
      });
      expect(head.status).toBe(200);

      // Deleting the Kubeless object deletes ours (garbage collector, then our finalizer).
      await client.delete(objectPath(peerTypes.kubeless, namespace, "kl-hello"));
      await pollUntil(
        "the runlet Function to go with its Kubeless owner",
        async () =>
          (await client.get(objectPath(functionType, namespace, "kl-hello")).then(
            () => undefined,
            () => true,
          )) ?? undefined,
        { timeoutMs: STEP_TIMEOUT_MS },
      );
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "reconciles an OpenFaaS Function whose image names a package, and marks one whose image is a container image Degraded",
    async () => {
      const { client } = started();
      const create = (name: string, image: string) =>
        client.create<KubeObject>(
          collectionPath(peerTypes.openfaas, namespace),
          {
            apiVersion: "openfaas.com/v1",
            kind: "Function",
            metadata: { name, namespace },
            spec: {
              name,
              image,
              labels: { "com.openfaas.scale.min": "1", "com.openfaas.scale.max": "5" },
              annotations: { "com.runlet.handler": "index.js" },
              environment: { write_debug: "true" },
              limits: { memory: "128Mi" },
            },
          },
          fieldManager,
        );
      await create("of-hello", packageDigest);
      const fn = await reconciled(client, "of-hello", 1);
      expect(condition(fn, "Ready")?.status).toBe("True");
      expect(fn.spec).toMatchObject({
        runtime: "node",
        handler: "index.js",
        package: packageDigest,
        env: { write_debug: "true" },
        memory: "128Mi",
        scale: { min: 1, max: 5 },
      });

      await create("of-image", "ghcr.io/openfaas/nodeinfo:latest");
      const foreign = await pollUntil(
        "the OpenFaaS Function's Degraded condition",
        async () => {
          const object = await client.get<
            KubeObject & {
              status?: {
                conditions?: { type: string; status: string; reason: string; message: string }[];
              };
            }
          >(objectPath(peerTypes.openfaas, namespace, "of-image"));
          return object.status?.conditions?.find(
            (c) => c.type === "Degraded" && c.status === "True",
          );
        },
        { timeoutMs: STEP_TIMEOUT_MS },
      );
      expect(foreign).toMatchObject({ reason: "ImageNotAPackage" });
      expect(foreign.message).toMatch(/Runlet runs packages, not images/);
      expect(foreign.message).toMatch(/\/api\/v1\/packages/);
      // The Event `kubectl describe` shows, and no runlet Function.
      const events = await client.list<
        KubeObject & { reason?: string; involvedObject?: { name?: string } }
      >(
        collectionPath(
          { group: "", version: "v1", plural: "events", kind: "Event", namespaced: true },
          namespace,
        ),
      );
      expect(
        events.items.some(
          (e) => e.involvedObject?.name === "of-image" && e.reason === "ImageNotAPackage",
        ),
      ).toBe(true);
      await expect(client.get(objectPath(functionType, namespace, "of-image"))).rejects.toThrow(
        /404/,
      );
    },
    TEST_TIMEOUT_MS,
  );
});
