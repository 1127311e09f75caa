/**
 * Which addresses an async call's callback may be delivered to (issue 13): public unicast
 * ones, plus what the operator allows (`runlet up --callback-allow`, RUNLET_CALLBACK_ALLOW).
 * Loopback, private, link-local (cloud metadata), CGNAT, unspecified, multicast and reserved
 * addresses are refused, in every spelling (IPv4-mapped IPv6, NAT64, 0x7f000001, 127.1).
 */
import { createRequire } from "node:module";
import type * as IpAddr from "ipaddr.js";
import { UserError } from "../errors.js";

// ipaddr.js is CommonJS whose types declare an ambient module: loaded through require.
const ipaddr = createRequire(import.meta.url)("ipaddr.js") as typeof IpAddr;
type IPv4 = InstanceType<typeof ipaddr.IPv4>;
type IPv6 = InstanceType<typeof ipaddr.IPv6>;
type Address = IPv4 | IPv6;

const rangeWords: Record<string, string> = {
  loopback: "a loopback address",
  private: "a private address",
  uniqueLocal: "a private (unique local) address",
  linkLocal: "a link-local address",
  carrierGradeNat: "a shared (carrier-grade NAT) address",
  unspecified: "the unspecified address",
  multicast: "a multicast address",
  broadcast: "the broadcast address",
  reserved: "a reserved address",
  benchmarking: "a benchmarking address",
  deprecatedSiteLocal: "a site-local address",
  discard: "a discard-only address",
  teredo: "a Teredo tunnel address",
  rfc6145: "an IPv4-translated address",
  rfc6052: "a local-use NAT64 address",
};

const nat64Prefix = ipaddr.IPv6.parse("64:ff9b::");
const sixToFourPrefix = ipaddr.IPv6.parse("2002::");

/** Cloud metadata services, named in the refusal so its reason is plain. */
const metadataAddresses = new Set(["169.254.169.254", "169.254.170.2", "100.100.100.200"]);

export class CallbackAddressPolicy {
  readonly #allowed: readonly [Address, number][];
  /** The allow-list as given, for messages. */
  readonly allowList: readonly string[];

  /** `allow`: addresses or CIDR ranges delivered to although they would be refused. */
  constructor(allow: readonly string[] = []) {
    this.allowList = allow;
    this.#allowed = allow.map(parseRange);
  }

  /** Why a callback may not be delivered to `address` (an IP address); undefined if it may. */
  refusal(address: string): string | undefined {
    let parsed: Address;
    try {
      parsed = ipaddr.parse(address);
    } catch {
      return `${address} is not an IP address`;
    }
    // An IPv6 form that reaches an IPv4 address is judged by the IPv4 address it reaches.
    const embedded = embeddedIPv4(parsed);
    if (this.#isAllowed(parsed) || (embedded && this.#isAllowed(embedded))) {
      return undefined;
    }
    const judged = embedded ?? parsed;
    const range = judged.range();
    if (range === "unicast") {
      return undefined;
    }
    const shown = embedded ? `${address} (${embedded.toString()})` : address;
    const metadata = metadataAddresses.has(judged.toString()) ? " (a cloud metadata service)" : "";
    return `${shown} is ${rangeWords[range] ?? `a ${range} address`}${metadata}`;
  }

  /**
   * The refusal for a callback URL that names its host literally (an IP address in any
   * spelling the URL parser accepts); undefined for a host name, which is checked once
   * resolved, when the callback is delivered.
   */
  refusalOfUrl(url: URL): string | undefined {
    return this.refusalOfHost(url.hostname);
  }

  /** refusalOfUrl() for a host as written in a URL (an IPv6 one with or without brackets). */
  refusalOfHost(hostname: string): string | undefined {
    const host = hostname.startsWith("[") ? hostname.slice(1, -1) : hostname;
    return ipaddr.isValid(host) ? this.refusal(host) : undefined;
  }

  /** How to allow `address`, for a refusal's message. */
  static howToAllow(address: string): string {
    const host = address.startsWith("[") ? address.slice(1, -1) : address;
    let range = `${host}/32`;
    try {
      range = ipaddr.parse(host).kind() === "ipv6" ? `${host}/128` : `${host}/32`;
    } catch {
      // not an address: keep the IPv4 form
    }
    return `to deliver there, start the platform with --callback-allow ${range} (or RUNLET_CALLBACK_ALLOW=${range})`;
  }

  #isAllowed(address: Address): boolean {
    return this.#allowed.some(
      ([range, bits]) => range.kind() === address.kind() && address.match(range, bits),
    );
  }
}

/** An allow-list as written in a flag or variable: comma- or space-separated. */
export function parseAllowList(text: string | undefined): string[] {
  return (text ?? "")
    .split(/[\s,]+/)
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
}

function parseRange(entry: string): [Address, number] {
  try {
    if (entry.includes("/")) {
      return ipaddr.parseCIDR(entry);
    }
    const address = ipaddr.parse(entry);
    return [address, address.kind() === "ipv6" ? 128 : 32];
  } catch {
    throw new UserError(
      "RUNLET_INVALID_REQUEST",
      `Callback allow-list entry "${entry}" is not an IP address or CIDR range; use e.g. 127.0.0.1/32,10.1.0.0/16,::1/128.`,
    );
  }
}

/** The IPv4 address an IPv6 one reaches: mapped (::ffff:a.b.c.d), NAT64 (64:ff9b::/96), 6to4. */
function embeddedIPv4(address: Address): IPv4 | undefined {
  if (address.kind() !== "ipv6") {
    return undefined;
  }
  const v6 = address as IPv6;
  const bytes = v6.toByteArray();
  if (v6.isIPv4MappedAddress()) {
    return v6.toIPv4Address();
  }
  if (v6.match(nat64Prefix, 96)) {
    return new ipaddr.IPv4(bytes.slice(12, 16));
  }
  if (v6.match(sixToFourPrefix, 16)) {
    return new ipaddr.IPv4(bytes.slice(2, 6));
  }
  return undefined;
}
