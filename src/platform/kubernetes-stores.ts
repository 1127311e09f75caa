/**
 * The stores of a gateway replica in Kubernetes mode (issue 16): functions, revisions, triggers,
 * secrets, config maps, image tags, scoped tokens and the audit log on the API server, packages in a folder every replica mounts (a PersistentVolume),
 * so replicas keep nothing that matters to themselves. Logs are kept in each replica's data
 * directory and shared through a JetStream stream (log-replication.ts) when NATS is given; async
 * calls go to JetStream through the queue option (the call store here is the embedded queue's,
 * unused then).
 */
import type { NatsServers } from "../host/nats-servers.js";
import { mkdir } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import type { KubeConfig } from "@kubernetes/client-node";
import { defaultFunctionNamespace } from "../kubernetes/names.js";
import { CallStore } from "../store/call-store.js";
import { openDatabase } from "../store/database.js";
import { DirectoryPackageIndex } from "../store/directory-package-index.js";
import { KubernetesConfigStore } from "../store/kubernetes/kubernetes-config-store.js";
import { KubernetesFunctionStore } from "../store/kubernetes/kubernetes-function-store.js";
import { KubernetesAuditLog } from "../store/kubernetes/kubernetes-audit-log.js";
import { KubernetesImageTagStore } from "../store/kubernetes/kubernetes-image-tag-store.js";
import { KubernetesSecretStore } from "../store/kubernetes/kubernetes-secret-store.js";
import { KubernetesTokenStore } from "../store/kubernetes/kubernetes-token-store.js";
import {
  KubernetesTriggerStore,
  type KubernetesTriggerStoreOptions,
} from "../store/kubernetes/kubernetes-trigger-store.js";
import { LogReplication } from "../store/log-replication.js";
import { LogStore } from "../store/log-store.js";
import { PackageStore, type PackageStoreOptions } from "../store/package-store.js";
import type { DataDir } from "./data-dir.js";
import type { PlatformStores } from "./platform.js";

export interface KubernetesStoresOptions {
  readonly kubeConfig: KubeConfig;
  /** @default defaultFunctionNamespace ("openfaas-fn") */
  readonly namespace?: string;
  /** The package folder the replicas share. */
  readonly packagesDir: string;
  /** Largest package once unpacked. @default 256 MiB */
  readonly maxPackageBytes?: number;
  readonly packages?: PackageStoreOptions;
  /** Where cron firings are kept. @default in memory */
  readonly cron?: KubernetesTriggerStoreOptions["cron"];
  /** NATS servers whose JetStream shares the replicas' log lines. @default logs stay per replica */
  readonly natsServers?: NatsServers;
  /** This replica's name (its pod's): the first part of its audit chain's name. @default the host name */
  readonly replica?: string;
  /** Objects that do not parse, watches that fail. @default nothing */
  readonly onError?: (error: unknown) => void;
}

/** For Platform.open({ stores }): opens the caches before the platform starts. */
export function kubernetesStores(
  options: KubernetesStoresOptions,
): (dataDir: DataDir) => Promise<PlatformStores> {
  return async (dataDir) => {
    const shared = {
      kubeConfig: options.kubeConfig,
      namespace: options.namespace ?? defaultFunctionNamespace,
      onError: options.onError ?? (() => undefined),
    };
    await mkdir(options.packagesDir, { recursive: true });
    const [functions, triggers, secrets, configs, tokens, audit, imageTags] = await Promise.all([
      KubernetesFunctionStore.open(shared),
      KubernetesTriggerStore.open({ ...shared, cron: options.cron }),
      KubernetesSecretStore.open(shared),
      KubernetesConfigStore.open(shared),
      KubernetesTokenStore.open(shared),
      KubernetesAuditLog.open({ ...shared, replica: options.replica ?? hostname() }),
      KubernetesImageTagStore.open(shared),
    ]);
    const db = openDatabase(join(dataDir.root, "runlet.db"));
    const closeCachesAndDatabase = async (): Promise<void> => {
      await Promise.all([
        functions.close(),
        triggers.close(),
        secrets.close(),
        configs.close(),
        tokens.close(),
        audit.close(),
        imageTags.close(),
      ]);
      db.close();
    };
    const logs = new LogStore(db);
    const replication = options.natsServers
      ? await LogReplication.start({
          servers: options.natsServers,
          logs,
          onError: shared.onError,
        }).catch(async (error: unknown) => {
          await closeCachesAndDatabase();
          throw error;
        })
      : undefined;
    return {
      functions,
      triggers,
      secrets,
      configs,
      imageTags,
      packages: new PackageStore(
        new DirectoryPackageIndex(options.packagesDir),
        options.packagesDir,
        { maxUnpackedBytes: options.maxPackageBytes ?? 256 * 2 ** 20, maxFiles: 50_000 },
        options.packages,
      ),
      logs,
      calls: new CallStore(db, dataDir.secretsKey),
      tokens,
      audit,
      close: async () => {
        await replication?.close();
        await closeCachesAndDatabase();
      },
    };
  };
}
