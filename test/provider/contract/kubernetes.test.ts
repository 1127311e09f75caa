/**
 * The provider contract against the Kubernetes provider on a real node (pods under runc), and
 * what only pods have: pool Deployments applied server-side and hardened, claims that two
 * gateway replicas never share, pools that refill after a claim, pods ended from outside or by
 * the kernel's OOM killer named as such. Pods fetch their packages from a real gateway in this
 * process (its grant-checked archive route), which they reach through the node relay's one way
 * back to the host: the node address's port, piped to a Unix socket the gateway is bridged to.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AppsV1Api, CoreV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fieldManagers, labels } from "../../../src/kubernetes/names.js";
import {
  createKubernetesProvider,
  type KubernetesProvider,
} from "../../../src/provider/kubernetes/kubernetes-provider.js";
import type { KubernetesProviderOptions } from "../../../src/provider/kubernetes/options.js";
import { claimPoolPod } from "../../../src/provider/kubernetes/pod-claim.js";
import type { Instance, LogLine, Provider, ProviderContext } from "../../../src/provider/types.js";
import { pollUntil } from "../../k8s/cluster/wait.js";
import { runtimeNodeImage } from "../../k8s/images/image-specs.js";
import { startPodsWithGateway, type PodsWithGateway } from "../kubernetes/pods-with-gateway.js";
import { describeProviderContract } from "./provider-contract.js";

const BUILD_AND_START_TIMEOUT_MS = 75 * 60_000;
const STEP_TIMEOUT_MS = 120_000;

let pods: PodsWithGateway | undefined;

beforeAll(async () => {
  pods = await startPodsWithGateway({ startTimeoutMs: STEP_TIMEOUT_MS });
}, BUILD_AND_START_TIMEOUT_MS);

afterAll(async () => {
  await pods?.stop();
}, STEP_TIMEOUT_MS);

function cluster(): PodsWithGateway {
  if (!pods) {
    throw new Error("the test cluster did not start (see the beforeAll error)");
  }
  return pods;
}

function api(): { core: CoreV1Api; apps: AppsV1Api } {
  const { kubeConfig } = cluster();
  return { core: kubeConfig.makeApiClient(CoreV1Api), apps: kubeConfig.makeApiClient(AppsV1Api) };
}

function providerOptions(
  extra: Partial<KubernetesProviderOptions> = {},
): KubernetesProviderOptions {
  return cluster().providerOptions(extra);
}

function podContext(context: ProviderContext): ProviderContext {
  return cluster().podContext(context);
}

describeProviderContract("kubernetes", {
  pools: true,
  create: (context) => createKubernetesProvider(providerOptions())(podContext(context)),
});

describe("the Kubernetes provider's pods", () => {
  const providers: Provider[] = [];
  const instances: Instance[] = [];
  const logs: LogLine[] = [];
  let packages: ProviderContext["packages"];
  let root = "";

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "runlet-k8s-packages-"));
    const sources: Record<string, Record<string, string>> = {
      hello: { "index.js": "export default async () => ({ hi: 'from a pod' });" },
      buffers: {
        // Buffers live outside the JS heap: only the container's memory limit stops this.
        "index.js":
          "const kept = []; export default async () => { for (;;) { kept.push(Buffer.alloc(8 << 20, 1)); await new Promise((r) => setTimeout(r, 5)); } };",
      },
      python: {
        "handler.py":
          "def handle(event, context):\n    return {'python': True, 'secret': context.secret('token')}\n",
      },
    };
    for (const [name, files] of Object.entries(sources)) {
      for (const [file, text] of Object.entries(files)) {
        await mkdir(join(root, name), { recursive: true });
        await writeFile(join(root, name, file), text);
      }
    }
    packages = podContext({
      packages: { localPath: (name) => join(root, name) },
      secrets: { reveal: () => ({}) },
      configs: { reveal: () => ({}) },
      onLog: () => undefined,
      onError: () => undefined,
    }).packages;
  }, STEP_TIMEOUT_MS);

  afterAll(async () => {
    await Promise.all(instances.map((instance) => instance.stop().catch(() => undefined)));
    await Promise.all(providers.map((provider) => provider.close()));
    if (root) {
      await rm(root, { recursive: true, force: true });
    }
  }, STEP_TIMEOUT_MS);

  async function provider(
    extra: Partial<KubernetesProviderOptions> = {},
  ): Promise<KubernetesProvider> {
    const made = (await createKubernetesProvider(providerOptions(extra))({
      packages,
      secrets: {
        reveal: (names) =>
          Object.fromEntries(names.map((n) => [n, { [n]: Buffer.from(`value of ${n}`) }])),
      },
      configs: { reveal: () => ({}) },
      onLog: (line) => logs.push(line),
      onError: (error) => {
        throw error;
      },
    })) as KubernetesProvider;
    providers.push(made);
    return made;
  }

  async function start(
    from: KubernetesProvider,
    runtime: "node" | "python" = "node",
    memoryBytes = 128 * 2 ** 20,
  ) {
    const started = await from.start({
      runtime,
      network: "outbound",
      memoryBytes,
      cpu: undefined,
      onLog: (line) => logs.push(line),
    });
    instances.push(started.instance);
    return started;
  }

  function specialize(instance: Instance, name: string, handler = "index.js") {
    return instance.specialize({
      name: `fn-${name}`,
      revision: "7",
      packageDigest: name,
      handler,
      env: {},
      secrets: ["token"],
      configs: [],
      timeoutMs: 10_000,
      concurrency: 4,
      compat: undefined,
      command: undefined,
      mode: "http",
    });
  }

  async function idlePods(pool: string, count: number): Promise<string[]> {
    return pollUntil(
      `${count} Ready pods in pool ${pool}`,
      async () => {
        const pods = await api().core.listNamespacedPod({
          namespace: cluster().namespace,
          labelSelector: `${labels.pool}=${pool}`,
        });
        const ready = pods.items.filter(
          (pod) =>
            pod.metadata?.deletionTimestamp === undefined &&
            (pod.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True"),
        );
        return ready.length >= count ? ready.map((pod) => pod.metadata?.name ?? "") : undefined;
      },
      { timeoutMs: STEP_TIMEOUT_MS },
    );
  }

  it(
    "applies each pool as a hardened Deployment, server-side with the provider's field manager",
    async () => {
      await provider({ pools: [{ runtime: "node", limitsClass: "small" }], poolReplicas: 2 });
      const deployment = await api().apps.readNamespacedDeployment({
        name: "runtime-node-small",
        namespace: cluster().namespace,
      });
      expect(
        deployment.metadata?.managedFields?.map((f) => [f.manager, f.operation]),
      ).toContainEqual([fieldManagers.provider, "Apply"]);
      expect(deployment.spec?.selector.matchLabels).toEqual({
        [labels.pool]: "runtime-node-small",
      });
      const spec = deployment.spec?.template.spec;
      const container = spec?.containers[0];
      expect(spec?.automountServiceAccountToken).toBe(false);
      expect(spec?.securityContext).toMatchObject({
        runAsNonRoot: true,
        runAsUser: 10001,
        seccompProfile: { type: "RuntimeDefault" },
      });
      expect(container?.securityContext).toMatchObject({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ["ALL"] },
      });
      expect(container?.image).toBe(runtimeNodeImage.reference);
      expect(container?.imagePullPolicy).toBe("IfNotPresent");
      expect(container?.resources).toEqual({
        requests: { memory: String(128 * 2 ** 20), cpu: "25m" },
        limits: { memory: String(128 * 2 ** 20), cpu: "250m" },
      });
      expect(container?.readinessProbe?.httpGet?.path).toBe("/healthz");
      expect(spec?.volumes?.find((v) => v.name === "secrets")?.emptyDir?.medium).toBe("Memory");
      await idlePods("runtime-node-small", 2);
    },
    STEP_TIMEOUT_MS,
  );

  it(
    "claims a Ready pool pod, which leaves its ReplicaSet, and the pool refills",
    async () => {
      const from = await provider({
        pools: [{ runtime: "node", limitsClass: "small" }],
        poolReplicas: 2,
      });
      const before = await idlePods("runtime-node-small", 2);
      const started = await start(from);
      expect(started.fromPool).toBe(true);
      const podName = from.podName(started.instance.id) ?? "";
      expect(before).toContain(podName);
      await specialize(started.instance, "hello");
      const answer = await started.instance.invoke({
        method: "GET",
        path: "/",
        headers: { "x-call-id": "call-pool" },
        body: undefined,
        signal: new AbortController().signal,
      });
      expect(answer.status).toBe(200);
      // Two Ready pool pods again, none of them the claimed one.
      const after = await pollUntil(
        "the pool to refill",
        async () => {
          const idle = await idlePods("runtime-node-small", 2);
          return idle.includes(podName) ? undefined : idle;
        },
        { timeoutMs: STEP_TIMEOUT_MS },
      );
      expect(after).not.toContain(podName);
      const claimed = await pollUntil(
        "the claimed pod to be released by its ReplicaSet and labelled with its function",
        async () => {
          const pod = await api().core.readNamespacedPod({
            name: podName,
            namespace: cluster().namespace,
          });
          const released = (pod.metadata?.ownerReferences ?? []).length === 0;
          return released && pod.metadata?.labels?.[labels.function] ? pod : undefined;
        },
        { timeoutMs: STEP_TIMEOUT_MS },
      );
      expect(claimed.metadata?.labels).toMatchObject({
        [labels.instance]: started.instance.id,
        [labels.function]: "fn-hello",
        [labels.revision]: "7",
      });
      expect(claimed.metadata?.labels?.[labels.pool]).toBeUndefined();
    },
    STEP_TIMEOUT_MS,
  );

  it(
    "never gives one pool pod to two claims, from one provider or two",
    async () => {
      const [one, two] = [
        await provider({ pools: [{ runtime: "node", limitsClass: "small" }], poolReplicas: 2 }),
        await provider({ pools: [{ runtime: "node", limitsClass: "small" }], poolReplicas: 2 }),
      ];
      // The claim itself: two at once on the same pod, exactly one wins.
      const [target] = await idlePods("runtime-node-small", 2);
      const claims = await Promise.all(
        ["claim-a", "claim-b"].map((instanceId) =>
          claimPoolPod(api().core, {
            namespace: cluster().namespace,
            podName: target ?? "",
            pool: "runtime-node-small",
            instanceId,
          }),
        ),
      );
      expect(claims.filter((pod) => pod !== undefined)).toHaveLength(1);
      await api().core.deleteNamespacedPod({
        name: target ?? "",
        namespace: cluster().namespace,
        gracePeriodSeconds: 0,
      });
      // Two gateway replicas starting three instances each at once, from a pool of two.
      await idlePods("runtime-node-small", 2);
      const started = await Promise.all([
        ...[1, 2, 3].map(() => start(one)),
        ...[1, 2, 3].map(() => start(two)),
      ]);
      const pods = started.map(
        (s, i) => (i < 3 ? one : two).podName(s.instance.id) ?? `missing-${i}`,
      );
      expect(new Set(pods).size).toBe(6);
      expect(started.filter((s) => s.fromPool).length).toBeGreaterThan(0);
      expect(started.filter((s) => s.fromPool).length).toBeLessThanOrEqual(2);
    },
    3 * STEP_TIMEOUT_MS,
  );

  it(
    "runs a Python function in a pod, with its package fetched and its secret written",
    async () => {
      const from = await provider();
      const started = await start(from, "python");
      await specialize(started.instance, "python", "handler.py");
      const answer = await started.instance.invoke({
        method: "GET",
        path: "/",
        headers: { "x-call-id": "call-python" },
        body: undefined,
        signal: new AbortController().signal,
      });
      expect(answer.status).toBe(200);
      expect(JSON.parse(Buffer.from(answer.body as Buffer).toString("utf8"))).toEqual({
        python: true,
        secret: "value of token",
      });
    },
    STEP_TIMEOUT_MS,
  );

  it(
    "names a pod the kernel OOM-killed (memory outside the heap) as out of memory",
    async () => {
      const from = await provider();
      const started = await start(from);
      await specialize(started.instance, "buffers");
      const failure = await started.instance
        .invoke({
          method: "GET",
          path: "/",
          headers: { "x-call-id": "call-oom" },
          body: undefined,
          signal: new AbortController().signal,
        })
        .then(
          () => undefined,
          (error: unknown) => error,
        );
      expect(failure).toBeInstanceOf(Error);
      const exit = await started.instance.exitCausing(failure);
      expect(exit).toEqual({ kind: "out-of-memory", message: "exceeded memory limit 128Mi" });
    },
    STEP_TIMEOUT_MS,
  );

  it(
    "names a pod deleted from outside as killed, saying so",
    async () => {
      const from = await provider();
      const started = await start(from);
      await specialize(started.instance, "hello");
      await api().core.deleteNamespacedPod({
        name: from.podName(started.instance.id) ?? "",
        namespace: cluster().namespace,
      });
      const exit = await started.instance.exited;
      expect(exit.kind).toBe("killed");
      expect(exit.message).toContain("deleted from outside");
    },
    STEP_TIMEOUT_MS,
  );
});
