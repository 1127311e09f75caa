// The host half of the way into the real node's namespace (issue 15): a port on 127.0.0.1 per address inside it.
import * as net from "node:net";

export interface HostAddress {
  readonly host: "127.0.0.1";
  readonly port: number;
}

/**
 * Listens on the host's loopback and hands each connection to namespace-relay.mjs (through its
 * Unix socket), asking it to dial one fixed address inside the namespace. Runs in the test
 * process: the ports live exactly as long as the tests that use them.
 */
export class LoopbackForwarders {
  readonly #relaySocket: string;
  readonly #servers = new Map<string, Promise<{ server: net.Server; address: HostAddress }>>();
  readonly #sockets = new Set<net.Socket>();

  constructor(relaySocket: string) {
    this.#relaySocket = relaySocket;
  }

  /** A host address that reaches `host:port` inside the namespace; the same one for each call. */
  async expose(host: string, port: number): Promise<HostAddress> {
    if (!net.isIPv4(host)) {
      throw new Error(`only IPv4 addresses inside the namespace can be exposed, not ${host}`);
    }
    const key = `${host} ${String(port)}`;
    let entry = this.#servers.get(key);
    if (entry === undefined) {
      entry = this.#listen(key);
      this.#servers.set(key, entry);
    }
    return (await entry).address;
  }

  /** Stops listening and cuts every forwarded connection. */
  async close(): Promise<void> {
    for (const socket of this.#sockets) {
      socket.destroy();
    }
    const entries = await Promise.allSettled(this.#servers.values());
    this.#servers.clear();
    await Promise.all(
      entries.map((entry) =>
        entry.status === "fulfilled"
          ? new Promise<void>((resolve) => entry.value.server.close(() => resolve()))
          : undefined,
      ),
    );
  }

  async #listen(target: string): Promise<{ server: net.Server; address: HostAddress }> {
    const server = net.createServer((client) => this.#forward(client, target));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
    const bound = server.address();
    if (bound === null || typeof bound === "string") {
      throw new Error("the forwarder has no TCP address");
    }
    return { server, address: { host: "127.0.0.1", port: bound.port } };
  }

  #forward(client: net.Socket, target: string): void {
    const relay = net.connect(this.#relaySocket);
    this.#sockets.add(client).add(relay);
    // The relay reads the target line first; bytes written after it are the client's.
    relay.write(`${target}\n`);
    client.pipe(relay);
    relay.pipe(client);
    const close = (): void => {
      client.destroy();
      relay.destroy();
      this.#sockets.delete(client);
      this.#sockets.delete(relay);
    };
    client.on("error", close).on("close", close);
    relay.on("error", close).on("close", close);
  }
}
