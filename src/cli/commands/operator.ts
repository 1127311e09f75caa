/** `runlet operator`: the Kubernetes operator (issue 16) until SIGTERM or Ctrl-C. */
import { z } from "zod";
import { UserError } from "../../errors.js";
import { peerKinds, type PeerKind } from "../../operator/peer-functions.js";
import { startRunletOperator } from "../../operator/runlet-operator.js";
import { VERSION } from "../../version.js";
import { defineCommand } from "../command.js";
import { line } from "../io.js";

export const operatorCommand = defineCommand({
  name: "operator",
  description:
    "run the Kubernetes operator: reconcile runlet.dev Functions (and Kubeless and OpenFaaS ones)",
  options: [
    {
      flags: "--kubeconfig <path>",
      description: "kubeconfig to use (default: the pod's service account, else ~/.kube/config)",
    },
    {
      flags: "--lease-namespace <ns>",
      description:
        "namespace of the leader Lease (default: RUNLET_SYSTEM_NAMESPACE, else runlet-system)",
    },
    {
      flags: "--namespace <ns>",
      description:
        "reconcile only this namespace (default: RUNLET_FUNCTION_NAMESPACE, else every namespace)",
    },
    {
      flags: "--pod-namespace <ns>",
      description:
        "where function pods run (default: RUNLET_FUNCTION_NAMESPACE, else each Function's namespace)",
    },
    {
      flags: "--gateway <url>",
      description:
        "the gateway, for package checks and Kubeless source uploads (default: RUNLET_GATEWAY; the admin token comes from RUNLET_ADMIN_TOKEN)",
    },
    {
      flags: "--peers <kinds>",
      description: `peers' Function kinds to reconcile too, comma-separated: ${peerKinds.join(", ")}`,
    },
    {
      flags: "--host <host>",
      description: "address of /healthz, /readyz, /metrics",
      defaultValue: "0.0.0.0",
    },
    {
      flags: "-p, --port <port>",
      description: "port of /healthz, /readyz, /metrics (0: any free one)",
      defaultValue: "8081",
    },
    { flags: "--workers <n>", description: "Functions reconciled at once", defaultValue: "8" },
  ],
  examples: [
    "runlet operator --kubeconfig ~/.kube/config --lease-namespace runlet-system",
    "RUNLET_ADMIN_TOKEN=… runlet operator --gateway http://runlet-gateway.runlet-system:8080 --peers kubeless,openfaas",
  ],
  optionsSchema: z.object({
    kubeconfig: z.string().optional(),
    leaseNamespace: z.string().optional(),
    namespace: z.string().optional(),
    podNamespace: z.string().optional(),
    gateway: z.string().optional(),
    peers: z.string().optional(),
    host: z.string(),
    port: z.coerce.number().int().min(0).max(65535),
    workers: z.coerce.number().int().min(1).max(256),
  }),
  async run(_args, options, io) {
    const peers = parsePeers(options.peers);
    const env = (name: string): string | undefined => io.env[name] || undefined;
    const adminToken = env("RUNLET_ADMIN_TOKEN") ?? "";
    const gatewayUrl = options.gateway ?? env("RUNLET_GATEWAY");
    // The names the chart passes (deploy/helm/runlet/templates/operator.yaml). Its Roles are
    // namespaced, so the operator watches the functions namespace it is given, not the cluster.
    const functionNamespace = env("RUNLET_FUNCTION_NAMESPACE");
    const watchNamespace = options.namespace ?? functionNamespace;
    const podNamespace = options.podNamespace ?? functionNamespace;
    const identity = env("POD_NAME");
    if (gatewayUrl !== undefined && adminToken === "") {
      throw new UserError(
        "RUNLET_INVALID_REQUEST",
        "--gateway needs the gateway's admin token in RUNLET_ADMIN_TOKEN (in a pod, from the gateway's Secret).",
      );
    }
    const operator = await startRunletOperator({
      ...(options.kubeconfig === undefined ? {} : { kubeconfigPath: options.kubeconfig }),
      leaseNamespace: options.leaseNamespace ?? env("RUNLET_SYSTEM_NAMESPACE") ?? "runlet-system",
      ...(watchNamespace === undefined ? {} : { watchNamespace }),
      ...(podNamespace === undefined ? {} : { podNamespace }),
      ...(gatewayUrl === undefined ? {} : { gateway: { url: gatewayUrl, adminToken } }),
      ...(identity === undefined ? {} : { identity }),
      peers,
      host: options.host,
      port: options.port,
      workers: options.workers,
      log: (level, message) =>
        line(level === "info" ? io.stdout : io.stderr, `${level}: ${message}`),
    });
    line(io.stdout, `Runlet operator ${VERSION} (identity ${operator.operator.election.identity})`);
    line(io.stdout, `  health     ${operator.url}/healthz, /readyz, /metrics`);
    line(io.stdout, `  peers      ${peers.length > 0 ? peers.join(", ") : "none"}`);
    const signal = await io.stopSignal();
    line(io.stdout, `${signal}: releasing the leader Lease and stopping…`);
    await operator.stop();
    line(io.stdout, "Stopped.");
    return 0;
  },
});

function parsePeers(value: string | undefined): PeerKind[] {
  if (value === undefined || value.trim() === "") {
    return [];
  }
  const kinds = value.split(",").map((p) => p.trim());
  const unknown = kinds.filter((k) => !(peerKinds as readonly string[]).includes(k));
  if (unknown.length > 0) {
    throw new UserError(
      "RUNLET_INVALID_REQUEST",
      `--peers: unknown kind ${unknown.join(", ")}; known: ${peerKinds.join(", ")}`,
    );
  }
  return kinds as PeerKind[];
}
