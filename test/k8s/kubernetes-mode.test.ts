// Kubernetes mode end to end on the real node (issue 16): Runlet installed from its chart, the
// unchanged `runlet` CLI against the gateway Service; functions become Function resources, run
// in pool pods the gateway pods specialize, and answer through the gateway pods.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packDirectory } from "../../src/packaging/pack.js";
import { runCli, type CliResult } from "../helpers/cli.js";
import { pollUntil } from "./cluster/wait.js";
import {
  FUNCTION_NAMESPACE,
  installRunletInCluster,
  SYSTEM_NAMESPACE,
  type RunletInCluster,
} from "./cluster/runlet-install.js";

// Cold builds of the control plane, the node, helm and nats-server take many minutes.
const BUILD_AND_START_TIMEOUT_MS = 75 * 60_000;
const STEP_TIMEOUT_MS = 180_000;

let runlet: RunletInCluster | undefined;
let cwd = "";

beforeAll(async () => {
  cwd = await mkdtemp(join(tmpdir(), "runlet-k8s-mode-"));
  runlet = await installRunletInCluster({
    startTimeoutMs: STEP_TIMEOUT_MS,
    values: ["gateway.callLease=5s"],
  });
}, BUILD_AND_START_TIMEOUT_MS);

afterAll(async () => {
  await runlet?.stop();
  await rm(cwd, { recursive: true, force: true });
}, STEP_TIMEOUT_MS);

function installed(): RunletInCluster {
  if (!runlet) {
    throw new Error("Runlet was not installed (see the beforeAll error)");
  }
  return runlet;
}

/** The `runlet` CLI, as a user runs it against the in-cluster gateway. */
function cli(args: readonly string[], stdin?: string): Promise<CliResult> {
  const { gatewayUrl, adminToken } = installed();
  return runCli(args, {
    cwd,
    stdin,
    env: { RUNLET_GATEWAY: gatewayUrl, RUNLET_TOKEN: adminToken },
  });
}

async function ok(args: readonly string[], stdin?: string): Promise<string> {
  const result = await cli(args, stdin);
  expect(result.code, `runlet ${args.join(" ")}:\n${result.stdout}\n${result.stderr}`).toBe(0);
  return result.stdout;
}

/**
 * Writes a function's folder with its own runlet.yaml (`spec`: the lines under its name) and
 * deploys it from that file.
 */
async function deployFunction(
  name: string,
  files: Record<string, string>,
  spec: readonly string[],
): Promise<string> {
  const dir = join(cwd, "functions", name);
  await mkdir(dir, { recursive: true });
  for (const [file, content] of Object.entries(files)) {
    await writeFile(join(dir, file), content);
  }
  const stack = ["version: 1", "functions:", `  ${name}:`, ...spec.map((l) => `    ${l}`)];
  await writeFile(join(dir, "runlet.yaml"), `${stack.join("\n")}\n`);
  return ok(["deploy", "-f", join(dir, "runlet.yaml")]);
}

/** A call through the gateway Service, as any HTTP client makes it. */
async function call(
  path: string,
  init: RequestInit = {},
): Promise<{ status: number; body: string }> {
  const response = await fetch(`${installed().gatewayUrl}${path}`, init);
  return { status: response.status, body: await response.text() };
}

/** Names of the pods running `fn`, from the API server. */
async function podsOf(fn: string): Promise<string[]> {
  const out = await installed().kubectl([
    "-n",
    SYSTEM_NAMESPACE,
    "get",
    "pods",
    "-l",
    `runlet.dev/function=${fn}`,
    "-o",
    "jsonpath={.items[*].metadata.name}",
  ]);
  return out.split(" ").filter((name) => name !== "");
}

/** Every answer of `rounds` calls is `expected` (both gateway replicas serve it). */
async function converges(path: string, expected: string, rounds = 8): Promise<void> {
  await pollUntil(
    `every answer of ${path} to be ${expected}`,
    async () => {
      for (let i = 0; i < rounds; i += 1) {
        const answer = await call(path);
        if (answer.status !== 200 || answer.body !== expected) {
          return undefined;
        }
      }
      return true;
    },
    { timeoutMs: STEP_TIMEOUT_MS },
  );
}

describe("Kubernetes mode on the real node", () => {
  it(
    "deploys a Node and a Python function with the CLI and answers through the gateway pods",
    async () => {
      await ok(["new", "hello", "--runtime", "node"]);
      await ok(["new", "greet", "--runtime", "python"]);
      const deployed = await ok(["deploy"]);
      expect(deployed).toMatch(/hello deployed \(revision 1\)/);
      expect(deployed).toMatch(/greet deployed \(revision 1\)/);
      expect(await ok(["invoke", "hello", "--query", "name=Ada"])).toBe(
        '{"message":"Hello, Ada!"}',
      );
      expect(await ok(["invoke", "greet", "--query", "name=Ada"])).toContain("Ada");
      // The function's console output, from its pod, in `runlet logs` on any replica.
      for (let i = 0; i < 4; i += 1) {
        await pollUntil(
          "hello's greeting in its logs",
          async () => ((await ok(["logs", "hello"])).includes("greeting Ada") ? true : undefined),
          { timeoutMs: 30_000 },
        );
      }
      // The functions are objects on the API server, and their pods run in the system namespace.
      const { kubectl } = installed();
      const functions = await kubectl([
        "-n",
        FUNCTION_NAMESPACE,
        "get",
        "functions.runlet.dev",
        "-o",
        "jsonpath={.items[*].metadata.name}",
      ]);
      expect(functions.split(" ").sort()).toEqual(["greet", "hello"]);
      const pods = await kubectl([
        "-n",
        SYSTEM_NAMESPACE,
        "get",
        "pods",
        "-l",
        "runlet.dev/function=hello",
        "-o",
        "jsonpath={.items[*].status.phase}",
      ]);
      expect(pods).toContain("Running");
      // An HTTP trigger made with the CLI is a Trigger object both gateways route.
      await ok(["trigger", "create", "hello-route", "--function", "hello", "--http", "GET /hi"]);
      await converges("/hi?name=Bo", '{"message":"Hello, Bo!"}');
      expect(await ok(["trigger", "list"])).toContain("hello-route");
    },
    STEP_TIMEOUT_MS,
  );

  it(
    "scales a function to zero, and a 200-call burst at zero gets 200 answers and no 5xx",
    async () => {
      await deployFunction(
        "burst",
        {
          "index.js":
            "export default async () => { await new Promise((r) => setTimeout(r, 50)); return 'ok'; };",
        },
        [
          "runtime: node",
          "source: .",
          "handler: index.js",
          "scale: { idleTimeout: 3s, window: 6s }",
        ],
      );
      expect((await call("/function/burst")).body).toBe("ok");
      await pollUntil(
        "burst's pods to be gone (scaled to zero)",
        async () => ((await podsOf("burst")).length === 0 ? true : undefined),
        { timeoutMs: STEP_TIMEOUT_MS },
      );
      const answers = await Promise.all(Array.from({ length: 200 }, () => call("/function/burst")));
      const statuses = new Map<number, number>();
      for (const { status } of answers) {
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
      expect(Object.fromEntries(statuses)).toEqual({ 200: 200 });
      expect(answers.every(({ body }) => body === "ok")).toBe(true);
    },
    STEP_TIMEOUT_MS,
  );

  it(
    "names a crash and an OOM kill in the caller's 502, then serves again from a new pod",
    async () => {
      await deployFunction(
        "fragile",
        {
          "index.js": [
            "const kept = [];",
            "export default async function (event) {",
            "  if (event.query.crash) { setTimeout(() => process.exit(3), 10); await new Promise(() => {}); }",
            "  if (event.query.hog) { for (;;) { kept.push(Buffer.alloc(16 << 20, 1)); await new Promise((r) => setTimeout(r, 5)); } }",
            "  return 'alive';",
            "}",
          ].join("\n"),
        },
        ["runtime: node", "source: .", "handler: index.js", "memory: 128Mi"],
      );
      const crashed = await call("/function/fragile?crash=1");
      expect(crashed.status).toBe(502);
      expect(JSON.parse(crashed.body)).toMatchObject({
        error: { message: expect.stringContaining("exited with code 3") },
      });
      expect((await call("/function/fragile")).body).toBe("alive");
      const hogged = await call("/function/fragile?hog=1");
      expect(hogged.status).toBe(502);
      expect(JSON.parse(hogged.body)).toMatchObject({
        error: { message: expect.stringMatching(/out of memory|memory limit/) },
      });
      expect((await call("/function/fragile")).body).toBe("alive");
      // Every gateway replica tells both exits in the function's logs, whichever ran them.
      for (let i = 0; i < 4; i += 1) {
        const logs = await pollUntil(
          "both exits in the logs",
          async () => {
            const out = await ok(["logs", "fragile"]);
            return /exited with code 3/.test(out) && /out of memory|memory limit/.test(out)
              ? out
              : undefined;
          },
          { timeoutMs: 30_000 },
        );
        expect(logs).toMatch(/instance k8s-\w+ exited with code 3/);
        // `describe` shows every gateway's instances, the one that saw the OOM kill included.
        const described = await ok(["describe", "fragile"]);
        expect(described).toMatch(/last exit:\s+instance k8s-\w+ exceeded memory limit 128Mi/);
      }
    },
    STEP_TIMEOUT_MS,
  );

  it(
    "rolls a function back on every gateway replica, and gives it its secrets",
    async () => {
      await ok(["secret", "create", "api-key", "--from-literal", "s3cr3t"]);
      const source = (version: string): Record<string, string> => ({
        "index.js": `export default async (event, context) => '${version} ' + (await context.secret('api-key'));`,
      });
      const spec = ["runtime: node", "source: .", "handler: index.js", "secrets: [api-key]"];
      await deployFunction("versioned", source("v1"), spec);
      await converges("/function/versioned", "v1 s3cr3t");
      await deployFunction("versioned", source("v2"), spec);
      await converges("/function/versioned", "v2 s3cr3t");
      expect(await ok(["rollback", "versioned"])).toMatch(/revision 1/);
      await converges("/function/versioned", "v1 s3cr3t");
    },
    STEP_TIMEOUT_MS,
  );

  it(
    "keeps an accepted async call when the gateway pod running it is killed, and its function pods go with it",
    async () => {
      const { kubectl } = installed();
      await deployFunction(
        "slow",
        {
          "index.js":
            "export default async (event) => { await new Promise((r) => setTimeout(r, 6000)); return 'done ' + event.body; };",
        },
        [
          "runtime: node",
          "source: .",
          "handler: index.js",
          "timeout: 60s",
          "scale: { idleTimeout: 3s, window: 6s }",
        ],
      );
      await pollUntil(
        "slow's pods to be gone (scaled to zero)",
        async () => ((await podsOf("slow")).length === 0 ? true : undefined),
        { timeoutMs: STEP_TIMEOUT_MS },
      );
      const accepted = await fetch(`${installed().gatewayUrl}/async-function/slow`, {
        method: "POST",
        body: "job-1",
        headers: { "content-type": "text/plain" },
      });
      expect(accepted.status).toBe(202);
      const id = accepted.headers.get("x-call-id") ?? "";
      // The one pod started for the call is owned by the gateway pod running it.
      const pod = await pollUntil(
        "the pod started for the call",
        async () => (await podsOf("slow"))[0],
        { timeoutMs: STEP_TIMEOUT_MS },
      );
      const owner = await kubectl([
        "-n",
        SYSTEM_NAMESPACE,
        "get",
        "pod",
        pod,
        "-o",
        "jsonpath={.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}",
      ]);
      expect(owner).toMatch(/^Pod\/runlet-gateway-/);
      const gatewayPod = owner.slice("Pod/".length);
      await kubectl([
        "-n",
        SYSTEM_NAMESPACE,
        "delete",
        "pod",
        gatewayPod,
        "--grace-period=0",
        "--force",
        "--wait=false",
      ]);
      // The garbage collector removes the function pod only the killed gateway could reach.
      await pollUntil(
        `pod ${pod} to go with its gateway`,
        async () => ((await podsOf("slow")).includes(pod) ? undefined : true),
        { timeoutMs: STEP_TIMEOUT_MS },
      );
      // Another replica takes the call once its lease (5 s here) runs out, and runs it again.
      const done = await pollUntil(
        `call ${id} to succeed`,
        async () => {
          const answer = await call(`/api/v1/calls/${id}`, {
            headers: { authorization: `Bearer ${installed().adminToken}` },
          });
          if (answer.status !== 200) {
            return undefined;
          }
          const record = JSON.parse(answer.body) as {
            state: string;
            attempts: number;
            result?: { body: string };
          };
          return record.state === "succeeded" ? record : undefined;
        },
        { timeoutMs: STEP_TIMEOUT_MS, maxIntervalMs: 1000 },
      );
      expect(done.result?.body).toBe("done job-1");
      expect(done.attempts).toBeGreaterThanOrEqual(2);
    },
    STEP_TIMEOUT_MS,
  );

  it(
    "fails the operator over to its other replica, which deploys a Kubeless Function applied with kubectl",
    async () => {
      const { kubectl } = installed();
      const holder = (): Promise<string> =>
        kubectl([
          "-n",
          SYSTEM_NAMESPACE,
          "get",
          "lease",
          "runlet-operator",
          "-o",
          "jsonpath={.spec.holderIdentity}",
        ]);
      const leader = await pollUntil(
        "an operator leader",
        async () => (await holder()) || undefined,
        {
          timeoutMs: STEP_TIMEOUT_MS,
        },
      );
      expect(leader).toMatch(/^runlet-operator-/);
      await kubectl([
        "-n",
        SYSTEM_NAMESPACE,
        "delete",
        "pod",
        leader,
        "--grace-period=0",
        "--force",
        "--wait=false",
      ]);
      const next = await pollUntil(
        "another operator replica to take the Lease",
        async () => {
          const now = await holder();
          return now !== "" && now !== leader ? now : undefined;
        },
        { timeoutMs: STEP_TIMEOUT_MS, maxIntervalMs: 500 },
      );
      expect(next).toMatch(/^runlet-operator-/);
      await kubectl(
        ["apply", "-f", "-"],
        JSON.stringify({
          apiVersion: "kubeless.io/v1beta1",
          kind: "Function",
          metadata: { name: "kl-hello", namespace: FUNCTION_NAMESPACE },
          spec: {
            runtime: "nodejs14",
            handler: "hello.foo",
            function: "module.exports = { foo: (event) => 'hello ' + event.data };\n",
            "function-content-type": "text",
          },
        }),
      );
      await pollUntil(
        "the Kubeless Function to answer",
        async () => {
          const answer = await call("/function/kl-hello", { method: "POST", body: "world" });
          return answer.status === 200 ? answer.body : undefined;
        },
        { timeoutMs: STEP_TIMEOUT_MS, maxIntervalMs: 1000 },
      );
      const answer = await call("/function/kl-hello", { method: "POST", body: "world" });
      expect(answer).toEqual({ status: 200, body: "hello world" });
    },
    STEP_TIMEOUT_MS,
  );

  it(
    "deploys an OpenFaaS Function applied with kubectl whose image is an uploaded package",
    async () => {
      const { kubectl } = installed();
      const dir = join(cwd, "functions", "of-hello");
      await mkdir(dir, { recursive: true });
      await writeFile(
        join(dir, "handler.js"),
        "module.exports = async (event, context) => context.status(200).succeed('openfaas ' + event.body);\n",
      );
      const packed = await packDirectory(dir);
      const uploaded = await fetch(`${installed().gatewayUrl}/api/v1/packages`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${installed().adminToken}`,
          "content-type": "application/gzip",
        },
        body: packed.archive,
      });
      expect(uploaded.status).toBeLessThan(300);
      await kubectl(
        ["apply", "-f", "-"],
        JSON.stringify({
          apiVersion: "openfaas.com/v1",
          kind: "Function",
          metadata: { name: "of-hello", namespace: FUNCTION_NAMESPACE },
          spec: {
            name: "of-hello",
            image: packed.digest,
            labels: { "com.openfaas.scale.min": "1" },
            annotations: { "com.openfaas.lang": "node20" },
          },
        }),
      );
      const answer = await pollUntil(
        "the OpenFaaS Function to answer",
        async () => {
          const got = await call("/function/of-hello", { method: "POST", body: "hi" });
          return got.status === 200 ? got : undefined;
        },
        { timeoutMs: STEP_TIMEOUT_MS, maxIntervalMs: 1000 },
      );
      expect(answer.body).toBe("openfaas hi");
    },
    STEP_TIMEOUT_MS,
  );

  it(
    "serves a runlet Function applied with kubectl, and the HTTP route its spec declares, through every gateway",
    async () => {
      const { kubectl } = installed();
      const dir = join(cwd, "functions", "applied");
      await mkdir(dir, { recursive: true });
      await writeFile(
        join(dir, "index.js"),
        "export default async (event) => 'applied ' + (event.params?.who ?? event.path);\n",
      );
      const packed = await packDirectory(dir);
      const uploaded = await fetch(`${installed().gatewayUrl}/api/v1/packages`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${installed().adminToken}`,
          "content-type": "application/gzip",
        },
        body: packed.archive,
      });
      expect(uploaded.status).toBeLessThan(300);
      await kubectl(
        ["apply", "-f", "-"],
        JSON.stringify({
          apiVersion: "runlet.dev/v1alpha1",
          kind: "Function",
          metadata: { name: "applied", namespace: FUNCTION_NAMESPACE },
          spec: {
            runtime: "node",
            handler: "index.js",
            package: packed.digest,
            triggers: [{ http: "GET /applied/{who}" }],
          },
        }),
      );
      // The route is one table on the gateways' root: every answer behind the Service has it.
      await converges("/applied/ada", "applied ada");
      expect(await ok(["trigger", "list"])).toMatch(/applied\.http-1/);
    },
    STEP_TIMEOUT_MS,
  );

  it(
    "fires a cron trigger once per slot although both gateway replicas schedule it",
    async () => {
      await deployFunction("ticker", { "index.js": "export default async () => 'tick';" }, [
        "runtime: node",
        "source: .",
        "handler: index.js",
        "scale: { min: 1 }",
        'triggers: [{ cron: "@every 2s" }]',
      ]);
      const calls = await pollUntil(
        "five cron firings",
        async () => {
          const answer = await call("/api/v1/calls?function=ticker&limit=100", {
            headers: { authorization: `Bearer ${installed().adminToken}` },
          });
          const listed = JSON.parse(answer.body) as { id: string }[];
          return listed.length >= 5 ? listed : undefined;
        },
        { timeoutMs: STEP_TIMEOUT_MS, maxIntervalMs: 1000 },
      );
      expect(await ok(["calls", "ticker"])).toMatch(/cron-\S+-\d{13}/);
      const slots = calls.map(({ id }) => Number(/^cron-.+-(\d+)$/.exec(id)?.[1]));
      // One call per slot, slots 2 s apart on the grid.
      expect(new Set(slots).size).toBe(slots.length);
      expect(slots.every((slot) => slot % 2000 === 0)).toBe(true);
    },
    STEP_TIMEOUT_MS,
  );

  it(
    "counts a function's pods wherever they run: status.replicas and every gateway's list agree with the pods",
    async () => {
      await deployFunction("counted", { "index.js": "export default async () => 'counted';" }, [
        "runtime: node",
        "source: .",
        "handler: index.js",
        "scale: { min: 2 }",
      ]);
      const readyPods = async (): Promise<number> => {
        const out = await installed().kubectl([
          ...["-n", SYSTEM_NAMESPACE, "get", "pods", "-l", "runlet.dev/function=counted"],
          ...[
            "-o",
            'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{" "}{end}',
          ],
        ]);
        return out.split(" ").filter((s) => s === "True").length;
      };
      const statusReplicas = async (): Promise<number | undefined> => {
        const out = await installed().kubectl([
          ...["-n", FUNCTION_NAMESPACE, "get", "functions.runlet.dev", "counted"],
          ...["-o", "jsonpath={.status.replicas}"],
        ]);
        return out === "" ? undefined : Number(out);
      };
      const listed = async (): Promise<number[]> => {
        const counts: number[] = [];
        for (let i = 0; i < 8; i += 1) {
          const answer = await call("/system/function/counted", {
            headers: { authorization: `Bearer ${installed().adminToken}` },
          });
          expect(answer.status, answer.body).toBe(200);
          counts.push((JSON.parse(answer.body) as { availableReplicas: number }).availableReplicas);
        }
        return counts;
      };
      // Settled: the pods, the Function's status and both gateways' answers say one number.
      const seen = await pollUntil(
        "status.replicas and every gateway's count to equal the function's Ready pods",
        async () => {
          const pods = await readyPods();
          const [status, counts] = [await statusReplicas(), await listed()];
          return pods >= 2 && status === pods && counts.every((c) => c === pods)
            ? { pods, status, counts }
            : undefined;
        },
        { timeoutMs: STEP_TIMEOUT_MS, maxIntervalMs: 2000 },
      );
      expect(seen.pods).toBeGreaterThanOrEqual(2);
    },
    STEP_TIMEOUT_MS,
  );

  it(
    "keeps a function's code out of NATS, the gateway API and the API server, on a cluster that enforces no NetworkPolicy",
    async () => {
      // What a hostile function tries from its pod: the NATS protocol by hand (subscribe to every
      // function's logs, ask JetStream for its streams, publish a fake call), the gateway's API
      // port without a token, and the API server with whatever credentials the pod carries.
      const probe = [
        'import { connect } from "node:net";',
        'import { readFileSync } from "node:fs";',
        'import { request } from "node:https";',
        "function nats(lines) {",
        "  return new Promise((resolve) => {",
        '    let got = ""; let sent = false;',
        '    const socket = connect(4222, "runlet-nats.runlet-system.svc");',
        "    const done = () => { socket.destroy(); resolve(got); };",
        "    socket.setTimeout(5000, done);",
        "    socket.on('data', (d) => { got += d; if (!sent) { sent = true; socket.write(lines); } });",
        "    socket.on('error', (e) => { got += 'SOCKET ' + e.code; done(); });",
        "    socket.on('close', done);",
        "  });",
        "}",
        "function apiServer(token) {",
        "  return new Promise((resolve) => {",
        "    const headers = token ? { authorization: 'Bearer ' + token } : {};",
        "    const req = request({ host: 'kubernetes.default.svc', port: 443, path: '/api/v1/namespaces/runlet-system/secrets', headers, rejectUnauthorized: false, timeout: 5000 }, (res) => { res.resume(); resolve(res.statusCode); });",
        "    req.on('timeout', () => req.destroy(new Error('timeout')));",
        "    req.on('error', (e) => resolve('unreachable ' + (e.code ?? e.message)));",
        "    req.end();",
        "  });",
        "}",
        "export default async function () {",
        '  const natsSaid = await nats(\'CONNECT {"verbose":false,"pedantic":false}\\r\\nSUB runlet_logs.* 1\\r\\nSUB _INBOX.probe 2\\r\\nPUB $JS.API.STREAM.NAMES _INBOX.probe 0\\r\\n\\r\\nPUB runlet.calls.run.victim 4\\r\\nfake\\r\\nPING\\r\\n\');',
        "  const gateway = await fetch('http://runlet-gateway.runlet-system.svc:8080/api/v1/secrets').then((r) => r.status, (e) => 'unreachable ' + (e.cause?.code ?? e.message));",
        "  let token = '';",
        "  try { token = readFileSync('/var/run/secrets/kubernetes.io/serviceaccount/token', 'utf8'); } catch {}",
        "  return { natsSaid, gateway, serviceAccountToken: token !== '', apiServer: await apiServer(token) };",
        "}",
      ].join("\n");
      await deployFunction("prober", { "index.js": probe }, [
        "runtime: node",
        "source: .",
        "handler: index.js",
      ]);
      const answer = await call("/function/prober");
      expect(answer.status, answer.body).toBe(200);
      const seen = JSON.parse(answer.body) as {
        natsSaid: string;
        gateway: number | string;
        serviceAccountToken: boolean;
        apiServer: number | string;
      };
      // The server was reached (so the refusal below is the server's, not a network gap)...
      expect(seen.natsSaid).toMatch(/^INFO \{.*"auth_required":true/);
      // ...and it closed the connection on the unauthenticated CONNECT: no subscription, no
      // JetStream answer, no PONG.
      expect(seen.natsSaid).toMatch(/-ERR 'Authorization Violation'/);
      expect(seen.natsSaid).not.toMatch(/\r\nMSG |PONG/);
      expect(seen.gateway).toBe(401);
      expect(seen.serviceAccountToken).toBe(false);
      expect(seen.apiServer).not.toBe(200);
      // The fake call went nowhere: no call for a function named victim.
      const calls = await call("/api/v1/calls?function=victim", {
        headers: { authorization: `Bearer ${installed().adminToken}` },
      });
      expect(calls.status).toBe(200);
      expect(JSON.parse(calls.body)).toEqual([]);
    },
    STEP_TIMEOUT_MS,
  );

  it(
    "shares scoped tokens and the audit log between the gateway pods: a token made with the CLI works on each pod and on every call through the Service, a revoke is refused by each, and every pod's entries are listed and verify",
    async () => {
      const created = await ok(["token", "create", "ci-bot", "--role", "deployer"]);
      const token = /(rlt_[\w-]{43})/.exec(created)?.[1] ?? "";
      expect(token).not.toBe("");
      const gateways = (
        await installed().kubectl([
          ...["-n", SYSTEM_NAMESPACE, "get", "pods", "-l", "app.kubernetes.io/component=gateway"],
          ...["-o", "jsonpath={.items[*].metadata.name}"],
        ])
      )
        .split(" ")
        .filter((name) => name !== "");
      expect(gateways.length).toBe(2);
      // Asked inside each gateway pod, so the answer is that pod's and no other's.
      const inPod = async (pod: string, method: string, path: string): Promise<number> => {
        const script = [
          `fetch("http://127.0.0.1:8080${path}", { method: ${JSON.stringify(method)},`,
          `  headers: { authorization: ${JSON.stringify(`Bearer ${token}`)}, "content-type": "application/json" },`,
          `  body: ${method === "GET" ? "undefined" : JSON.stringify(JSON.stringify({ value: pod }))} })`,
          "  .then((r) => console.log(r.status), (e) => console.log(String(e)));",
        ].join("\n");
        const out = await installed().kubectl([
          ...["-n", SYSTEM_NAMESPACE, "exec", pod, "-c", "gateway", "--"],
          ...["node", "-e", script],
        ]);
        return Number(out.trim());
      };
      for (const pod of gateways) {
        await pollUntil(
          `gateway pod ${pod} to take the token`,
          async () => ((await inPod(pod, "GET", "/api/v1/functions")) === 200 ? true : undefined),
          { timeoutMs: 30_000 },
        );
        // A write on each pod: an entry in that pod's own chain.
        expect(await inPod(pod, "PUT", `/api/v1/secrets/from-${pod}`)).toBe(201);
      }
      for (let i = 0; i < 8; i += 1) {
        const answer = await call("/api/v1/functions", {
          headers: { authorization: `Bearer ${token}` },
        });
        expect(answer.status, answer.body).toBe(200);
      }
      const entries = JSON.parse(await ok(["audit", "--json"])) as {
        actor: string;
        object: string;
        chain: string;
      }[];
      for (const pod of gateways) {
        const entry = entries.find((e) => e.object === `secrets from-${pod}`);
        expect(entry?.actor).toBe("ci-bot");
        expect(entry?.chain.startsWith(`${pod}-`)).toBe(true);
      }
      expect(await ok(["audit", "--verify"])).toContain("✔ audit log intact:");
      const secrets = await installed().kubectl([
        ...["-n", FUNCTION_NAMESPACE, "get", "secrets", "-l", "runlet.dev/token=true"],
        ...["-o", "jsonpath={.items[*].metadata.name}"],
      ]);
      expect(secrets.split(" ")).toContain("runlet-token.ci-bot");

      expect(await ok(["token", "revoke", "ci-bot"])).toContain("✔ token ci-bot revoked");
      for (const pod of gateways) {
        await pollUntil(
          `gateway pod ${pod} to refuse the revoked token`,
          async () => ((await inPod(pod, "GET", "/api/v1/functions")) === 401 ? true : undefined),
          { timeoutMs: 30_000 },
        );
      }
      for (const pod of gateways) {
        await ok(["secret", "remove", `from-${pod}`]);
      }
    },
    STEP_TIMEOUT_MS,
  );
});
