/** Starts the embedded platform: store, executor, local provider and gateway in one process. */
import type { Clock } from "../clock.js";
import { startGateway, type Gateway } from "./server.js";
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
}

export interface Runlet {
  readonly url: string;
  readonly platform: Platform;
  readonly gateway: Gateway;
  close(graceMs?: number): Promise<void>;
}

export async function startRunlet(options: RunletOptions): Promise<Runlet> {
  const platform = await Platform.open(options);
  let gateway: Gateway;
  try {
    gateway = await startGateway({
      platform,
      port: options.port,
      host: options.host,
      onInternalError: options.onInternalError,
      requestTimeoutMs: options.requestTimeoutMs,
      maxUploadBytes: options.maxUploadBytes,
      historyStepMs: options.historyStepMs,
      clock: options.gatewayClock,
    });
  } catch (error) {
    await platform.close(0);
    throw error;
  }
  return {
    url: gateway.url,
    platform,
    gateway,
    close: (graceMs) => gateway.close(graceMs),
  };
}
