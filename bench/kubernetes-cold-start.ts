/**
 * `node --import tsx bench/kubernetes-cold-start.ts [--starts 30] [--no-pool 8]` (as root):
 * cold starts of the Kubernetes provider on the real test node (pods under runc), with the
 * package fetched from a real gateway in this process through its grant route. From the pool:
 * claim a Ready pod + specialize (fetch, unpack, load) + first answer; without a pool: create a
 * pod, wait for Ready, specialize, first answer. Each pool start waits (untimed) for a Ready pool
 * pod first, as a start at a quiet moment finds one. Prints p50/p99 and the phases' medians.
 * The gateway here is off the pod network: the provider reaches pods through the test node's
 * loopback forwarders, which a gateway pod would not need.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  createKubernetesProvider,
  type KubernetesProvider,
} from "../src/provider/kubernetes/kubernetes-provider.js";
import type { Instance, ProviderContext } from "../src/provider/types.js";
import { startPodsWithGateway } from "../test/provider/kubernetes/pods-with-gateway.js";
import { percentile } from "./lib/stats.js";

const { values } = parseArgs({
  options: {
    starts: { type: "string", default: "30" },
    "no-pool": { type: "string", default: "8" },
  },
});
const starts = Number(values.starts);
const noPoolStarts = Number(values["no-pool"]);

interface Sample {
  readonly total: number;
  readonly start: number;
  readonly specialize: number;
  readonly firstAnswer: number;
  readonly fromPool: boolean;
}

const pods = await startPodsWithGateway({ startTimeoutMs: 180_000 });
const root = await mkdtemp(join(tmpdir(), "runlet-bench-k8s-"));
try {
  await mkdir(join(root, "hello"));
  await writeFile(join(root, "hello", "index.js"), "export default async () => 'hello';");
  const context = (): ProviderContext =>
    pods.podContext({
      packages: { localPath: (name) => join(root, name) },
      secrets: { reveal: () => ({}) },
      configs: { reveal: () => ({}) },
      onLog: () => undefined,
      onError: (error) => console.error(error),
    });
  // Two classes: the CPU limit (0.25 and 1 core) is most of a cold start's time.
  const pooled = (await createKubernetesProvider(
    pods.providerOptions({
      pools: [
        { runtime: "node", limitsClass: "small" },
        { runtime: "node", limitsClass: "large" },
      ],
      poolReplicas: 2,
    }),
  )(context())) as KubernetesProvider;
  // A pool of none: every start of this class creates its pod.
  const unpooled = (await createKubernetesProvider(pods.providerOptions({ poolReplicas: 0 }))(
    context(),
  )) as KubernetesProvider;

  const once = async (provider: KubernetesProvider, memoryBytes: number): Promise<Sample> => {
    const t0 = performance.now();
    const started = await provider.start({
      runtime: "node",
      network: "outbound",
      memoryBytes,
      cpu: undefined,
      onLog: () => undefined,
    });
    const t1 = performance.now();
    await started.instance.specialize({
      name: "hello",
      revision: "1",
      packageDigest: "hello",
      handler: "index.js",
      env: {},
      secrets: [],
      configs: [],
      timeoutMs: 10_000,
      concurrency: 4,
      compat: undefined,
      command: undefined,
      mode: "http",
    });
    const t2 = performance.now();
    const answer = await call(started.instance);
    const t3 = performance.now();
    if (answer !== 200) {
      throw new Error(`first call answered ${answer}`);
    }
    await started.instance.stop();
    return {
      total: t3 - t0,
      start: t1 - t0,
      specialize: t2 - t1,
      firstAnswer: t3 - t2,
      fromPool: started.fromPool,
    };
  };

  const waitForIdle = async (): Promise<void> => {
    const deadline = Date.now() + 180_000;
    while (!pooled.poolStatus().every((pool) => pool.idle > 0)) {
      if (Date.now() > deadline) {
        throw new Error("the pool did not refill within 180 s");
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  // The package is uploaded at its first grant: one untimed start does it.
  await waitForIdle();
  await once(pooled, 128 * 2 ** 20);
  const poolSamples: Sample[] = [];
  const largeSamples: Sample[] = [];
  for (let i = 0; i < starts; i += 1) {
    await waitForIdle();
    poolSamples.push(await once(pooled, 128 * 2 ** 20));
    await waitForIdle();
    largeSamples.push(await once(pooled, 512 * 2 ** 20));
  }
  const noPoolSamples: Sample[] = [];
  for (let i = 0; i < noPoolStarts; i += 1) {
    noPoolSamples.push(await once(unpooled, 256 * 2 ** 20));
  }
  report("from the pool, class small (128Mi, 0.25 CPU)", poolSamples);
  report("from the pool, class large (512Mi, 1 CPU)", largeSamples);
  report("no pool (a pod created), class medium (256Mi, 0.5 CPU)", noPoolSamples);
  await pooled.close();
  await unpooled.close();
} finally {
  await rm(root, { recursive: true, force: true });
  await pods.stop();
}

async function call(instance: Instance): Promise<number> {
  const response = await instance.invoke({
    method: "GET",
    path: "/",
    headers: { "x-call-id": "bench" },
    body: undefined,
    signal: new AbortController().signal,
  });
  if (!Buffer.isBuffer(response.body)) {
    for await (const _chunk of response.body) {
      // drained
    }
  }
  return response.status;
}

function report(what: string, samples: readonly Sample[]): void {
  const ms = (v: number) => `${v.toFixed(0)} ms`;
  const of = (pick: (s: Sample) => number) => samples.map(pick);
  console.log(
    `cold start ${what}: n=${samples.length} (${samples.filter((s) => s.fromPool).length} from the pool), ` +
      `p50 ${ms(
        percentile(
          of((s) => s.total),
          50,
        ),
      )}, p99 ${ms(
        percentile(
          of((s) => s.total),
          99,
        ),
      )}; ` +
      `medians: start ${ms(
        percentile(
          of((s) => s.start),
          50,
        ),
      )}, specialize ${ms(
        percentile(
          of((s) => s.specialize),
          50,
        ),
      )}, ` +
      `first answer ${ms(
        percentile(
          of((s) => s.firstAnswer),
          50,
        ),
      )}`,
  );
}
