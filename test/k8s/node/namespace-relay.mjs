// Runs inside the real node's network namespace (issue 15) and carries connections from the host into it.
//
// It listens on a Unix socket in the run dir, which both sides of the namespace boundary can
// open. Each connection starts with one line, "HOST PORT\n", naming an address inside the
// namespace; the relay dials it and from then on copies bytes both ways. The host half
// (loopback-forwarder.ts) turns that into a port on the host's 127.0.0.1. Dependency-free.
//
// With `--to-host HOST:PORT HOST_SOCKET` it also carries connections the other way: it listens
// on HOST:PORT inside the namespace (the node address) and pipes each connection to the Unix
// socket HOST_SOCKET in the run dir, where a process on the host may listen (a package server
// for pods). Only to that socket: the namespace still has no route to any host address.
//
// Usage: node namespace-relay.mjs SOCKET_PATH [--to-host HOST:PORT HOST_SOCKET] CIDR...
//        (CIDRs the relay may dial, IPv4)
import { rmSync } from "node:fs";
import { connect, createServer, isIPv4 } from "node:net";

const args = process.argv.slice(2);
const socketPath = args.shift();
let toHost;
const ranges = [];
while (args.length > 0) {
  const arg = args.shift();
  if (arg === "--to-host") {
    const [listenAt = "", hostSocket = ""] = [args.shift(), args.shift()];
    const [host, port] = listenAt.split(":");
    toHost = { host, port: Number(port), hostSocket };
  } else {
    ranges.push(arg);
  }
}
if (
  !socketPath ||
  ranges.length === 0 ||
  (toHost && (!isIPv4(toHost.host) || !toHost.hostSocket))
) {
  process.stderr.write(
    "usage: namespace-relay.mjs SOCKET_PATH [--to-host HOST:PORT HOST_SOCKET] CIDR...\n",
  );
  process.exit(2);
}

function toNumber(address) {
  return address.split(".").reduce((n, part) => n * 256 + Number(part), 0);
}

const allowed = ranges.map((range) => {
  const [base, bits] = range.split("/");
  const size = 2 ** (32 - Number(bits));
  const start = toNumber(base) - (toNumber(base) % size);
  return { start, end: start + size };
});

/** The namespace has no way out, but the relay dials only what is in it, by its own rule too. */
function mayDial(host) {
  if (!isIPv4(host)) {
    return false;
  }
  const n = toNumber(host);
  return allowed.some((range) => n >= range.start && n < range.end);
}

const MAX_HEADER = 64;

const server = createServer((client) => {
  let head = Buffer.alloc(0);
  const onData = (chunk) => {
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf(10);
    if (end < 0) {
      if (head.length > MAX_HEADER) {
        client.destroy();
      }
      return;
    }
    client.off("data", onData);
    client.pause();
    const [host = "", portText = ""] = head.subarray(0, end).toString("latin1").trim().split(" ");
    const port = Number(portText);
    if (!mayDial(host) || !Number.isInteger(port) || port < 1 || port > 65535) {
      process.stderr.write(
        `refused: ${JSON.stringify(head.subarray(0, end).toString("latin1"))}\n`,
      );
      client.destroy();
      return;
    }
    const upstream = connect({ host, port });
    const rest = head.subarray(end + 1);
    if (rest.length > 0) {
      upstream.write(rest);
    }
    client.pipe(upstream);
    upstream.pipe(client);
    client.resume();
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", close).on("close", close);
    upstream.on("error", close).on("close", close);
  };
  client.on("data", onData);
  client.on("error", () => client.destroy());
});

rmSync(socketPath, { force: true });
server.on("error", (error) => {
  process.stderr.write(`relay: ${error.message}\n`);
  process.exit(1);
});
/** Each connection from inside to `toHost`'s address goes to the host's socket, nowhere else. */
function listenToHost() {
  const inbound = createServer((client) => {
    const upstream = connect({ path: toHost.hostSocket });
    client.pipe(upstream);
    upstream.pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", close).on("close", close);
    upstream.on("error", close).on("close", close);
  });
  inbound.on("error", (error) => {
    process.stderr.write(`relay to the host: ${error.message}\n`);
    process.exit(1);
  });
  return new Promise((resolve) => inbound.listen(toHost.port, toHost.host, resolve));
}

server.listen(socketPath, async () => {
  if (toHost) {
    await listenToHost();
    process.stdout.write(`relaying ${toHost.host}:${toHost.port} to ${toHost.hostSocket}\n`);
  }
  process.stdout.write(`listening on ${socketPath}\n`);
});
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    rmSync(socketPath, { force: true });
    process.exit(0);
  });
}
