// Two gateway replicas on the Kubernetes stores (kwok cluster): each with its own data dir, both on one API server and one package folder; what one does, the other serves.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRunlet, type Runlet } from "../../src/gateway/start.js";
import {
  fieldManagers,
  kinds,
  labels,
  runletApiVersion,
  runletGroup,
  runletVersion,
} from "../../src/kubernetes/names.js";
import type { FunctionObject, FunctionRevisionObject } from "../../src/kubernetes/resources.js";
import { createRevision } from "../../src/kubernetes/revisions.js";
import { startRunletOperator } from "../../src/operator/runlet-operator.js";
import { packDirectory } from "../../src/packaging/pack.js";
import { kubernetesStores } from "../../src/platform/kubernetes-stores.js";
import { KubernetesFunctionStore } from "../../src/store/kubernetes/kubernetes-function-store.js";
import {
  KubernetesImageTagStore,
  imageTagObjectName,
} from "../../src/store/kubernetes/kubernetes-image-tag-store.js";
import { functionStoreCases } from "../store/function-store-cases.js";
import { imageTagStoreCases } from "../store/image-tag-store-cases.js";
import {
  adminToken,
  eventually,
  withApi,
  writeSource,
  type TestRunlet,
} from "../helpers/runlet.js";
import { buildControlPlane } from "./cluster/binaries.js";
import { applyRunletCrds } from "./cluster/runlet-crds.js";
import { startTestCluster, type TestCluster } from "./cluster/test-cluster.js";

const BUILD_AND_START_TIMEOUT_MS = 60 * 60_000;
const STEP_TIMEOUT_MS = 120_000;

let cluster: TestCluster | undefined;
let kc: KubeConfig | undefined;
let namespace = "";
let scratch = "";
const replicas: TestRunlet[] = [];
const errors: unknown[] = [];

beforeAll(async () => {
  cluster = await startTestCluster({ binaries: await buildControlPlane() });
  kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfigPath);
  await applyRunletCrds(cluster);
  namespace = `fns-${randomBytes(3).toString("hex")}`;
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
  scratch = await mkdtemp(join(tmpdir(), "runlet-k8s-stores-"));
  const packagesDir = join(scratch, "shared-packages");
  for (const name of ["a", "b"]) {
    const dataDir = join(scratch, `replica-${name}`);
    const runlet: Runlet = await startRunlet({
      port: 0,
      adminToken,
      dataDir,
      poolSize: 0,
      stores: kubernetesStores({
        kubeConfig: kc,
        namespace,
        packagesDir,
        onError: (error) => errors.push(error),
      }),
    });
    replicas.push(withApi(runlet, dataDir));
  }
}, BUILD_AND_START_TIMEOUT_MS);

afterAll(async () => {
  for (const replica of replicas) {
    await replica.close(1000).catch(() => undefined);
  }
  await cluster?.stop();
  if (scratch) {
    await rm(scratch, { recursive: true, force: true });
  }
}, STEP_TIMEOUT_MS);

function both(): [TestRunlet, TestRunlet] {
  const [a, b] = replicas;
  if (!a || !b || !kc) {
    throw new Error("the replicas did not start (see the beforeAll error)");
  }
  return [a, b];
}

function custom(): CustomObjectsApi {
  if (!kc) {
    throw new Error("no cluster");
  }
  return kc.makeApiClient(CustomObjectsApi);
}

async function listObjects<T>(plural: string, selector?: string): Promise<T[]> {
  const list = (await custom().listNamespacedCustomObject({
    group: runletGroup,
    version: runletVersion,
    namespace,
    plural,
    ...(selector === undefined ? {} : { labelSelector: selector }),
  })) as { items: T[] };
  return list.items;
}

const handler = (text: string) =>
  `export default async function () { return ${JSON.stringify(text)}; }`;

async function invoke(replica: TestRunlet, name: string): Promise<string> {
  const response = await fetch(`${replica.url}/function/${name}`);
  return `${response.status} ${await response.text()}`;
}

describe("two gateway replicas on the Kubernetes stores", () => {
  it("deploy through one makes Function and FunctionRevision objects; the other invokes, describes, rolls back; remove deletes them", async () => {
    const [a, b] = both();
    expect((await a.deploy("hello", { "index.js": handler("v1") })).status).toBe(201);
    const fns = await listObjects<FunctionObject>(kinds.function.plural);
    expect(fns.map((f) => f.metadata.name)).toEqual(["hello"]);
    expect(fns[0]?.spec).toMatchObject({ runtime: "node", handler: "index.js", activeRevision: 1 });
    expect(fns[0]?.metadata.labels?.[labels.managedBy]).toBe(fieldManagers.gateway);
    const revs = await listObjects<FunctionRevisionObject>(kinds.revision.plural);
    expect(revs.map((r) => r.metadata.name)).toEqual(["hello-r1"]);
    expect(revs[0]?.metadata.ownerReferences?.[0]).toMatchObject({
      kind: "Function",
      name: "hello",
      uid: fns[0]?.metadata.uid,
    });
    expect(
      await cluster?.kubectl([
        "get",
        "rfn",
        "hello",
        "-n",
        namespace,
        "-o",
        "jsonpath={.spec.runtime} {.spec.activeRevision}",
      ]),
    ).toBe("node 1");

    // The other replica serves and describes it, once its watch has brought it.
    expect(
      await eventually(async () => ((await invoke(b, "hello")) === "200 v1" ? true : undefined), {
        timeoutMs: 30_000,
        what: "b to serve v1",
      }),
    ).toBe(true);
    const described = (await (await b.api("/api/v1/functions/hello")).json()) as {
      revision: number;
    };
    expect(described.revision).toBe(1);

    expect((await a.deploy("hello", { "index.js": handler("v2") })).status).toBe(200);
    await eventually(async () => ((await invoke(b, "hello")) === "200 v2" ? true : undefined), {
      timeoutMs: 30_000,
      what: "b to serve v2",
    });
    expect(
      (await listObjects<FunctionRevisionObject>(kinds.revision.plural)).map(
        (r) => r.spec.revision,
      ),
    ).toEqual([1, 2]);

    // Rollback through the second; the first sees it.
    const rolled = await b.api("/api/v1/functions/hello/rollback", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(rolled.status).toBe(200);
    expect(((await rolled.json()) as { revision: number }).revision).toBe(1);
    expect(await invoke(b, "hello")).toBe("200 v1");
    await eventually(async () => ((await invoke(a, "hello")) === "200 v1" ? true : undefined), {
      timeoutMs: 30_000,
      what: "a to serve v1 after b's rollback",
    });
    // A rollback moves the pointer only: the spec stays the newest revision's, so the
    // operator (which makes a revision for each spec it has not seen) makes none.
    const [afterRollback] = await listObjects<FunctionObject>(kinds.function.plural);
    const newest = (await listObjects<FunctionRevisionObject>(kinds.revision.plural)).find(
      (r) => r.spec.revision === 2,
    );
    expect(afterRollback?.spec.activeRevision).toBe(1);
    expect(afterRollback?.spec.package).toBe(newest?.spec.spec.package);
    expect(
      (await listObjects<FunctionRevisionObject>(kinds.revision.plural)).map(
        (r) => r.spec.revision,
      ),
    ).toEqual([1, 2]);

    // Remove through the first: the objects go, and the second stops serving.
    expect((await a.api("/api/v1/functions/hello", { method: "DELETE" })).status).toBe(204);
    expect(await listObjects(kinds.function.plural)).toEqual([]);
    expect(await listObjects(kinds.revision.plural, `${labels.function}=hello`)).toEqual([]);
    await eventually(
      async () => ((await invoke(b, "hello")).startsWith("404") ? true : undefined),
      {
        timeoutMs: 30_000,
        what: "b to answer 404 after a's remove",
      },
    );
  });

  it("serves a Function applied with kubectl once its revision is made (the operator's step, done here with createRevision)", async () => {
    const [a, b] = both();
    const source = await writeSource({ "index.js": handler("from kubectl") });
    const packed = await packDirectory(source);
    // The package is in the folder both replicas share.
    await a.platform.packages.put(packed.archive);
    expect(b.platform.packages.has(packed.digest)).toBe(true);

    const manifest = join(scratch, "applied.yaml");
    await writeFile(
      manifest,
      [
        `apiVersion: ${runletApiVersion}`,
        "kind: Function",
        "metadata:",
        "  name: applied",
        `  namespace: ${namespace}`,
        "spec:",
        "  runtime: node",
        "  handler: index.js",
        `  package: "${packed.digest}"`,
        "",
      ].join("\n"),
    );
    await cluster?.kubectl(["apply", "-f", manifest]);
    // Both stores see the Function, but with no revision yet nothing serves it.
    await eventually(
      async () =>
        (await listObjects<FunctionObject>(kinds.function.plural)).some(
          (f) => f.metadata.name === "applied",
        )
          ? true
          : undefined,
      { what: "the applied Function" },
    );
    expect((await invoke(a, "applied")).startsWith("404")).toBe(true);
    expect(a.platform.functions.referencedPackages().has(packed.digest)).toBe(true);

    // What the operator does for a Function not managed by the gateway: make the spec's
    // revision (idempotent) and point the status at it.
    const fn = (await custom().getNamespacedCustomObject({
      group: runletGroup,
      version: runletVersion,
      namespace,
      plural: kinds.function.plural,
      name: "applied",
    })) as FunctionObject;
    const { activeRevision: _none, ...snapshot } = fn.spec;
    const revision = await createRevision({
      api: custom(),
      namespace,
      owner: { name: "applied", uid: fn.metadata.uid ?? "" },
      snapshot,
      hash: "f".repeat(64),
      fieldManager: fieldManagers.operator,
      reuseLatest: true,
    });
    await custom().patchNamespacedCustomObjectStatus(
      {
        group: runletGroup,
        version: runletVersion,
        namespace,
        plural: kinds.function.plural,
        name: "applied",
        fieldManager: fieldManagers.operator,
        force: true,
        body: {
          apiVersion: runletApiVersion,
          kind: "Function",
          metadata: { name: "applied" },
          status: {
            activeRevision: revision.spec.revision,
            latestRevision: revision.spec.revision,
          },
        },
      },
      setHeaderOptions("Content-Type", PatchStrategy.ServerSideApply),
    );
    for (const replica of [a, b]) {
      await eventually(
        async () => ((await invoke(replica, "applied")) === "200 from kubectl" ? true : undefined),
        { timeoutMs: 30_000, what: "the applied Function to be served" },
      );
    }
  });

  it("keeps secrets as Kubernetes Secrets: created through one, revealed by the other", async () => {
    const [a, b] = both();
    const put = await a.api("/api/v1/secrets/api-key", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ value: "s3cret value" }),
    });
    expect(put.status).toBe(201);
    const secret = await kc
      ?.makeApiClient(CoreV1Api)
      .readNamespacedSecret({ name: "api-key", namespace });
    expect(secret?.metadata?.labels?.[labels.secret]).toBe("true");
    expect(Buffer.from(secret?.data?.["api-key"] ?? "", "base64").toString()).toBe("s3cret value");
    // The other replica's SecretSource (what its provider reads) has it once its watch does.
    const revealed = await eventually(
      () =>
        b.platform.secrets.has("api-key") ? b.platform.secrets.reveal(["api-key"]) : undefined,
      { timeoutMs: 30_000, what: "b to see the secret" },
    );
    expect(revealed).toEqual({ "api-key": { "api-key": Buffer.from("s3cret value") } });
    // Replaced through the second, read by the first; removed through the first.
    await b.api("/api/v1/secrets/api-key", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ value: "rotated" }),
    });
    await eventually(
      () =>
        a.platform.secrets.reveal(["api-key"])["api-key"]?.["api-key"]?.toString() === "rotated"
          ? true
          : undefined,
      { timeoutMs: 30_000, what: "a to see the rotated value" },
    );
    expect((await a.api("/api/v1/secrets/api-key", { method: "DELETE" })).status).toBe(204);
    await eventually(() => (b.platform.secrets.has("api-key") ? undefined : true), {
      timeoutMs: 30_000,
      what: "b to see the secret gone",
    });
    expect(errors).toEqual([]);
  });

  it("keeps secret keys and config maps byte for byte: a keyed Secret and a labelled ConfigMap, seen by the other replica", async () => {
    const [a, b] = both();
    const raw = Buffer.from([0xff, 0x00, 0x80]);
    const data = {
      "tls.key": raw.toString("base64"),
      user: Buffer.from("admin").toString("base64"),
    };
    const put = (path: string, body: unknown) =>
      a.api(path, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    expect((await put("/api/v1/secrets/keyed", { data })).status).toBe(201);
    expect((await put("/api/v1/configs/settings", { data })).status).toBe(201);
    const core = kc?.makeApiClient(CoreV1Api);
    const secret = await core?.readNamespacedSecret({ name: "keyed", namespace });
    expect(secret?.data).toEqual(data);
    const config = await core?.readNamespacedConfigMap({ name: "settings", namespace });
    expect(config?.metadata?.labels?.[labels.config]).toBe("true");
    // Text readable with kubectl, other bytes as binaryData.
    expect(config?.data).toEqual({ user: "admin" });
    expect(config?.binaryData).toEqual({ "tls.key": raw.toString("base64") });
    const expected = { "tls.key": raw, user: Buffer.from("admin") };
    expect(
      await eventually(
        () => (b.platform.secrets.has("keyed") ? b.platform.secrets.reveal(["keyed"]) : undefined),
        { timeoutMs: 30_000, what: "b to see the secret" },
      ),
    ).toEqual({ keyed: expected });
    expect(
      await eventually(() => b.platform.configs.get("settings"), {
        timeoutMs: 30_000,
        what: "b to see the config map",
      }),
    ).toEqual(expected);
    expect((await b.api("/api/v1/configs/settings", { method: "DELETE" })).status).toBe(204);
    await eventually(() => (a.platform.configs.has("settings") ? undefined : true), {
      timeoutMs: 30_000,
      what: "a to see the config map gone",
    });
    expect(errors).toEqual([]);
  });

  it("keeps image tags as labelled ConfigMaps: pushed through one, faas-cli's deploy of the image through the other, a retag seen by both", async () => {
    const [a, b] = both();
    const upload = async (text: string) => {
      const packed = await packDirectory(await writeSource({ "index.js": handler(text) }));
      const stored = await a.api("/api/v1/packages", {
        method: "POST",
        headers: { "content-type": "application/gzip" },
        body: packed.archive,
      });
      expect(stored.status).toBeLessThan(300);
      return packed.digest;
    };
    const tag = (replica: TestRunlet, digest: string) =>
      replica.api("/api/v1/images/docker.io/me/tagged:0.1", {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ package: digest, runtime: "node", handler: "index.js" }),
      });
    const v1 = await upload("tagged v1");
    expect((await tag(a, v1)).status).toBe(201);
    const core = kc?.makeApiClient(CoreV1Api);
    const object = await core?.readNamespacedConfigMap({
      name: imageTagObjectName("me/tagged:0.1"),
      namespace,
    });
    expect(object?.metadata?.labels?.[labels.imageTag]).toBe("true");
    expect(object?.data).toMatchObject({ image: "me/tagged:0.1", package: v1 });
    // Not a config map of the user's.
    expect(a.platform.configs.list().map((config) => config.name)).toEqual([]);

    await eventually(() => b.platform.imageTags.get("me/tagged:0.1"), {
      timeoutMs: 30_000,
      what: "b to see the tag",
    });
    // faas-cli deploy -f stack.yml through the other replica: PUT (404), then POST.
    const deployment = JSON.stringify({
      service: "tagged",
      image: "me/tagged:0.1",
      envProcess: "node index.js",
    });
    const put = await b.api("/system/functions", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: deployment,
    });
    expect(put.status).toBe(404);
    const post = await b.api("/system/functions", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: deployment,
    });
    expect(post.status, await post.clone().text()).toBe(202);
    expect(await invoke(b, "tagged")).toBe("200 tagged v1");

    // Retagged through b; a sees the new package, and faas-cli's redeploy through a runs it.
    const v2 = await upload("tagged v2");
    const retag = await tag(b, v2);
    expect(retag.status).toBe(200);
    expect(((await retag.json()) as { previous: string }).previous).toBe(v1);
    await eventually(
      () => (a.platform.imageTags.get("me/tagged:0.1")?.packageDigest === v2 ? true : undefined),
      { timeoutMs: 30_000, what: "a to see the retag" },
    );
    const redeploy = await a.api("/system/functions", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: deployment,
    });
    expect(redeploy.status).toBe(202);
    expect(await invoke(a, "tagged")).toBe("200 tagged v2");
    expect((await a.api("/api/v1/functions/tagged", { method: "DELETE" })).status).toBe(204);
    expect((await a.api("/api/v1/images/me/tagged:0.1", { method: "DELETE" })).status).toBe(204);
    await eventually(() => (b.platform.imageTags.get("me/tagged:0.1") ? undefined : true), {
      timeoutMs: 30_000,
      what: "b to see the tag gone",
    });
    expect(errors).toEqual([]);
  });

  it("keeps triggers as Trigger objects: a spec route deployed through one is served by the other; an API trigger made through the other is served by the first, and once removed by neither", async () => {
    const [a, b] = both();
    expect(
      (
        await a.deploy(
          "routed",
          { "index.js": handler("routed") },
          { triggers: [{ http: "GET /greet" }] },
        )
      ).status,
    ).toBe(201);
    const triggers = await listObjects<{ metadata: { name: string }; spec: unknown }>(
      kinds.trigger.plural,
    );
    expect(triggers.map((t) => [t.metadata.name, t.spec])).toEqual([
      ["routed.http-1", { function: "routed", origin: "spec", trigger: { http: "GET /greet" } }],
    ]);
    await eventually(
      async () => {
        const response = await fetch(`${b.url}/greet`);
        return response.status === 200 && (await response.text()) === "routed" ? true : undefined;
      },
      { timeoutMs: 30_000, what: "b to serve the route a deployed" },
    );
    const created = await b.api("/api/v1/triggers", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "hello-there", function: "routed", http: "GET /hello-there" }),
    });
    expect(created.status).toBe(201);
    await eventually(
      async () => ((await fetch(`${a.url}/hello-there`)).status === 200 ? true : undefined),
      { timeoutMs: 30_000, what: "a to serve the route b created" },
    );
    expect((await a.api("/api/v1/triggers/hello-there", { method: "DELETE" })).status).toBe(204);
    await eventually(
      async () => ((await fetch(`${b.url}/hello-there`)).status === 404 ? true : undefined),
      { timeoutMs: 30_000, what: "b to stop serving the removed route" },
    );
  });

  it("with the operator running: the gateway's deploys and rollbacks make no extra revisions, and a kubectl-applied Function is served by both", async () => {
    const [a, b] = both();
    await kc
      ?.makeApiClient(CoreV1Api)
      .createNamespace({ body: { metadata: { name: "runlet-system" } } });
    const operator = await startRunletOperator({
      kubeconfigPath: cluster?.kubeconfigPath,
      leaseNamespace: "runlet-system",
      watchNamespace: namespace,
      gateway: { url: a.url, adminToken },
      recheckMs: 500,
      retryPeriodMs: 500,
      log: () => undefined,
    });
    try {
      expect((await a.deploy("both", { "index.js": handler("one") })).status).toBe(201);
      expect((await b.deploy("both", { "index.js": handler("two") })).status).toBe(200);
      const rolled = await a.api("/api/v1/functions/both/rollback", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      });
      expect(rolled.status).toBe(200);
      // The operator reconciles each change; its status follows the gateway's pointer.
      const status = await eventually(
        async () => {
          const [fn] = (await listObjects<FunctionObject>(kinds.function.plural)).filter(
            (f) => f.metadata.name === "both",
          );
          return fn?.status?.activeRevision === 1 &&
            fn.status.observedGeneration === fn.metadata.generation
            ? fn.status
            : undefined;
        },
        { timeoutMs: 60_000, what: "the operator's status of both" },
      );
      expect(status.latestRevision).toBe(2);
      expect(
        (
          await listObjects<FunctionRevisionObject>(
            kinds.revision.plural,
            `${labels.function}=both`,
          )
        )
          .map((r) => r.spec.revision)
          .sort(),
      ).toEqual([1, 2]);
      await eventually(async () => ((await invoke(b, "both")) === "200 one" ? true : undefined), {
        timeoutMs: 30_000,
        what: "b to serve the rollback",
      });

      // Applied with kubectl: the operator makes its revision, both replicas serve it.
      const source = await writeSource({ "index.js": handler("applied by kubectl") });
      const packed = await packDirectory(source);
      await b.platform.packages.put(Buffer.from(packed.archive));
      const manifest = join(scratch, "operated.yaml");
      await writeFile(
        manifest,
        `apiVersion: ${runletApiVersion}\nkind: Function\nmetadata:\n  name: operated\n  namespace: ${namespace}\nspec:\n  runtime: node\n  handler: index.js\n  package: "${packed.digest}"\n`,
      );
      await cluster?.kubectl(["apply", "-f", manifest]);
      for (const replica of [a, b]) {
        await eventually(
          async () =>
            (await invoke(replica, "operated")) === "200 applied by kubectl" ? true : undefined,
          { timeoutMs: 60_000, what: "the operated Function to be served" },
        );
      }
    } finally {
      await operator.stop();
    }
  });
});

describe("KubernetesFunctionStore", () => {
  let store: KubernetesFunctionStore | undefined;
  beforeAll(async () => {
    if (!kc) {
      throw new Error("no cluster");
    }
    store = await KubernetesFunctionStore.open({
      kubeConfig: kc,
      namespace,
      onError: (error) => errors.push(error),
    });
  });
  afterAll(async () => {
    await store?.close();
  });
  functionStoreCases(() => {
    if (!store) {
      throw new Error("the store did not open");
    }
    return store;
  });
});

describe("KubernetesImageTagStore", () => {
  let store: KubernetesImageTagStore | undefined;
  beforeAll(async () => {
    if (!kc) {
      throw new Error("no cluster");
    }
    store = await KubernetesImageTagStore.open({
      kubeConfig: kc,
      namespace,
      onError: (error) => errors.push(error),
    });
  });
  afterAll(async () => {
    await store?.close();
  });
  imageTagStoreCases(() => {
    if (!store) {
      throw new Error("the store did not open");
    }
    return store;
  });
  it("tags again an image whose ConfigMap was deleted behind its back (by kubectl, or another replica)", async () => {
    const digest = `sha256:${"e".repeat(64)}`;
    expect(await store?.put("gone:1", digest, { runtime: "node" })).toMatchObject({
      created: true,
    });
    // Deleted, and tagged again before (or after) this store's watch sees it go: either way made anew.
    await kc
      ?.makeApiClient(CoreV1Api)
      .deleteNamespacedConfigMap({ name: imageTagObjectName("gone:1"), namespace });
    expect(await store?.put("gone:1", digest, { runtime: "python" })).toMatchObject({
      created: true,
    });
    const object = await kc
      ?.makeApiClient(CoreV1Api)
      .readNamespacedConfigMap({ name: imageTagObjectName("gone:1"), namespace });
    expect(object?.data?.["shape"]).toBe('{"runtime":"python"}');
    expect(store?.get("gone:1")?.shape).toEqual({ runtime: "python" });
    await store?.remove("gone:1");
  });
});
