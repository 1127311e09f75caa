/** Starts the embedded platform: store, executor, local provider and gateway in one process. */
import type { Clock } from "../clock.js";
import { startPackageServer, type PackageServer } from "./package-server.js";
import { startGateway, type Gateway, type GatewayOptions } from "./server.js";
import { Platform, type PlatformOptions } from "../platform/platform.js";

export interface RunletOptions extends PlatformOptions {
  /** @default 8080; 0 picks a free port */
  readonly port?: number;
  /** @default "127.0.0.1" */
  readonly host?: string;
  readonly onInternalError?: (error: unknown) => void;
  /** See GatewayOptions. @default 300000 */
  readonly requestTimeoutMs?: number;
  /** Largest package upload. @default 100 MiB */
  readonly maxUploadBytes?: number;
  /** See GatewayOptions. @default 5000 */
  readonly historyStepMs?: number;
  /** The gateway's clock (see GatewayOptions.clock). @default the platform's clock */
  readonly gatewayClock?: Clock;
  /**
   * A second port serving only package archives to instances that fetch their own (Kubernetes
   * mode: the port function pods may reach). @default none
   */
  readonly packagesPort?: number;
  /** See GatewayOptions.tls. @default plain HTTP */
  readonly tls?: GatewayOptions["tls"];
}

export interface Runlet {
  readonly url: string;
  readonly platform: Platform;
  readonly gateway: Gateway;
  /** The package port's server, when `packagesPort` was given. */
  readonly packageServer: PackageServer | undefined;
  close(graceMs?: number): Promise<void>;
}

export async function startRunlet(options: RunletOptions): Promise<Runlet> {
  const platform = await Platform.open(options);
  let gateway: Gateway;
  let packageServer: PackageServer | undefined;
  try {
    if (options.packagesPort !== undefined) {
      packageServer = await startPackageServer({
        platform,
        port: options.packagesPort,
        host: options.host ?? "127.0.0.1",
        onInternalError: options.onInternalError ?? ((error: unknown) => console.error(error)),
      });
    }
    gateway = await startGateway({
      platform,
      port: options.port,
      host: options.host,
      onInternalError: options.onInternalError,
      requestTimeoutMs: options.requestTimeoutMs,
      maxUploadBytes: options.maxUploadBytes,
      historyStepMs: options.historyStepMs,
      clock: options.gatewayClock,
      tls: options.tls,
    });
  } catch (error) {
    await packageServer?.close();
    await platform.close(0);
    throw error;
  }
  return {
    url: gateway.url,
    platform,
    gateway,
    packageServer,
    close: async (graceMs) => {
      // Instances still loading fetch their packages until the gateway has drained.
      await gateway.close(graceMs);
      await packageServer?.close();
    },
  };
}
