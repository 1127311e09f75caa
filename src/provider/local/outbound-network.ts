/**
 * Outbound network for sandboxed instances (issue 13, item 5): each instance has its own
 * network namespace whose only link is slirp4netns, user-mode networking that turns the
 * function's connections into ordinary sockets of the host. slirp4netns itself refuses the
 * host's loopback (`--disable-host-loopback`); an nftables table inside the namespace, which
 * the function cannot change (it has no capabilities there), refuses private, link-local,
 * CGNAT, multicast and reserved addresses and every address of the host's own interfaces.
 * Both are set up while the instance starts, before it can join the warm pool, so a cold start
 * never waits for them.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { networkInterfaces } from "node:os";
import type { Readable } from "node:stream";

/** slirp4netns' DNS forwarder inside the namespace (its default address). */
const outboundDns = "10.0.2.3";

/** What `/etc/resolv.conf` says inside an outbound sandbox: slirp4netns' DNS forwarder. */
export const outboundResolvConf = `nameserver ${outboundDns}\noptions ndots:0\n`;

export interface OutboundSupport {
  readonly available: boolean;
  /** Why not, when not. */
  readonly reason?: string;
}

const refusedIPv4 = [
  "0.0.0.0/8",
  "10.0.0.0/8",
  "100.64.0.0/10",
  "127.0.0.0/8",
  "169.254.0.0/16",
  "172.16.0.0/12",
  "192.0.0.0/24",
  "192.0.2.0/24",
  "192.168.0.0/16",
  "198.18.0.0/15",
  "198.51.100.0/24",
  "203.0.113.0/24",
  "224.0.0.0/3",
];
const refusedIPv6 = [
  "::/127",
  "::ffff:0:0/96",
  "64:ff9b::/96",
  "fc00::/7",
  "fe80::/10",
  "ff00::/8",
];

function has(command: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" }).status === 0;
}

/**
 * slirp4netns must join a namespace that belongs to the sandbox's user namespace, which only
 * root can do from outside; nft and nsenter install the filter.
 */
export function detectOutbound(): OutboundSupport {
  if (process.platform !== "linux" || process.getuid?.() !== 0) {
    return {
      available: false,
      reason: "filtered outbound networking needs a platform running as root",
    };
  }
  for (const [command, pkg] of [
    ["slirp4netns", "slirp4netns"],
    ["nft", "nftables"],
    ["nsenter", "util-linux"],
  ] as const) {
    if (!has(command)) {
      return {
        available: false,
        reason: `${command} is not installed (apt-get install ${pkg})`,
      };
    }
  }
  return { available: true };
}

/** The nftables rules of one instance's namespace. */
export function outboundRuleset(hostAddresses: readonly string[]): string {
  const own4 = hostAddresses.filter((address) => !address.includes(":"));
  const own6 = hostAddresses.filter((address) => address.includes(":"));
  const set = (items: readonly string[]): string => `{ ${items.join(", ")} }`;
  return [
    "table inet runlet {",
    "  chain output {",
    "    type filter hook output priority 0; policy accept;",
    '    oifname "lo" accept',
    `    ip daddr ${outboundDns} udp dport 53 accept`,
    `    ip daddr ${outboundDns} tcp dport 53 accept`,
    `    ip daddr ${set([...refusedIPv4, ...own4])} reject with icmpx type admin-prohibited`,
    `    ip6 daddr ${set([...refusedIPv6, ...own6])} reject with icmpx type admin-prohibited`,
    "  }",
    "}",
    "",
  ].join("\n");
}

/** Every address of the host's interfaces, loopback aside (loopback is refused as a range). */
function hostAddresses(): string[] {
  const addresses: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const entry of list ?? []) {
      if (!entry.internal) {
        addresses.push(entry.address.split("%")[0] ?? entry.address);
      }
    }
  }
  return [...new Set(addresses)];
}

/** The running link of one instance; closing it ends slirp4netns. */
export interface OutboundLink {
  close(): void;
}

/** Filters and links the network namespace of `pid` (a process inside the sandbox). */
export async function attachOutbound(pid: number): Promise<OutboundLink> {
  const netns = `/proc/${pid}/ns/net`;
  await runFilter(netns);
  return startSlirp(netns);
}

function runFilter(netns: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("nsenter", [`--net=${netns}`, "nft", "-f", "-"], {
      stdio: ["pipe", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.once("error", reject);
    child.once("close", (code) => {
      if (code === 0) {
        resolve();
      } else {
        reject(
          new Error(`the instance's network filter failed (nft exit ${code}): ${stderr.trim()}`),
        );
      }
    });
    // A failed nsenter closes its stdin early: the exit status reports that, not EPIPE.
    child.stdin.on("error", () => undefined);
    child.stdin.end(outboundRuleset(hostAddresses()));
  });
}

function startSlirp(netns: string): Promise<OutboundLink> {
  return new Promise((resolve, reject) => {
    // fd 3: slirp4netns writes "1" once the link is configured. fd 4: it exits when that
    // socket reads end of file, which is when the platform closes it or dies.
    const child: ChildProcess = spawn(
      "slirp4netns",
      [
        "--configure",
        "--mtu=65520",
        "--disable-host-loopback",
        "--enable-sandbox",
        "--enable-seccomp",
        "--ready-fd=3",
        "--exit-fd=4",
        "--netns-type=path",
        netns,
        "tap0",
      ],
      { stdio: ["ignore", "ignore", "pipe", "pipe", "pipe"] },
    );
    let stderr = "";
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const ready = child.stdio[3] as Readable | null;
    const exit = child.stdio[4] as (Readable & { destroy(): void }) | null;
    const link: OutboundLink = {
      close() {
        exit?.destroy();
        child.kill("SIGKILL");
      },
    };
    const fail = (why: string): void => {
      link.close();
      reject(new Error(`the instance's network link failed: ${why}`));
    };
    child.once("error", (error) => fail(error.message));
    child.once("exit", (code, signal) =>
      fail(`slirp4netns ${signal ?? `exit ${code}`}: ${stderr.trim()}`),
    );
    ready?.once("data", () => {
      child.removeAllListeners("exit");
      child.stderr?.removeAllListeners("data");
      child.stderr?.resume();
      resolve(link);
    });
  });
}
