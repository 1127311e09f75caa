// Starts a real Kubernetes control plane (etcd, kube-apiserver, controller-manager, scheduler) with kwok nodes for tests (issue 7).
import { execFile } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { appendFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import * as https from "node:https";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { ControlPlaneBinaries } from "./binaries.js";
import { Component, type ComponentOptions } from "./component.js";

const execFileAsync = promisify(execFile);
const KWOK_STAGES = fileURLToPath(new URL("./kwok-stages.yaml", import.meta.url));

export interface TestClusterOptions {
  readonly binaries: ControlPlaneBinaries;
  /**
   * How long each component may take to become ready. Generous: on a busy 2-core machine the
   * apiserver's first start (bootstrap RBAC, priority levels) is slow.
   * @default 180_000
   */
  readonly startTimeoutMs?: number;
  /**
   * Name of the simulated (kwok) node that is registered and waited for.
   * @default "kwok-node-0"
   */
  readonly nodeName?: string;
  /**
   * Keep the temp dir (data, logs, kubeconfig) after stop(), for debugging.
   * @default process.env.RUNLET_K8S_KEEP_DIR === "1"
   */
  readonly keepDir?: boolean;
}

export interface TestCluster {
  /** A kubeconfig (token auth, CA pinned) for kubectl and `@kubernetes/client-node`. */
  readonly kubeconfigPath: string;
  /** `https://127.0.0.1:<port>` */
  readonly server: string;
  /** Bearer token of a `system:masters` user. */
  readonly token: string;
  /** PEM bundle that verifies the apiserver's serving certificate. */
  readonly caPem: string;
  /** Temp dir holding etcd data, logs (`<component>.log`) and the kubeconfig. */
  readonly dir: string;
  readonly nodeName: string;
  readonly binaries: ControlPlaneBinaries;
  /** Runs kubectl against this cluster and returns its stdout. */
  kubectl(args: readonly string[]): Promise<string>;
  /**
   * Ends every component (process groups) and removes the temp dir. Rejects, after cleaning
   * up, when a component had crashed while the cluster was in use.
   */
  stop(): Promise<void>;
}

interface Resolved {
  readonly binaries: ControlPlaneBinaries;
  readonly startTimeoutMs: number;
  readonly nodeName: string;
  readonly keepDir: boolean;
}

function resolveOptions(options: TestClusterOptions): Resolved {
  return {
    binaries: options.binaries,
    startTimeoutMs: options.startTimeoutMs ?? 180_000,
    nodeName: options.nodeName ?? "kwok-node-0",
    keepDir: options.keepDir ?? process.env["RUNLET_K8S_KEEP_DIR"] === "1",
  };
}

/**
 * Starts etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok on 127.0.0.1,
 * registers one kwok node and returns once the node is Ready and the `default` ServiceAccount
 * exists (so pods can be created). On any failure everything started so far is stopped and the
 * error quotes the failing component's log.
 */
export async function startTestCluster(options: TestClusterOptions): Promise<TestCluster> {
  const opts = resolveOptions(options);
  const dir = await mkdtemp(path.join(os.tmpdir(), "runlet-k8s-"));
  const supervisor = new Supervisor(dir, opts.keepDir);
  try {
    return await boot(opts, dir, supervisor);
  } catch (error) {
    const detail = await supervisor.describeFailure();
    await supervisor.stopAll();
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(
      `test cluster did not start: ${message}${detail}` +
        (opts.keepDir
          ? `\n(files kept in ${dir})`
          : "\n(set RUNLET_K8S_KEEP_DIR=1 to keep the logs and data dir)"),
      { cause: error },
    );
  }
}

async function boot(opts: Resolved, dir: string, supervisor: Supervisor): Promise<TestCluster> {
  const bin = opts.binaries;
  const { etcdClientPort, etcdPeerPort, apiserverPort, kcmPort, schedulerPort } = await freePorts([
    "etcdClientPort",
    "etcdPeerPort",
    "apiserverPort",
    "kcmPort",
    "schedulerPort",
  ] as const);
  const token = randomBytes(24).toString("hex");
  const env = { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: dir };

  // Token auth: `token,user,uid,"groups"` (kube-apiserver --token-auth-file).
  const tokensFile = path.join(dir, "tokens.csv");
  await writeFile(tokensFile, `${token},runlet-test-admin,runlet-test-admin,"system:masters"\n`, {
    mode: 0o600,
  });
  // Service-account token signing key pair (the apiserver signs, verifies; the controller
  // manager signs the legacy token secrets).
  const { privateKey, publicKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    privateKeyEncoding: { type: "pkcs1", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
  const saKey = path.join(dir, "sa.key");
  const saPub = path.join(dir, "sa.pub");
  await writeFile(saKey, privateKey, { mode: 0o600 });
  await writeFile(saPub, publicKey);

  const etcdUrl = `http://127.0.0.1:${String(etcdClientPort)}`;
  const etcdPeerUrl = `http://127.0.0.1:${String(etcdPeerPort)}`;
  const etcd = await supervisor.start({
    name: "etcd",
    command: bin.etcd,
    args: [
      "--name=node0",
      `--data-dir=${path.join(dir, "etcd")}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${etcdPeerUrl}`,
      `--initial-advertise-peer-urls=${etcdPeerUrl}`,
      `--initial-cluster=node0=${etcdPeerUrl}`,
      "--initial-cluster-state=new",
      // Test data is thrown away: durability only costs time on a shared disk.
      "--unsafe-no-fsync",
      "--log-level=warn",
    ],
    env,
  });
  await supervisor.waitFor(etcd, "etcd /health", opts.startTimeoutMs, async () => {
    const res = await httpGet(`${etcdUrl}/health`, {});
    return res.status === 200 && res.body.includes('"true"') ? true : undefined;
  });

  const certDir = path.join(dir, "pki");
  const server = `https://127.0.0.1:${String(apiserverPort)}`;
  const apiserver = await supervisor.start({
    name: "kube-apiserver",
    command: bin.kubeApiserver,
    args: [
      `--etcd-servers=${etcdUrl}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      `--secure-port=${String(apiserverPort)}`,
      // No --tls-cert-file: the apiserver writes a self-signed CA and serving cert here, with
      // 127.0.0.1 among its names; the kubeconfig pins that CA.
      `--cert-dir=${certDir}`,
      `--token-auth-file=${tokensFile}`,
      "--authorization-mode=RBAC",
      "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
      `--service-account-key-file=${saPub}`,
      `--service-account-signing-key-file=${saKey}`,
      "--service-cluster-ip-range=10.0.0.0/24",
      "--allow-privileged=true",
      // The default reconciler would publish 127.0.0.1 as the `kubernetes` Service endpoint,
      // which Endpoints validation rejects.
      "--endpoint-reconciler-type=none",
      "--profiling=false",
    ],
    env,
  });
  await supervisor.waitFor(apiserver, "kube-apiserver /readyz", opts.startTimeoutMs, async () => {
    const res = await httpGet(`${server}/readyz`, { token, insecure: true });
    return res.status === 200 ? true : undefined;
  });
  const caPem = await readFile(path.join(certDir, "apiserver.crt"), "utf8");
  // From here on every call verifies the serving certificate against the pinned CA.
  const api = new ApiClient(server, token, caPem);
  await supervisor.waitFor(
    apiserver,
    "kube-apiserver /readyz (CA verified)",
    opts.startTimeoutMs,
    async () => ((await api.get("/readyz")).status === 200 ? true : undefined),
  );

  const kubeconfigPath = path.join(dir, "kubeconfig");
  await writeFile(kubeconfigPath, kubeconfig(server, token, caPem), { mode: 0o600 });

  const componentKubeconfig = [`--kubeconfig=${kubeconfigPath}`];
  const healthOnly = "--authorization-always-allow-paths=/healthz,/readyz,/livez";
  const kcm = await supervisor.start({
    name: "kube-controller-manager",
    command: bin.kubeControllerManager,
    args: [
      ...componentKubeconfig,
      "--leader-elect=false",
      "--bind-address=127.0.0.1",
      `--secure-port=${String(kcmPort)}`,
      healthOnly,
      `--cert-dir=${path.join(dir, "kcm-pki")}`,
      `--service-account-private-key-file=${saKey}`,
      `--root-ca-file=${path.join(certDir, "apiserver.crt")}`,
      "--controllers=*",
    ],
    env,
  });
  const scheduler = await supervisor.start({
    name: "kube-scheduler",
    command: bin.kubeScheduler,
    args: [
      ...componentKubeconfig,
      "--leader-elect=false",
      "--bind-address=127.0.0.1",
      `--secure-port=${String(schedulerPort)}`,
      healthOnly,
      `--cert-dir=${path.join(dir, "scheduler-pki")}`,
    ],
    env,
  });
  const kwok = await supervisor.start({
    name: "kwok",
    command: bin.kwok,
    args: [
      ...componentKubeconfig,
      `--config=${KWOK_STAGES}`,
      "--manage-all-nodes=true",
      // Simulated addresses written into node and pod status; nothing connects to them.
      "--node-ip=10.0.0.1",
      "--cidr=10.244.0.0/16",
      "--node-lease-duration-seconds=40",
    ],
    env,
  });

  await Promise.all([
    supervisor.waitFor(kcm, "kube-controller-manager /healthz", opts.startTimeoutMs, async () => {
      const res = await httpGet(`https://127.0.0.1:${String(kcmPort)}/healthz`, { insecure: true });
      return res.status === 200 ? true : undefined;
    }),
    supervisor.waitFor(scheduler, "kube-scheduler /readyz", opts.startTimeoutMs, async () => {
      const res = await httpGet(`https://127.0.0.1:${String(schedulerPort)}/readyz`, {
        insecure: true,
      });
      return res.status === 200 ? true : undefined;
    }),
  ]);

  const created = await api.post("/api/v1/nodes", {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name: opts.nodeName,
      labels: {
        type: "kwok",
        "kubernetes.io/hostname": opts.nodeName,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
      },
      annotations: { "kwok.x-k8s.io/node": "fake" },
    },
  });
  if (created.status !== 201) {
    throw new Error(
      `registering node ${opts.nodeName}: HTTP ${String(created.status)} ${created.body}`,
    );
  }
  await supervisor.waitFor(
    kwok,
    `kwok: node ${opts.nodeName} Ready`,
    opts.startTimeoutMs,
    async () => {
      const res = await api.get(`/api/v1/nodes/${opts.nodeName}`);
      return res.status === 200 && nodeIsReady(res.body) ? true : undefined;
    },
  );
  // The ServiceAccount admission plugin rejects pods until the controller manager has made
  // the namespace's `default` ServiceAccount.
  await supervisor.waitFor(
    kcm,
    "kube-controller-manager: ServiceAccount default/default",
    opts.startTimeoutMs,
    async () =>
      (await api.get("/api/v1/namespaces/default/serviceaccounts/default")).status === 200
        ? true
        : undefined,
  );

  return {
    kubeconfigPath,
    server,
    token,
    caPem,
    dir,
    nodeName: opts.nodeName,
    binaries: bin,
    kubectl: async (args) => {
      const { stdout } = await execFileAsync(
        bin.kubectl,
        [`--kubeconfig=${kubeconfigPath}`, ...args],
        {
          env,
          maxBuffer: 16 * 1024 * 1024,
        },
      );
      return stdout;
    },
    stop: async () => {
      const crashes = await supervisor.stopAll();
      if (crashes !== "") {
        throw new Error(`test cluster component(s) crashed while in use:${crashes}`);
      }
    },
  };
}

/**
 * Owns the cluster's processes and temp dir. Besides stop(), two things end the processes if
 * the test process goes away first: an `exit` hook, and a detached watchdog that waits for
 * this process to die (even by SIGKILL) and then kills the recorded process groups.
 */
class Supervisor {
  readonly #dir: string;
  readonly #keepDir: boolean;
  readonly #components: Component[] = [];
  readonly #groupsFile: string;
  #watchdog: Component | undefined;
  #failed: Component | undefined;
  #stopped = false;
  readonly #onExit = (): void => {
    for (const component of this.#components) {
      component.signal("SIGKILL");
    }
    this.#watchdog?.signal("SIGKILL");
  };

  constructor(dir: string, keepDir: boolean) {
    this.#dir = dir;
    this.#keepDir = keepDir;
    this.#groupsFile = path.join(dir, "process-groups");
    process.on("exit", this.#onExit);
  }

  async start(options: Omit<ComponentOptions, "logDir">): Promise<Component> {
    if (this.#stopped) {
      throw new Error("cluster is stopped");
    }
    await this.#ensureWatchdog();
    const component = await Component.start({ ...options, logDir: this.#dir });
    this.#components.push(component);
    await appendFile(this.#groupsFile, `${String(component.pid)}\n`);
    return component;
  }

  /**
   * Polls `probe` until it returns a value, failing at the deadline or as soon as `component`
   * (or any other component) exits. Probe errors (connection refused while starting) count as
   * "not yet"; the last one is quoted on timeout.
   */
  async waitFor<T>(
    component: Component,
    what: string,
    timeoutMs: number,
    probe: () => Promise<T | undefined>,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    for (let interval = 50; ; interval = Math.min(interval * 2, 1000)) {
      const dead = this.#components.find((c) => c.exit !== undefined);
      if (dead !== undefined) {
        this.#failed = dead;
        throw new Error(`${dead.describeExit()} while waiting for ${what}`);
      }
      try {
        const value = await probe();
        if (value !== undefined) {
          return value;
        }
      } catch (error) {
        lastError = error;
      }
      if (Date.now() > deadline) {
        this.#failed = component;
        const why = lastError === undefined ? "" : ` (last error: ${String(lastError)})`;
        throw new Error(`timed out after ${String(timeoutMs)} ms waiting for ${what}${why}`);
      }
      // Wake early if any component dies, so a crash is reported at once.
      await Promise.race([delay(interval), ...this.#components.map((c) => c.exited)]);
    }
  }

  /** Log tails of the component that failed (or every crashed one), for the error message. */
  async describeFailure(): Promise<string> {
    const suspects = new Set<Component>(this.#components.filter((c) => c.crashed));
    if (this.#failed !== undefined) {
      suspects.add(this.#failed);
    }
    let text = "";
    for (const component of suspects) {
      text += `\n--- ${component.describeExit()}; last lines of ${component.logPath}:\n${await component.logTail()}`;
    }
    return text;
  }

  /** Stops everything; returns the log tails of components that had crashed, or "". */
  async stopAll(): Promise<string> {
    if (this.#stopped) {
      return "";
    }
    this.#stopped = true;
    const crashed = this.#components.filter((c) => c.crashed);
    const crashReport = crashed.length > 0 ? await this.describeFailure() : "";
    // Stop in reverse start order; everything at once is fine too, but kwok and the
    // controllers then log fewer connection errors.
    for (const component of [...this.#components].reverse()) {
      await component.stop(5_000);
    }
    await this.#watchdog?.stop(1_000);
    process.off("exit", this.#onExit);
    if (!this.#keepDir) {
      await rm(this.#dir, { recursive: true, force: true });
    }
    return crashReport;
  }

  async #ensureWatchdog(): Promise<void> {
    if (this.#watchdog !== undefined) {
      return;
    }
    await writeFile(this.#groupsFile, "");
    // `tail --pid` returns when the test process is gone, however it ended.
    const script = [
      'tail --pid="$1" -f /dev/null',
      'while read -r group; do kill -KILL -- "-$group" 2>/dev/null; done < "$2"',
      '[ "$3" = keep ] || rm -rf "$4"',
    ].join("\n");
    this.#watchdog = await Component.start({
      name: "watchdog",
      command: "bash",
      args: [
        "-c",
        script,
        "watchdog",
        String(process.pid),
        this.#groupsFile,
        this.#keepDir ? "keep" : "remove",
        this.#dir,
      ],
      logDir: this.#dir,
      env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin" },
    });
  }
}

interface HttpResult {
  readonly status: number;
  readonly body: string;
}

interface HttpOptions {
  readonly token?: string;
  readonly ca?: string;
  /** Skip certificate checks; only for health probes before the CA is known. */
  readonly insecure?: boolean;
  readonly method?: string;
  readonly json?: unknown;
}

/** One HTTP(S) request with a short timeout, for readiness probes and bootstrap calls. */
function httpGet(url: string, options: HttpOptions): Promise<HttpResult> {
  const target = new URL(url);
  const body = options.json === undefined ? undefined : JSON.stringify(options.json);
  const headers: Record<string, string> = { accept: "application/json" };
  if (options.token !== undefined) {
    headers["authorization"] = `Bearer ${options.token}`;
  }
  if (body !== undefined) {
    headers["content-type"] = "application/json";
  }
  return new Promise((resolve, reject) => {
    const request = (target.protocol === "https:" ? https.request : httpRequest)(
      target,
      {
        method: options.method ?? "GET",
        headers,
        timeout: 10_000,
        ...(target.protocol === "https:"
          ? { ca: options.ca, rejectUnauthorized: options.insecure !== true }
          : {}),
      },
      (response) => {
        let text = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => {
          text += chunk;
        });
        response.on("end", () => resolve({ status: response.statusCode ?? 0, body: text }));
        response.on("error", reject);
      },
    );
    request.on("timeout", () => request.destroy(new Error(`${url}: no answer within 10 s`)));
    request.on("error", reject);
    request.end(body);
  });
}

/** The few apiserver calls the bootstrap needs, with the CA pinned. */
class ApiClient {
  readonly #server: string;
  readonly #token: string;
  readonly #ca: string;

  constructor(server: string, token: string, ca: string) {
    this.#server = server;
    this.#token = token;
    this.#ca = ca;
  }

  get(apiPath: string): Promise<HttpResult> {
    return httpGet(`${this.#server}${apiPath}`, { token: this.#token, ca: this.#ca });
  }

  post(apiPath: string, json: unknown): Promise<HttpResult> {
    return httpGet(`${this.#server}${apiPath}`, {
      token: this.#token,
      ca: this.#ca,
      method: "POST",
      json,
    });
  }
}

function nodeIsReady(body: string): boolean {
  const node: unknown = JSON.parse(body);
  if (
    !isRecord(node) ||
    !isRecord(node["status"]) ||
    !Array.isArray(node["status"]["conditions"])
  ) {
    return false;
  }
  const conditions: unknown[] = node["status"]["conditions"];
  return conditions.some((c) => isRecord(c) && c["type"] === "Ready" && c["status"] === "True");
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A kubeconfig as JSON (valid YAML), read by kubectl and `@kubernetes/client-node` alike. */
function kubeconfig(server: string, token: string, caPem: string): string {
  const config = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      {
        name: "runlet-test",
        cluster: {
          server,
          "certificate-authority-data": Buffer.from(caPem).toString("base64"),
        },
      },
    ],
    users: [{ name: "runlet-test-admin", user: { token } }],
    contexts: [
      {
        name: "runlet-test",
        context: { cluster: "runlet-test", user: "runlet-test-admin", namespace: "default" },
      },
    ],
    "current-context": "runlet-test",
    preferences: {},
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

/**
 * Ports that were free a moment ago. All are held open together so they are distinct; a
 * process could still take one before the component binds it, which then fails to start
 * and says so in its log.
 */
async function freePorts<K extends string>(names: readonly K[]): Promise<Record<K, number>> {
  const servers: net.Server[] = [];
  try {
    const ports: Partial<Record<K, number>> = {};
    for (const name of names) {
      const server = net.createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => resolve());
      });
      const address = server.address();
      if (address === null || typeof address === "string") {
        throw new Error("could not read a listening port");
      }
      ports[name] = address.port;
    }
    return ports as Record<K, number>;
  } finally {
    await Promise.all(
      servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
    );
  }
}
