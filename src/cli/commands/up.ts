/** `runlet up`: the whole platform in this process until Ctrl-C or SIGTERM. */
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { z } from "zod";
import { parseAllowList } from "../../calls/callback-address.js";
import type { CallQueueOptions } from "../../calls/call-queue.js";
import { JetStreamCallQueue } from "../../calls/jetstream-call-queue.js";
import { UserError } from "../../errors.js";
import { redactNatsServers, withNatsPassword } from "../../host/nats-servers.js";
import { startRunlet } from "../../gateway/start.js";
import {
  readTlsFiles,
  selfSignedCertificate,
  type TlsMaterial,
} from "../../host/tls-certificate.js";
import { kubernetesMode } from "../../platform/kubernetes-mode.js";
import { parseDuration } from "../../spec/units.js";
import { VERSION } from "../../version.js";
import { defaultDataDir, defaultGateway } from "../client-config.js";
import { defineCommand } from "../command.js";
import { line } from "../io.js";

export const upCommand = defineCommand({
  name: "up",
  description: "start the platform (gateway, executor, local instances, store) in this process",
  options: [
    { flags: "-p, --port <port>", description: "port to listen on", defaultValue: "8080" },
    { flags: "--host <host>", description: "address to listen on", defaultValue: "127.0.0.1" },
    {
      flags: "--data-dir <dir>",
      description:
        "where functions, packages and secrets are kept (default: RUNLET_DATA_DIR or ~/.runlet)",
    },
    {
      flags: "--pool-size <n>",
      description: "generic instances kept warm per runtime (0: start on demand)",
      defaultValue: "2",
    },
    {
      flags: "--nats <url>",
      description:
        "NATS server for NATS triggers, e.g. nats://127.0.0.1:4222 (default: RUNLET_NATS_URL)",
    },
    {
      flags: "--call-queue <kind>",
      description:
        "where async calls are queued: sqlite (the data directory) or jetstream (the --nats server, shared by several gateways) (default: RUNLET_CALL_QUEUE or sqlite)",
    },
    {
      flags: "--callback-allow <ranges>",
      description:
        "addresses or CIDR ranges async callbacks may go to although they are loopback, private or link-local, e.g. 127.0.0.1/32,10.1.0.0/16 (default: RUNLET_CALLBACK_ALLOW)",
    },
    {
      flags: "--mode <mode>",
      description:
        "embedded (this process runs the instances, state in the data dir) or kubernetes (a gateway replica in a cluster: pods from warm pools, state on the API server) (default: RUNLET_MODE or embedded)",
    },
    {
      flags: "--packages-port <port>",
      description:
        "a second port serving only package archives to function pods (kubernetes mode; default 8081 there, none embedded)",
    },
    {
      flags: "--tls",
      description:
        "serve HTTPS with a self-signed certificate made once into <data-dir>/tls (its fingerprint is printed)",
    },
    { flags: "--tls-cert <file>", description: "serve HTTPS with this PEM certificate" },
    { flags: "--tls-key <file>", description: "the PEM private key of --tls-cert" },
    {
      flags: "--no-sandbox",
      description: "run instances without namespaces (they still get cgroup limits)",
    },
  ],
  examples: ["runlet up", "runlet up --port 9090 --data-dir ./state"],
  optionsSchema: z.object({
    port: z.coerce.number().int().min(0).max(65535),
    host: z.string(),
    dataDir: z.string().optional(),
    poolSize: z.coerce.number().int().min(0).max(64),
    sandbox: z.boolean(),
    nats: z.string().optional(),
    callbackAllow: z.string().optional(),
    callQueue: z.enum(["sqlite", "jetstream"]).optional(),
    mode: z.enum(["embedded", "kubernetes"]).optional(),
    packagesPort: z.coerce.number().int().min(0).max(65535).optional(),
    tls: z.boolean().optional(),
    tlsCert: z.string().optional(),
    tlsKey: z.string().optional(),
  }),
  async run(_args, options, io) {
    const dataDir = resolve(io.cwd, options.dataDir ?? defaultDataDir(io.env));
    const natsGiven = options.nats ?? (io.env["RUNLET_NATS_URL"] || undefined);
    // The password may come apart from the URL (a Kubernetes Secret in the environment), so the
    // command line and the pod spec never show it.
    const natsUrl =
      natsGiven === undefined
        ? undefined
        : withNatsPassword(natsGiven, io.env["RUNLET_NATS_PASSWORD"] || undefined);
    const mode = options.mode ?? modeOf(io.env["RUNLET_MODE"]);
    const queueKind = options.callQueue ?? callQueueKind(io.env["RUNLET_CALL_QUEUE"]);
    if (mode === "kubernetes" && queueKind !== "jetstream") {
      throw new UserError(
        "RUNLET_INVALID_REQUEST",
        "Kubernetes mode keeps async calls where every gateway replica sees them: pass --call-queue jetstream --nats nats://HOST:4222 (the chart does).",
      );
    }
    if (queueKind === "jetstream" && natsUrl === undefined) {
      throw new UserError(
        "RUNLET_INVALID_REQUEST",
        "The jetstream call queue needs a NATS server: pass --nats nats://HOST:4222 or set RUNLET_NATS_URL.",
      );
    }
    const env = (name: string): string | undefined => io.env[name] || undefined;
    const cluster =
      mode === "kubernetes"
        ? kubernetesMode({
            systemNamespace: env("RUNLET_SYSTEM_NAMESPACE"),
            functionNamespace: env("RUNLET_FUNCTION_NAMESPACE"),
            packagesDir: resolve(io.cwd, env("RUNLET_PACKAGES_DIR") ?? join(dataDir, "packages")),
            packagesUrl: env("RUNLET_PACKAGES_URL"),
            ownerPod: ownerPodOf(env("POD_NAME"), env("POD_UID")),
            natsServers: natsUrl,
            port: options.port,
            onError: (error) =>
              line(io.stderr, `warning: ${error instanceof Error ? error.message : String(error)}`),
          })
        : undefined;
    const tls = await tlsOf(options, dataDir, io.cwd);
    const runlet = await startRunlet({
      dataDir,
      ...(tls && { tls: { cert: tls.cert, key: tls.key } }),
      ...(cluster && {
        provider: cluster.provider,
        stores: cluster.stores,
        packageGrants: cluster.packageGrants,
        buildPackageCode: cluster.buildPackageCode,
        replicas: cluster.replicas,
      }),
      packagesPort: options.packagesPort ?? (cluster ? 8081 : undefined),
      port: options.port,
      host: options.host,
      adminToken: env("RUNLET_ADMIN_TOKEN"),
      secretsKey: await secretsKeyFrom(env("RUNLET_SECRETS_KEY_FILE")),
      poolSize: options.poolSize,
      sandbox: options.sandbox ? "auto" : "none",
      calls: {
        ...callQueueOptions(io.env),
        callbackAllow: parseAllowList(options.callbackAllow ?? io.env["RUNLET_CALLBACK_ALLOW"]),
      },
      natsUrl,
      ...(queueKind === "jetstream" && natsUrl !== undefined
        ? { queue: JetStreamCallQueue.factory({ servers: natsUrl }) }
        : {}),
      onInternalError: (error) =>
        line(io.stderr, `internal error: ${error instanceof Error ? error.stack : String(error)}`),
    });
    runlet.platform.events.on("backgroundError", (error: unknown) =>
      line(io.stderr, `warning: ${error instanceof Error ? error.message : String(error)}`),
    );
    const functions = runlet.platform.functions.list().length;
    line(
      io.stdout,
      `Runlet ${VERSION} is up (${mode} mode, ${runlet.platform.provider.name} instances)`,
    );
    line(io.stdout, `  gateway    ${runlet.url}`);
    line(io.stdout, `  dashboard  ${runlet.url}/ui/`);
    if (tls) {
      line(
        io.stdout,
        `  tls        ${tls.certPath}${tls.created ? " (self-signed, made now)" : ""}`,
      );
      line(io.stdout, `  sha256     ${tls.fingerprint}`);
    }
    if (runlet.packageServer) {
      line(io.stdout, `  packages   port ${runlet.packageServer.port} (package archives for pods)`);
    }
    if (cluster) {
      line(
        io.stdout,
        `  namespaces ${cluster.systemNamespace} (gateway, pools, pods), ${cluster.functionNamespace} (Functions, Secrets)`,
      );
    }
    line(io.stdout, `  data dir   ${dataDir}`);
    line(io.stdout, `  functions  ${functions} deployed`);
    line(io.stdout, `  instances  ${runlet.platform.provider.isolation}`);
    if (natsUrl) {
      line(
        io.stdout,
        `  nats       ${redactNatsServers(natsUrl)} (for NATS triggers${queueKind === "jetstream" ? " and the async call queue" : ""})`,
      );
    }
    const clientEnv = clientEnvironment(runlet.url, dataDir, io.env, tls?.certPath);
    if (clientEnv) {
      // Without these, `runlet` in another shell looks at :8080 and ~/.runlet.
      line(io.stdout, `  clients    export ${clientEnv}   (in other shells, for runlet commands)`);
    }
    for (const notice of runlet.platform.dataDir.notices) {
      line(io.stderr, `Warning: ${notice}`);
    }
    for (const notice of runlet.platform.provider.notices) {
      line(io.stderr, `Note: ${notice}`);
    }
    if (runlet.platform.dataDir.adminTokenCreated) {
      line(
        io.stdout,
        `  admin token (shown once; also saved in ${dataDir}/admin-token, mode 0600):`,
      );
      line(io.stdout, `    ${runlet.platform.adminToken}`);
    }
    if (functions === 0) {
      line(
        io.stdout,
        "Try it:  runlet new hello --runtime node && runlet deploy && runlet invoke hello",
      );
    }
    line(io.stdout, "Press Ctrl-C to stop.");
    const signal = await io.stopSignal();
    line(io.stdout, `${signal}: draining in-flight calls and stopping instances…`);
    await runlet.close(10_000);
    line(io.stdout, "Stopped.");
    return 0;
  },
});

/**
 * The variables a client in another shell needs to find this platform and its token when
 * it does not listen where the CLI looks by default, or keeps its token elsewhere.
 */
function clientEnvironment(
  url: string,
  dataDir: string,
  env: Readonly<Record<string, string | undefined>>,
  caPath?: string,
): string | undefined {
  const vars: string[] = [];
  if (caPath !== undefined) {
    vars.push(`RUNLET_CA=${shellQuote(caPath)}`);
  }
  if (url.replace(/\/+$/, "") !== defaultGateway) {
    vars.push(`RUNLET_GATEWAY=${url}`);
  }
  if (dataDir !== resolve(defaultDataDir({ HOME: env["HOME"] }))) {
    vars.push(`RUNLET_DATA_DIR=${shellQuote(dataDir)}`);
  }
  return vars.length > 0 ? vars.join(" ") : undefined;
}

function shellQuote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, "'\\''")}'`;
}

/** Async call settings from the environment (docs/async.md). */
function callQueueOptions(env: Record<string, string | undefined>): CallQueueOptions {
  const retention = env["RUNLET_CALL_RETENTION"];
  const concurrency = env["RUNLET_ASYNC_CONCURRENCY"];
  let retentionMs: number | undefined;
  if (retention) {
    const days = /^(\d+)d$/.exec(retention.trim());
    retentionMs = days ? Number(days[1]) * 86_400_000 : parseDuration(retention);
    if (retentionMs === undefined || retentionMs <= 0) {
      throw new UserError(
        "RUNLET_INVALID_REQUEST",
        `RUNLET_CALL_RETENTION=${retention} is not a duration; use e.g. 7d, 12h or 30m.`,
      );
    }
  }
  const lease = env["RUNLET_CALL_LEASE"];
  let leaseMs: number | undefined;
  if (lease) {
    leaseMs = parseDuration(lease);
    if (leaseMs === undefined || leaseMs < 1000) {
      throw new UserError(
        "RUNLET_INVALID_REQUEST",
        `RUNLET_CALL_LEASE=${lease} is not a duration of 1s or more; use e.g. 60s or 2m.`,
      );
    }
  }
  let maxConcurrency: number | undefined;
  if (concurrency) {
    maxConcurrency = Number(concurrency);
    if (!Number.isInteger(maxConcurrency) || maxConcurrency < 0) {
      throw new UserError(
        "RUNLET_INVALID_REQUEST",
        `RUNLET_ASYNC_CONCURRENCY=${concurrency} is not a whole number; use e.g. 100 (0 accepts and stores async calls but runs none).`,
      );
    }
  }
  return { retentionMs, maxConcurrency, leaseMs };
}

/** The gateway's own pod (the chart passes both through the downward API), when known. */
function ownerPodOf(
  name: string | undefined,
  uid: string | undefined,
): { name: string; uid: string } | undefined {
  return name !== undefined && uid !== undefined ? { name, uid } : undefined;
}

/** The secrets key the replicas share (a mounted Secret: base64 of 32 bytes), when named. */
async function secretsKeyFrom(path: string | undefined): Promise<Buffer | undefined> {
  if (path === undefined) {
    return undefined;
  }
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new UserError(
      "RUNLET_INVALID_REQUEST",
      `RUNLET_SECRETS_KEY_FILE=${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)}); mount the secrets key Secret there.`,
    );
  }
  const key = Buffer.from(text.trim(), "base64");
  if (key.length !== 32) {
    throw new UserError(
      "RUNLET_INVALID_REQUEST",
      `RUNLET_SECRETS_KEY_FILE=${path} holds ${key.length} bytes once base64-decoded; it must hold 32 (make one with: head -c 32 /dev/urandom | base64).`,
    );
  }
  return key;
}

function modeOf(value: string | undefined): "embedded" | "kubernetes" {
  if (value === undefined || value === "" || value === "embedded") {
    return "embedded";
  }
  if (value === "kubernetes") {
    return "kubernetes";
  }
  throw new UserError(
    "RUNLET_INVALID_REQUEST",
    `RUNLET_MODE=${value} is not a mode; use embedded or kubernetes.`,
  );
}

function callQueueKind(value: string | undefined): "sqlite" | "jetstream" {
  if (value === undefined || value === "" || value === "sqlite") {
    return "sqlite";
  }
  if (value === "jetstream") {
    return "jetstream";
  }
  throw new UserError(
    "RUNLET_INVALID_REQUEST",
    `RUNLET_CALL_QUEUE=${value} is not a call queue; use sqlite or jetstream.`,
  );
}

/** The certificate the gateway serves, if any: given files, or the data dir's self-signed one. */
async function tlsOf(
  options: { tls?: boolean; tlsCert?: string; tlsKey?: string },
  dataDir: string,
  cwd: string,
): Promise<TlsMaterial | undefined> {
  if ((options.tlsCert === undefined) !== (options.tlsKey === undefined)) {
    throw new UserError(
      "RUNLET_INVALID_REQUEST",
      "Give both --tls-cert FILE and --tls-key FILE, or --tls for a self-signed certificate.",
    );
  }
  if (options.tlsCert !== undefined && options.tlsKey !== undefined) {
    return readTlsFiles(resolve(cwd, options.tlsCert), resolve(cwd, options.tlsKey));
  }
  return options.tls ? selfSignedCertificate(dataDir) : undefined;
}
