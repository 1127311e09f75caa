// Picks free TCP ports on the host's loopback for a test cluster's components.
import * as net from "node:net";

/**
 * Ports that were free a moment ago. All are held open together so they are distinct; a
 * process could still take one before the component binds it, which then fails to start
 * and says so in its log.
 */
export async function freePorts<K extends string>(names: readonly K[]): Promise<Record<K, number>> {
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
