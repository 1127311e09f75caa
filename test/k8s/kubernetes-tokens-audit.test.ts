// Scoped tokens and the audit log of Kubernetes mode on one API server (kwok cluster), used as the chart's gateway ServiceAccount (impersonated, RBAC of deploy/manifests): a token made through one replica works through the other, a revoke through one is refused by the other, every replica's audit entries are listed and verified, and an edited entry is named.
import { join } from "node:path";
import { CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newToken, tokenDigest } from "../../src/auth/token-format.js";
import { startRunlet } from "../../src/gateway/start.js";
import { defaultFunctionNamespace, labels } from "../../src/kubernetes/names.js";
import { kubernetesStores } from "../../src/platform/kubernetes-stores.js";
import type { AuditEntry, AuditEvent } from "../../src/store/audit-log.js";
import { KubernetesAuditLog } from "../../src/store/kubernetes/kubernetes-audit-log.js";
import { KubernetesConfigStore } from "../../src/store/kubernetes/kubernetes-config-store.js";
import { KubernetesSecretStore } from "../../src/store/kubernetes/kubernetes-secret-store.js";
import {
  KubernetesTokenStore,
  tokenSecretName,
} from "../../src/store/kubernetes/kubernetes-token-store.js";
import type { TokenRecord } from "../../src/store/token-store.js";
import { runCli } from "../helpers/cli.js";
import { adminToken, eventually, tempDir, withApi, type TestRunlet } from "../helpers/runlet.js";
import { buildControlPlane } from "./cluster/binaries.js";
import { applyRunletCrds } from "./cluster/runlet-crds.js";
import { startTestCluster, type TestCluster } from "./cluster/test-cluster.js";

const BUILD_AND_START_TIMEOUT_MS = 60 * 60_000;
const STEP_TIMEOUT_MS = 120_000;
const WATCH_MS = 30_000;
const MANIFESTS = join(import.meta.dirname, "..", "..", "deploy", "manifests");
const namespace = defaultFunctionNamespace;

let cluster: TestCluster | undefined;
/** The cluster's admin: for looking and for tampering. */
let admin: KubeConfig | undefined;
/** The chart's gateway ServiceAccount, impersonated: what the stores run as. */
let gateway: KubeConfig | undefined;
const errors: unknown[] = [];
const closers: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  cluster = await startTestCluster({ binaries: await buildControlPlane() });
  admin = new KubeConfig();
  admin.loadFromFile(cluster.kubeconfigPath);
  await applyRunletCrds(cluster);
  for (const file of ["00-namespaces.yaml", "10-serviceaccounts.yaml", "10-rbac-gateway.yaml"]) {
    await cluster.kubectl(["apply", "-f", join(MANIFESTS, file)]);
  }
  gateway = new KubeConfig();
  gateway.loadFromOptions({
    clusters: admin.clusters,
    contexts: admin.contexts,
    currentContext: admin.currentContext,
    users: admin.users.map((user) => ({
      ...user,
      impersonateUser: "system:serviceaccount:runlet-system:runlet-gateway",
    })),
  });
}, BUILD_AND_START_TIMEOUT_MS);

afterAll(async () => {
  for (const close of closers.reverse()) {
    await close().catch(() => undefined);
  }
  await cluster?.stop();
}, STEP_TIMEOUT_MS);

function gatewayConfig(): KubeConfig {
  if (!gateway) {
    throw new Error("the cluster did not start (see the beforeAll error)");
  }
  return gateway;
}

function core(): CoreV1Api {
  if (!admin) {
    throw new Error("the cluster did not start (see the beforeAll error)");
  }
  return admin.makeApiClient(CoreV1Api);
}

const storeOptions = () => ({
  kubeConfig: gatewayConfig(),
  namespace,
  onError: (error: unknown) => errors.push(error),
});

async function openTokenStore(): Promise<KubernetesTokenStore> {
  const store = await KubernetesTokenStore.open(storeOptions());
  closers.push(() => store.close());
  return store;
}

async function openAuditLog(replica: string, entriesPerPart?: number): Promise<KubernetesAuditLog> {
  const log = await KubernetesAuditLog.open({
    ...storeOptions(),
    replica,
    ...(entriesPerPart !== undefined && { entriesPerPart }),
  });
  closers.push(() => log.close());
  return log;
}

function record(name: string, fields: Partial<TokenRecord> = {}): TokenRecord {
  return {
    name,
    namespace: "team-a",
    role: "deployer",
    function: undefined,
    digest: tokenDigest(newToken()),
    createdAt: Date.now(),
    createdBy: "admin",
    expiresAt: undefined,
    ...fields,
  };
}

const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

describe("KubernetesTokenStore: two replicas on one API server", () => {
  it("finds a token made through one by digest through the other, refuses a taken name across replicas, and forgets a revoked token on both", async () => {
    const [a, b] = [await openTokenStore(), await openTokenStore()];
    const token = newToken();
    const ci = record("ci", {
      digest: tokenDigest(token),
      expiresAt: Date.now() + 60_000,
      rate: "5/s",
    });
    await a.create(ci);
    // Read back at once by the replica that wrote it, and by the other once its watch has it.
    expect(a.findByDigest(ci.digest)).toEqual(ci);
    expect(
      await eventually(() => b.findByDigest(ci.digest), {
        timeoutMs: WATCH_MS,
        what: "b to see ci",
      }),
    ).toEqual(ci);
    expect(b.get("ci")).toEqual(ci);
    expect(b.list().map((t) => t.name)).toEqual(["ci"]);

    // The Secret holds the digest, never the token.
    const secret = await core().readNamespacedSecret({ namespace, name: tokenSecretName("ci") });
    expect(secret.metadata?.labels?.[labels.token]).toBe("true");
    const stored = Object.values(secret.data ?? {})
      .map((value) => Buffer.from(value, "base64").toString())
      .join("\n");
    expect(stored).toContain(ci.digest);
    expect(stored).not.toContain(token);
    expect(stored).not.toContain("rlt_");

    // A name taken through one replica is refused through the other, even before its watch
    // brought it: the API server decides.
    const late = await openTokenStore();
    await a.create(record("race"));
    await expect(Promise.resolve(late.create(record("race")))).rejects.toMatchObject({
      code: "RUNLET_ALREADY_EXISTS",
    });

    // Revoked through b: a, whose cache had it, finds it no more.
    expect(await b.remove("ci")).toBe(true);
    expect(b.findByDigest(ci.digest)).toBeUndefined();
    await eventually(() => (a.findByDigest(ci.digest) === undefined ? true : undefined), {
      timeoutMs: WATCH_MS,
      what: "a to forget ci",
    });
    expect(a.get("ci")).toBeUndefined();
    expect(await a.remove("ci")).toBe(false);

    // A function's keys go with it, through either replica, and only that function's.
    await a.create(record("hello-key-1", { namespace, role: "invoker", function: "hello" }));
    await a.create(record("hello-key-2", { namespace, role: "invoker", function: "hello" }));
    await a.create(record("other-key", { namespace, role: "invoker", function: "other" }));
    await eventually(() => (b.get("hello-key-2") && b.get("other-key") ? true : undefined), {
      timeoutMs: WATCH_MS,
      what: "b to see the keys",
    });
    expect(await b.removeFunctionKeys(namespace, "hello")).toBe(2);
    await eventually(
      () =>
        a.get("hello-key-1") === undefined && a.get("hello-key-2") === undefined ? true : undefined,
      {
        timeoutMs: WATCH_MS,
        what: "a to forget hello's keys",
      },
    );
    expect(a.list().map((t) => t.name)).toEqual(["other-key", "race"]);
    for (const name of ["other-key", "race"]) {
      await a.remove(name);
    }
    expect(errors).toEqual([]);
  });

  it("keeps a token's Secret and an audit part out of reach of the secret and config map stores (a deployer's DELETE by name)", async () => {
    const tokens = await openTokenStore();
    const secrets = await KubernetesSecretStore.open(storeOptions());
    closers.push(() => secrets.close());
    const configs = await KubernetesConfigStore.open(storeOptions());
    closers.push(() => configs.close());
    const audit = await openAuditLog("gw-reach");
    const kept = record("kept");
    await tokens.create(kept);
    await audit.append(event(Date.now(), "PUT /api/v1/secrets/:name"));
    const part = (
      await core().listNamespacedConfigMap({ namespace, labelSelector: `${labels.audit}=true` })
    ).items
      .map((item) => item.metadata?.name ?? "")
      .find((name) => name.includes(audit.chain));
    expect(part).toBeDefined();

    // The attack: remove by the object's name through the stores a deployer reaches.
    expect(await secrets.remove(tokenSecretName("kept"))).toBe(false);
    expect(await configs.remove(part ?? "")).toBe(false);
    await core().readNamespacedSecret({ namespace, name: tokenSecretName("kept") });
    await core().readNamespacedConfigMap({ namespace, name: part ?? "" });
    expect(tokens.findByDigest(kept.digest)).toEqual(kept);
    expect(audit.verify()).toMatchObject({ ok: true });
    await tokens.remove("kept");
  });
});

function event(time: number, action: string, namespaceName = namespace): AuditEvent {
  return {
    time,
    actor: "admin",
    namespace: namespaceName,
    action,
    object: "functions hello",
    result: "ok",
    status: 200,
  };
}

describe("KubernetesAuditLog: a chain per replica", () => {
  it("lists both replicas' entries merged by time through either, verifies each chain, and names an edited or removed entry", async () => {
    const a = await openAuditLog("gw-a", 2);
    const b = await openAuditLog("gw-b", 2);
    expect(a.chain).toMatch(/^gw-a-[0-9a-f]{8}$/);
    const base = Date.now() + 3_600_000; // later than the other cases' entries
    const appended: AuditEntry[] = [];
    appended.push(await a.append(event(base + 1, "PUT a1")));
    appended.push(await b.append(event(base + 2, "PUT b1")));
    appended.push(await a.append(event(base + 3, "PUT a2")));
    appended.push(await a.append(event(base + 4, "PUT a3", "team-b")));
    appended.push(await b.append(event(base + 5, "PUT b2")));
    // Concurrent appends of one replica still make one chain, in order.
    appended.push(
      ...(await Promise.all([
        b.append(event(base + 6, "PUT b3")),
        b.append(event(base + 7, "PUT b4")),
      ])),
    );
    expect(appended.map((e) => e.seq)).toEqual([1, 1, 2, 3, 2, 3, 4]);

    const actions = (log: KubernetesAuditLog) =>
      log.list({ since: base }).map((e) => `${e.chain === a.chain ? "a" : "b"}:${e.action}`);
    const expected = [
      "a:PUT a1",
      "b:PUT b1",
      "a:PUT a2",
      "a:PUT a3",
      "b:PUT b2",
      "b:PUT b3",
      "b:PUT b4",
    ];
    for (const log of [a, b]) {
      await eventually(() => (actions(log).length === expected.length ? true : undefined), {
        timeoutMs: WATCH_MS,
        what: "both chains in one list",
      });
      expect(actions(log)).toEqual(expected);
      expect(log.list({ since: base, namespace: "team-b" }).map((e) => e.action)).toEqual([
        "PUT a3",
      ]);
      expect(log.list({ since: base, limit: 2 }).map((e) => e.action)).toEqual([
        "PUT b3",
        "PUT b4",
      ]);
    }
    // Two entries a part: b's four are in two ConfigMaps.
    const parts = (
      await core().listNamespacedConfigMap({ namespace, labelSelector: `${labels.audit}=true` })
    ).items
      .map((item) => item.metadata?.name ?? "")
      .filter((name) => name.includes(b.chain))
      .sort();
    expect(parts).toEqual([`runlet-audit.${b.chain}.000001`, `runlet-audit.${b.chain}.000002`]);
    const intact = a.verify();
    expect(intact.ok).toBe(true);
    expect(intact.entries).toBeGreaterThanOrEqual(7);

    // Someone with kubectl edits b's third entry (in its second part) to say it was refused.
    const secondPart = parts[1] ?? "";
    const stored = await core().readNamespacedConfigMap({ namespace, name: secondPart });
    const key = Object.keys(stored.data ?? {}).sort()[0] ?? "";
    const edited = {
      ...(JSON.parse(stored.data?.[key] ?? "{}") as object),
      result: "403: refused",
      status: 403,
    };
    await core().patchNamespacedConfigMap(
      { namespace, name: secondPart, body: { data: { [key]: JSON.stringify(edited) } } },
      mergePatch,
    );
    const broken = await eventually(
      () => {
        const result = a.verify();
        return result.ok ? undefined : result;
      },
      { timeoutMs: WATCH_MS, what: "a to see the edit" },
    );
    expect(broken).toMatchObject({
      ok: false,
      brokenAt: 3,
      reason: `chain ${b.chain}: entry 3 was changed after it was written`,
    });

    // Its whole first part deleted instead: the chain starts at entry 3, and says so.
    await core().patchNamespacedConfigMap(
      { namespace, name: secondPart, body: { data: stored.data } },
      mergePatch,
    );
    await core().deleteNamespacedConfigMap({ namespace, name: parts[0] ?? "" });
    const cut = await eventually(
      () => {
        const result = b.verify();
        return !result.ok && result.reason.includes("missing") ? result : undefined;
      },
      { timeoutMs: WATCH_MS, what: "b to see its first part gone" },
    );
    expect(cut).toMatchObject({
      ok: false,
      brokenAt: 3,
      reason: `chain ${b.chain}: entry 1 is missing`,
    });

    // A value that is no entry at all is named too.
    await core().patchNamespacedConfigMap(
      {
        namespace,
        name: `runlet-audit.${a.chain}.000001`,
        body: { data: { "000000000002": "nothing to see" } },
      },
      mergePatch,
    );
    const garbled = await eventually(
      () => {
        const result = a.verify();
        return !result.ok && result.reason.includes(a.chain) ? result : undefined;
      },
      { timeoutMs: WATCH_MS, what: "a to see its garbled entry" },
    );
    expect(garbled).toMatchObject({ ok: false, brokenAt: 2 });
    expect(garbled.ok ? "" : garbled.reason).toContain(
      `chain ${a.chain}: entry 2 is not an audit entry`,
    );
    // Clean up the broken chains, so the next case's verify starts from intact ones.
    await core().deleteCollectionNamespacedConfigMap({
      namespace,
      labelSelector: `${labels.audit}=true`,
    });
    await eventually(() => (a.list().length === 0 && b.list().length === 0 ? true : undefined), {
      timeoutMs: WATCH_MS,
      what: "the audit parts gone",
    });
    expect(errors).toEqual([]);
  });
});

describe("two gateways on the Kubernetes stores", () => {
  it("serves a token made with the CLI through one gateway on the other, refuses it on both once revoked, and shows both gateways' audit entries through either", async () => {
    const replicas: TestRunlet[] = [];
    const packagesDir = await tempDir("runlet-k8s-tokens-packages-");
    for (const name of ["gw-one", "gw-two"]) {
      const dataDir = await tempDir(`runlet-k8s-tokens-${name}-`);
      const runlet = await startRunlet({
        port: 0,
        adminToken,
        dataDir,
        poolSize: 0,
        stores: kubernetesStores({
          kubeConfig: gatewayConfig(),
          namespace,
          packagesDir,
          replica: name,
          onError: (error) => errors.push(error),
        }),
      });
      closers.push(() => runlet.close(1000));
      replicas.push(withApi(runlet, dataDir));
    }
    const [one, two] = replicas;
    if (!one || !two) {
      throw new Error("the gateways did not start");
    }
    const cwd = await tempDir();
    const cli = (gatewayUrl: string, argv: string[], token = adminToken) =>
      runCli(argv, { cwd, env: { RUNLET_GATEWAY: gatewayUrl, RUNLET_TOKEN: token } });

    const created = await cli(one.url, ["token", "create", "deploy-bot", "--role", "deployer"]);
    expect(created.stderr).toBe("");
    const token = /(rlt_[\w-]{43})/.exec(created.stdout)?.[1] ?? "";
    expect(token).not.toBe("");
    const asBot = (url: string) =>
      fetch(`${url}/api/v1/functions`, { headers: { authorization: `Bearer ${token}` } });
    // Through the first at once; through the second once its watch has the Secret.
    expect((await asBot(one.url)).status).toBe(200);
    await eventually(async () => ((await asBot(two.url)).status === 200 ? true : undefined), {
      timeoutMs: WATCH_MS,
      what: "the second gateway to take the token",
    });
    expect((await cli(two.url, ["token", "list"])).stdout).toMatch(
      /deploy-bot\s+openfaas-fn\s+deployer/,
    );
    // The same name made through the second is refused.
    const again = await cli(two.url, ["token", "create", "deploy-bot", "--role", "viewer"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("A token named deploy-bot already exists");

    // The token acts through the second: a secret put there is an audit entry of its chain.
    const put = await fetch(`${two.url}/api/v1/secrets/bot-secret`, {
      method: "PUT",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ value: "v" }),
    });
    expect(put.status).toBe(201);

    // A deployer cannot reach the token's Secret through the secret API by its name.
    const reach = await fetch(`${two.url}/api/v1/secrets/${tokenSecretName("deploy-bot")}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${token}` },
    });
    expect(reach.status).toBeGreaterThanOrEqual(400);
    expect(reach.status).toBeLessThan(500);

    // Revoked through the second: refused by both.
    expect((await cli(two.url, ["token", "revoke", "deploy-bot"])).stdout).toContain(
      "✔ token deploy-bot revoked",
    );
    expect((await asBot(two.url)).status).toBe(401);
    await eventually(async () => ((await asBot(one.url)).status === 401 ? true : undefined), {
      timeoutMs: WATCH_MS,
      what: "the first gateway to refuse the revoked token",
    });

    // Either gateway shows both gateways' entries, merged by time, and verifies both chains.
    const want = [
      "admin POST /api/v1/tokens",
      "deploy-bot PUT /api/v1/secrets/:name",
      "deploy-bot DELETE /api/v1/secrets/:name",
      "admin DELETE /api/v1/tokens/:name",
    ];
    for (const gatewayReplica of [one, two]) {
      const entries = await eventually(
        async () => {
          const list = (await (await gatewayReplica.api("/api/v1/audit")).json()) as {
            actor: string;
            action: string;
            chain: string;
          }[];
          return list.length >= want.length + 1 ? list : undefined;
        },
        { timeoutMs: WATCH_MS, what: "both gateways' entries" },
      );
      const mine = entries.filter((e) => e.actor === "deploy-bot" || e.action.includes("/tokens"));
      expect(mine.map((e) => `${e.actor} ${e.action}`)).toEqual([
        want[0],
        "admin POST /api/v1/tokens", // the refused second create, through the second gateway
        ...want.slice(1),
      ]);
      expect(new Set(mine.map((e) => e.chain.replace(/-[0-9a-f]{8}$/, "")))).toEqual(
        new Set(["gw-one", "gw-two"]),
      );
      const verified = await cli(gatewayReplica.url, ["audit", "--verify"]);
      expect(verified.stdout).toContain("✔ audit log intact:");
      expect(verified.code).toBe(0);
    }
    expect(errors).toEqual([]);
  });
});
