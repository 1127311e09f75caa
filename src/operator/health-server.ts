/** The operator's HTTP endpoints: /healthz (the process answers), /readyz (caches synced and, for the leader, elected), /metrics. */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import { errorJson } from "../errors.js";

export interface HealthServerOptions {
  readonly host: string;
  readonly port: number;
  readonly registry: Registry;
  /** Undefined when ready, else why not (shown in the 503's body). */
  readonly notReady: () => string | undefined;
  /** Refreshes gauges read from elsewhere, before each scrape. */
  readonly beforeScrape?: () => void;
}

export interface HealthServer {
  readonly url: string;
  close(): Promise<void>;
}

export async function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    const send = (status: number, type: string, body: string): void => {
      response.writeHead(status, { "content-type": type, "cache-control": "no-store" });
      response.end(body);
    };
    if (request.method !== "GET" && request.method !== "HEAD") {
      send(405, "application/json", errorJson("RUNLET_METHOD_NOT_ALLOWED", "Use GET."));
      return;
    }
    if (path === "/healthz") {
      send(200, "text/plain", "ok\n");
    } else if (path === "/readyz") {
      const reason = options.notReady();
      if (reason === undefined) {
        send(200, "text/plain", "ok\n");
      } else {
        send(503, "text/plain", `not ready: ${reason}\n`);
      }
    } else if (path === "/metrics") {
      options.beforeScrape?.();
      options.registry.metrics().then(
        (text) => send(200, options.registry.contentType, text),
        (error: unknown) =>
          send(500, "application/json", errorJson("RUNLET_INTERNAL", String(error))),
      );
    } else {
      send(
        404,
        "application/json",
        errorJson("RUNLET_NOT_FOUND", "Try /healthz, /readyz or /metrics."),
      );
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${String(address.port)}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
