// Smoke test of the real test node (issue 15): pods of Runlet's images really run under runc, and answer HTTP from the host.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { readdir, readFile, readlink } from "node:fs/promises";
import { request } from "node:http";
import {
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  type V1Container,
  type V1Deployment,
  type V1Pod,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildControlPlane } from "./cluster/binaries.js";
import { KWOK_TAINT } from "./cluster/kwok-nodes.js";
import { startTestCluster, type TestCluster } from "./cluster/test-cluster.js";
import { pollUntil } from "./cluster/wait.js";
import {
  platformImage,
  RUNLET_IMAGES,
  runtimeExecImage,
  runtimeNodeImage,
  runtimePythonImage,
} from "./images/image-specs.js";
import { buildNode } from "./node/binaries.js";
import { NODE_ADDRESS, NODE_NAME, NODE_NETWORK } from "./node/layout.js";

// A cold build compiles containerd, runc, the kubelet and more from source (test/k8s/README.md
// has the times); later runs find everything cached and only start the cluster.
const BUILD_AND_START_TIMEOUT_MS = 75 * 60_000;
const STEP_TIMEOUT_MS = 120_000;
const TEST_TIMEOUT_MS = 5 * 60_000;
/** The kernel-wide tunables the kubelet would change; the host must keep its own. */
const HOST_SYSCTLS = [
  "vm/overcommit_memory",
  "vm/panic_on_oom",
  "kernel/panic",
  "kernel/panic_on_oops",
];

let cluster: TestCluster | undefined;
let kubeConfig: KubeConfig | undefined;
let namespace = "";
const sysctlsBefore = readSysctls();

beforeAll(async () => {
  const t0 = performance.now();
  const [controlPlane, node] = [await buildControlPlane(), await buildNode()];
  const t1 = performance.now();
  cluster = await startTestCluster({
    binaries: controlPlane,
    realNode: { binaries: node, images: RUNLET_IMAGES },
    // Both kinds of node in one cluster: kwok's are tainted, so these pods go to the real one.
    kwokNodes: 1,
  });
  const t2 = performance.now();
  console.log(
    `real test node: binaries ready in ${seconds(t1 - t0)}, cluster up in ${seconds(t2 - t1)} ` +
      `(${cluster.server}; images: ${[...(cluster.realNode?.images.values() ?? [])]
        .map((i) => `${i.reference}${i.built ? " (written)" : ""}`)
        .join(", ")})`,
  );
  kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(cluster.kubeconfigPath);
  namespace = `real-${randomBytes(3).toString("hex")}`;
  const core = kubeConfig.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  await pollUntil(
    `ServiceAccount ${namespace}/default`,
    async () => (await core.readNamespacedServiceAccount({ name: "default", namespace })).metadata,
    { timeoutMs: STEP_TIMEOUT_MS },
  );
}, BUILD_AND_START_TIMEOUT_MS);

afterAll(async () => {
  await cluster?.stop();
}, STEP_TIMEOUT_MS);

function started(): { cluster: TestCluster; core: CoreV1Api; apps: AppsV1Api } {
  if (cluster === undefined || kubeConfig === undefined) {
    throw new Error("the test cluster did not start (see the beforeAll error)");
  }
  return {
    cluster,
    core: kubeConfig.makeApiClient(CoreV1Api),
    apps: kubeConfig.makeApiClient(AppsV1Api),
  };
}

function realNode(): NonNullable<TestCluster["realNode"]> {
  const node = started().cluster.realNode;
  if (node === undefined) {
    throw new Error("the cluster has no real node");
  }
  return node;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function readSysctls(): string {
  return HOST_SYSCTLS.map((k) => `${k}=${readFileSync(`/proc/sys/${k}`, "utf8").trim()}`).join(" ");
}

/** A container of one of Runlet's images, as the Kubernetes provider will run it. */
function runtimeContainer(
  image: string,
  port: number,
  extra: Partial<V1Container> = {},
): V1Container {
  return {
    name: "runtime",
    image,
    // Imported into containerd; there is no registry to pull from.
    imagePullPolicy: "Never",
    ports: [{ containerPort: port }],
    readinessProbe: { httpGet: { path: "/healthz", port }, periodSeconds: 1 },
    securityContext: { runAsNonRoot: true, allowPrivilegeEscalation: false },
    resources: { limits: { memory: "256Mi" } },
    ...extra,
  };
}

/** Runs `node -e script` in the pod's container through `kubectl exec` and returns its output. */
async function nodeInPod(pod: string, script: string): Promise<string> {
  return started().cluster.kubectl(["-n", namespace, "exec", pod, "--", "node", "-e", script]);
}

function isReady(pod: V1Pod): boolean {
  return (
    pod.metadata?.deletionTimestamp === undefined &&
    pod.status?.phase === "Running" &&
    (pod.status.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True")
  );
}

async function readyPods(selector: string, count: number): Promise<V1Pod[]> {
  const { core } = started();
  let pods: V1Pod[] = [];
  return pollUntil(
    `${String(count)} Ready pod(s) ${selector}`,
    async () => {
      pods = (await core.listNamespacedPod({ namespace, labelSelector: selector })).items;
      const ready = pods.filter(isReady);
      return ready.length === count && pods.length === count ? ready : undefined;
    },
    {
      timeoutMs: STEP_TIMEOUT_MS,
      describe: () =>
        JSON.stringify(
          pods.map((p) => ({
            name: p.metadata?.name,
            phase: p.status?.phase,
            waiting: p.status?.containerStatuses?.[0]?.state?.waiting,
            deleting: p.metadata?.deletionTimestamp !== undefined,
          })),
        ),
    },
  );
}

interface HttpAnswer {
  readonly status: number;
  readonly body: string;
}

function httpGet(host: string, port: number, path: string): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, timeout: 5_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${path}: no answer within 5 s`)));
    req.on("error", reject).end();
  });
}

/** GET through a forwarder until it answers 200 (a new Service's rules take a moment). */
async function firstOk(address: { host: string; port: number }, path: string): Promise<HttpAnswer> {
  return pollUntil(
    `200 from ${path} at ${address.host}:${String(address.port)}`,
    async () => {
      const answer = await httpGet(address.host, address.port, path);
      return answer.status === 200 ? answer : undefined;
    },
    { timeoutMs: STEP_TIMEOUT_MS, maxIntervalMs: 200 },
  );
}

async function createDeployment(
  name: string,
  replicas: number,
  container: V1Container,
): Promise<void> {
  const { apps, core } = started();
  const deployment: V1Deployment = {
    metadata: { name, labels: { app: name } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          containers: [container],
          nodeSelector: { "kubernetes.io/hostname": NODE_NAME },
          terminationGracePeriodSeconds: 2,
        },
      },
    },
  };
  await apps.createNamespacedDeployment({ namespace, body: deployment });
  const port = container.ports?.[0]?.containerPort ?? 8888;
  await core.createNamespacedService({
    namespace,
    body: {
      metadata: { name },
      spec: { selector: { app: name }, ports: [{ port: 80, targetPort: port }] },
    },
  });
}

async function clusterIpOf(name: string): Promise<string> {
  const service = await started().core.readNamespacedService({ name, namespace });
  const ip = service.spec?.clusterIP;
  if (ip === undefined) {
    throw new Error(`Service ${name} has no ClusterIP`);
  }
  return ip;
}

describe("the real test node", () => {
  it("is Ready at its address inside the namespace, beside a tainted kwok node", async () => {
    const { core, cluster } = started();
    const node = await core.readNode({ name: NODE_NAME });
    expect(node.status?.addresses).toContainEqual({ type: "InternalIP", address: NODE_ADDRESS });
    expect(node.status?.nodeInfo?.containerRuntimeVersion).toMatch(/^containerd:\/\/2\./);
    expect(node.status?.nodeInfo?.kubeletVersion).toMatch(/^v1\.\d+\.\d+$/);
    const kwokName = cluster.kwokNodeNames[0] ?? "";
    const kwok = await core.readNode({ name: kwokName });
    expect(kwok.spec?.taints).toContainEqual(expect.objectContaining(KWOK_TAINT));
    expect((kwok.status?.conditions ?? []).find((c) => c.type === "Ready")?.status).toBe("True");
  });

  it("has no way out of its namespace: no default route, and outside addresses are unreachable", async () => {
    const node = realNode();
    const routes = (await node.run("ip", ["-4", "route", "show"])).stdout;
    expect(routes).not.toMatch(/^default/m);
    expect(routes).toContain(`${NODE_NETWORK} dev node0`);
    // 192.0.2.1 is TEST-NET-1: nothing would answer even if a packet could leave, and none can:
    // the route lookup fails before anything is sent.
    const probe = await node
      .run(process.execPath, [
        "-e",
        'require("net").connect(80, "192.0.2.1").on("error", (e) => { console.log(e.code); process.exit(0); }).on("connect", () => console.log("connected"))',
      ])
      .then((r) => r.stdout.trim());
    expect(probe).toBe("ENETUNREACH");
    // The namespace's addresses are not on the host.
    const hostInterfaces = await readdir("/sys/class/net");
    expect(hostInterfaces).not.toContain("node0");
    expect(hostInterfaces).not.toContain("cni0");
    expect(await readlink("/proc/self/ns/net")).not.toBe(node.namespaceIds.net);
  });

  it(
    "runs 2 replicas of the node runtime image that answer through a Service, the forwarder and each pod IP",
    async () => {
      const node = realNode();
      const t0 = performance.now();
      await createDeployment("runtime", 2, runtimeContainer(runtimeNodeImage.reference, 8888));
      // The first pod's way from created to Running to its first answer on the host.
      const first = await pollUntil(
        "a Running pod with an IP",
        async () => {
          const list = await started().core.listNamespacedPod({
            namespace,
            labelSelector: "app=runtime",
          });
          return list.items.find((p) => p.status?.phase === "Running" && p.status.podIP);
        },
        { timeoutMs: STEP_TIMEOUT_MS, maxIntervalMs: 50 },
      );
      const tRunning = performance.now();
      await firstOk(await node.expose(first.status?.podIP ?? "", 8888), "/healthz");
      const tFirst200 = performance.now();
      const pods = await readyPods("app=runtime", 2);
      const tReady = performance.now();
      for (const pod of pods) {
        expect(pod.spec?.nodeName).toBe(NODE_NAME);
        const ip = pod.status?.podIP ?? "";
        expect(ip).toMatch(/^10\.88\./);
        const answer = await firstOk(await node.expose(ip, 8888), "/healthz");
        expect(JSON.parse(answer.body)).toEqual({ status: "ok", specialized: false });
      }
      const service = await node.expose(await clusterIpOf("runtime"), 80);
      const answer = await firstOk(service, "/healthz");
      const tService = performance.now();
      expect(answer.status).toBe(200);
      console.log(
        `pod create → Running ${seconds(tRunning - t0)} → first 200 on the host ${seconds(tFirst200 - t0)}; ` +
          `Deployment of 2: → 2 Ready ${seconds(tReady - t0)}, → Service answers on the host ${seconds(tService - t0)}`,
      );
      // Really running under runc: containerd on the node lists both containers as running.
      const containers = await node.crictl([
        "ps",
        "--state",
        "Running",
        "--label",
        `io.kubernetes.pod.namespace=${namespace}`,
        "-q",
      ]);
      expect(containers.trim().split("\n")).toHaveLength(2);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "scales that Deployment to 4 Ready pods and back to 2",
    async () => {
      const { cluster } = started();
      const t0 = performance.now();
      await cluster.kubectl(["-n", namespace, "scale", "deployment/runtime", "--replicas=4"]);
      await readyPods("app=runtime", 4);
      const t1 = performance.now();
      await cluster.kubectl(["-n", namespace, "scale", "deployment/runtime", "--replicas=2"]);
      await readyPods("app=runtime", 2);
      console.log(
        `scale 2 → 4 Ready ${seconds(t1 - t0)}, 4 → 2 ${seconds(performance.now() - t1)}`,
      );
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "serves kubectl exec, logs and port-forward for a pod specialized with a function",
    async () => {
      const { cluster } = started();
      const [pod] = await readyPods("app=runtime", 2);
      const name = pod?.metadata?.name ?? "";
      // exec: the container runs as the image's unprivileged user, in its own hostname.
      const identity = await nodeInPod(
        name,
        'console.log(JSON.stringify({ uid: process.getuid(), host: require("os").hostname() }))',
      );
      expect(JSON.parse(identity)).toEqual({ uid: 10001, host: name });

      // A function written into the pod, then loaded through the runtime protocol.
      const source =
        'import { hostname } from "node:os"; console.log("loaded on " + hostname()); export default async function (event) { console.log("called with", event.path); return { pod: hostname() }; }';
      await nodeInPod(
        name,
        `require("fs").mkdirSync("/tmp/fn"); require("fs").writeFileSync("/tmp/fn/index.mjs", ${JSON.stringify(source)})`,
      );

      // port-forward from the host, through the apiserver and the kubelet.
      const forward = spawn(
        cluster.binaries.kubectl,
        [
          `--kubeconfig=${cluster.kubeconfigPath}`,
          "-n",
          namespace,
          "port-forward",
          `pod/${name}`,
          "0:8888",
        ],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      try {
        const localPort = await new Promise<number>((resolve, reject) => {
          let seen = "";
          forward.stdout.setEncoding("utf8").on("data", (chunk: string) => {
            seen += chunk;
            const match = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(seen);
            if (match?.[1] !== undefined) {
              resolve(Number(match[1]));
            }
          });
          forward.on("exit", (code) =>
            reject(new Error(`kubectl port-forward exited ${String(code)}: ${seen}`)),
          );
        });
        const specialized = await postJson(localPort, "/v2/specialize", {
          name: "hello",
          revision: "1",
          packagePath: "/tmp/fn",
          handler: "index.mjs",
          env: {},
          timeoutMs: 10_000,
          concurrency: 1,
        });
        expect(specialized.status, specialized.body).toBe(200);
        const called = await new Promise<HttpAnswer>((resolve, reject) => {
          const req = request(
            {
              host: "127.0.0.1",
              port: localPort,
              path: "/greet",
              headers: { "x-call-id": "call-1" },
            },
            (res) => {
              let body = "";
              res.setEncoding("utf8").on("data", (c: string) => (body += c));
              res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
            },
          );
          req.on("error", reject).end();
        });
        expect(called.status).toBe(200);
        expect(JSON.parse(called.body)).toEqual({ pod: name });
        // A call's own output is on the runtime's log stream (a pod has no control pipe).
        const line = await firstLogLine(localPort);
        expect(line).toMatchObject({
          stream: "stdout",
          callId: "call-1",
          text: "called with /greet",
        });
      } finally {
        forward.kill();
      }
      // logs: what the function printed outside any call (while it loaded) is the container's
      // output, which the kubelet keeps.
      const logs = await pollUntil(
        "the function's load-time line in kubectl logs",
        async () => {
          const text = await cluster.kubectl(["-n", namespace, "logs", name]);
          return text.includes(`loaded on ${name}`) ? text : undefined;
        },
        { timeoutMs: STEP_TIMEOUT_MS },
      );
      expect(logs).toContain(`loaded on ${name}`);
    },
    TEST_TIMEOUT_MS,
  );

  it("resolves a Service's name through the cluster DNS from inside a pod", async () => {
    const [pod] = await readyPods("app=runtime", 2);
    const fqdn = `runtime.${namespace}.svc.cluster.local`;
    const script = `require("dns").lookup(${JSON.stringify(fqdn)}, (e, a) => { if (e) { console.log("error " + e.code); return; } require("http").get("http://" + a + "/healthz", (r) => { console.log(a + " " + r.statusCode); r.resume(); }); })`;
    const out = await nodeInPod(pod?.metadata?.name ?? "", script);
    expect(out.trim()).toBe(`${await clusterIpOf("runtime")} 200`);
    // The short name works too, through the search path the kubelet wrote.
    const short = await nodeInPod(
      pod?.metadata?.name ?? "",
      'require("dns").lookup("runtime", (e, a) => console.log(e ? "error " + e.code : a))',
    );
    expect(short.trim()).toBe(await clusterIpOf("runtime"));
  });

  it("keeps a pod out of the kubelet's API, which only the apiserver's certificate opens", async () => {
    const [pod] = await readyPods("app=runtime", 2);
    // From inside a pod the node address is reachable; asking the kubelet for every pod on
    // the node (or to exec into one) must be refused.
    const script = `require("https").get({ host: ${JSON.stringify(NODE_ADDRESS)}, port: 10250, path: "/pods", rejectUnauthorized: false }, (r) => { console.log(r.statusCode); r.resume(); }).on("error", (e) => console.log(e.code))`;
    const out = await nodeInPod(pod?.metadata?.name ?? "", script);
    expect(out.trim()).toBe("401");
  });

  it(
    "runs the python and exec runtime images and the platform image",
    async () => {
      const node = realNode();
      await createDeployment("python", 1, runtimeContainer(runtimePythonImage.reference, 8888));
      await createDeployment("exec", 1, runtimeContainer(runtimeExecImage.reference, 8888));
      await createDeployment(
        "platform",
        1,
        runtimeContainer(platformImage.reference, 8080, {
          resources: { limits: { memory: "512Mi" } },
        }),
      );
      for (const name of ["python", "exec", "platform"]) {
        await readyPods(`app=${name}`, 1);
        const answer = await firstOk(await node.expose(await clusterIpOf(name), 80), "/healthz");
        expect(answer.status).toBe(200);
      }
      const python = await firstOk(await node.expose(await clusterIpOf("python"), 80), "/healthz");
      expect(JSON.parse(python.body)).toMatchObject({ status: "ok", specialized: false });
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "OOM-kills a pod over its memory limit and reports it as OOMKilled",
    async () => {
      const { core } = started();
      const name = "hungry";
      await core.createNamespacedPod({
        namespace,
        body: {
          metadata: { name },
          spec: {
            restartPolicy: "Never",
            nodeSelector: { "kubernetes.io/hostname": NODE_NAME },
            containers: [
              {
                name: "hungry",
                image: runtimeNodeImage.reference,
                imagePullPolicy: "IfNotPresent",
                // Buffers live outside the JS heap, so only the cgroup's limit stops this.
                command: [
                  "node",
                  "-e",
                  "const kept = []; setInterval(() => kept.push(Buffer.alloc(16 << 20, 1)), 20);",
                ],
                resources: { limits: { memory: "96Mi" } },
              },
            ],
          },
        },
      });
      const terminated = await pollUntil(
        "the pod's container to be terminated",
        async () => {
          const pod = await core.readNamespacedPod({ name, namespace });
          return pod.status?.containerStatuses?.[0]?.state?.terminated;
        },
        { timeoutMs: STEP_TIMEOUT_MS },
      );
      expect(terminated.reason).toBe("OOMKilled");
      expect(terminated.exitCode).toBe(137);
      // The pod as a whole is reported failed once the kubelet has synced its status.
      const phase = await pollUntil(
        "the pod's phase Failed",
        async () => {
          const pod = await core.readNamespacedPod({ name, namespace });
          return pod.status?.phase === "Running" ? undefined : pod.status?.phase;
        },
        { timeoutMs: STEP_TIMEOUT_MS },
      );
      expect(phase).toBe("Failed");
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "removes a Deployment's pods and their containers when it is deleted",
    async () => {
      const { apps, core } = started();
      const node = realNode();
      const names = (await readyPods("app=runtime", 2)).map((p) => p.metadata?.name ?? "");
      for (const name of names) {
        const running = await node.crictl([
          "ps",
          "-q",
          "--label",
          `io.kubernetes.pod.name=${name}`,
        ]);
        expect(running.trim(), `containers of ${name}`).not.toBe("");
      }
      await apps.deleteNamespacedDeployment({
        name: "runtime",
        namespace,
        propagationPolicy: "Foreground",
      });
      await pollUntil(
        "the Deployment's pods to be gone",
        async () => {
          const pods = await core.listNamespacedPod({ namespace, labelSelector: "app=runtime" });
          return pods.items.length === 0 ? true : undefined;
        },
        { timeoutMs: STEP_TIMEOUT_MS },
      );
      // On the node their containers are gone and no sandbox of theirs is still running.
      const left = await node.crictl(["pods", "-q", "--state", "Ready", "--label", "app=runtime"]);
      expect(left.trim()).toBe("");
      for (const name of names) {
        const running = await node.crictl([
          "ps",
          "-q",
          "--label",
          `io.kubernetes.pod.name=${name}`,
        ]);
        expect(running.trim(), `containers of ${name}`).toBe("");
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "stops, leaving no process, mount, network device, cgroup or run dir behind, and the host's sysctls as they were",
    async () => {
      const { cluster } = started();
      const node = realNode();
      const dir = cluster.dir;
      await cluster.stop();
      const processes: string[] = [];
      for (const pid of (await readdir("/proc")).filter((p) => /^\d+$/.test(p))) {
        const [net, cmdline] = await Promise.all([
          readlink(`/proc/${pid}/ns/net`).catch(() => ""),
          readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => ""),
        ]);
        if (net === node.namespaceIds.net || cmdline.includes(dir)) {
          processes.push(`${pid} ${cmdline.replaceAll("\0", " ")}`);
        }
      }
      expect(processes).toEqual([]);
      expect(await readFile("/proc/self/mountinfo", "utf8")).not.toContain(dir);
      const cgroupDirs = (await readdir("/sys/fs/cgroup")).filter((h) =>
        existsSync(`/sys/fs/cgroup/${h}${node.cgroupRoot}`),
      );
      expect(cgroupDirs).toEqual([]);
      expect(existsSync(dir)).toBe(false);
      expect(readSysctls()).toBe(sysctlsBefore);
    },
    TEST_TIMEOUT_MS,
  );
});

/** The first line of the runtime's log stream (`GET /v2/logs`, NDJSON), then hangs up. */
function firstLogLine(port: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: "/v2/logs", timeout: 10_000 }, (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (chunk: string) => {
        text += chunk;
        const end = text.indexOf("\n");
        if (end >= 0) {
          req.destroy();
          resolve(JSON.parse(text.slice(0, end)));
        }
      });
    });
    req.on("timeout", () => req.destroy(new Error("GET /v2/logs: no line within 10 s")));
    req.on("error", reject).end();
  });
}

async function postJson(port: number, path: string, body: unknown): Promise<HttpAnswer> {
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path,
        method: "POST",
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(data) },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8").on("data", (c: string) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on("error", reject).end(data);
  });
}
