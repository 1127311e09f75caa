/**
 * Delivers a finished async call to its callback URL: a POST with the function's response
 * headers and body, plus headers naming the call. Any 2xx is delivered; anything else
 * (another status, a refused connection, a timeout) is a failure the queue retries.
 *
 * Only to addresses the policy allows (callback-address.ts, issue 13), checked on the address
 * each connection is actually made to: a host name is resolved once, every address it resolves
 * to is checked, and the socket connects to those checked addresses (no second lookup that DNS
 * rebinding could answer differently); TLS still names and verifies the original host.
 * Redirects are not followed.
 */
import { lookup as dnsLookup } from "node:dns/promises";
import type { LookupAddress } from "node:dns";
import type { LookupFunction } from "node:net";
import { Agent, buildConnector, request, type Dispatcher } from "undici";
import type { PlatformCredentials } from "../router/credentials.js";
import type { DueCallback } from "../store/call-store.js";
import { CallbackAddressPolicy } from "./callback-address.js";

/**
 * Headers not passed on from the function's response: they describe a connection or a body
 * we re-frame, or they are credentials, which a callback target never gets.
 */
const notForwarded = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "content-length",
  "host",
  "trailer",
  "upgrade",
  "te",
  "authorization",
  "proxy-authorization",
  "cookie",
  "set-cookie",
]);

export interface CallbackOutcome {
  readonly delivered: boolean;
  /** The target's address is not allowed: nothing was sent, and retrying will not help. */
  readonly refused: boolean;
  readonly status: number | undefined;
  readonly error: string | undefined;
}

/** Resolves a host name to every address it has (tests answer without DNS). */
export type ResolveHost = (hostname: string) => Promise<LookupAddress[]>;

const resolveWithDns: ResolveHost = (hostname) =>
  dnsLookup(hostname, { all: true, verbatim: true });

/** Why a connection to a callback target was not made. */
export class CallbackRefused extends Error {
  constructor(
    message: string,
    /** The address refused, for the hint on how to allow it. */
    readonly address: string,
  ) {
    super(message);
  }
}

export interface CallbackTransport {
  readonly policy: CallbackAddressPolicy;
  readonly dispatcher: Dispatcher;
  /** Never sent to a callback target, in any header. */
  readonly credentials: PlatformCredentials;
}

/**
 * The connection pool callbacks go through: every connection it makes goes to an address
 * `policy` allows, or is refused before a packet is sent.
 */
export function callbackDispatcher(
  policy: CallbackAddressPolicy,
  resolve: ResolveHost = resolveWithDns,
): Dispatcher {
  const lookup: LookupFunction = (hostname, options, callback) => {
    resolve(hostname).then(
      (addresses) => {
        const refusal = firstRefusal(policy, addresses);
        if (refusal !== undefined) {
          refusal.message = `${hostname} resolves to ${refusal.message}`;
          callback(refusal, "", 0);
          return;
        }
        if (addresses.length === 0) {
          callback(new Error(`${hostname} resolves to no address`), "", 0);
          return;
        }
        const first = addresses[0] as LookupAddress;
        if (options.all) {
          (callback as unknown as (error: null, addresses: LookupAddress[]) => void)(
            null,
            addresses,
          );
        } else {
          callback(null, first.address, first.family);
        }
      },
      (error: unknown) => callback(error as NodeJS.ErrnoException, "", 0),
    );
  };
  const connect = buildConnector({ lookup });
  const guarded: buildConnector.connector = (options, callback) => {
    // A literal address is connected to without a lookup: checked here instead.
    const literal = policy.refusalOfHost(options.hostname);
    if (literal !== undefined) {
      callback(new CallbackRefused(literal, options.hostname), null);
      return;
    }
    connect(options, (...args) => {
      const [error, socket] = args;
      if (error) {
        callback(error, null);
        return;
      }
      // The peer the socket reached, checked again: the address actually connected to.
      const peer = socket.remoteAddress;
      const refusal =
        peer === undefined ? "a connection without a peer address" : policy.refusal(peer);
      if (refusal !== undefined) {
        socket.destroy();
        callback(new CallbackRefused(refusal, peer ?? ""), null);
        return;
      }
      callback(null, socket);
    });
  };
  return new Agent({ connect: guarded });
}

function firstRefusal(
  policy: CallbackAddressPolicy,
  addresses: readonly LookupAddress[],
): CallbackRefused | undefined {
  // One refused address refuses the name: which one a connection would pick is not ours.
  for (const { address } of addresses) {
    const refusal = policy.refusal(address);
    if (refusal !== undefined) {
      return new CallbackRefused(refusal, address);
    }
  }
  return undefined;
}

export async function deliverCallback(
  callback: DueCallback,
  signal: AbortSignal,
  transport: CallbackTransport,
): Promise<CallbackOutcome> {
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(callback.result?.headers ?? {})) {
    const name = key.toLowerCase();
    const text = Array.isArray(value) ? value.join(", ") : value;
    if (!notForwarded.has(name) && !transport.credentials.carries(text)) {
      headers[name] = text;
    }
  }
  headers["x-call-id"] = callback.id;
  headers["x-function-name"] = callback.functionName;
  headers["x-function-status"] = String(callback.statusCode ?? 0);
  headers["x-duration-seconds"] = ((callback.durationMs ?? 0) / 1000).toFixed(6);
  headers["x-runlet-call-state"] = callback.state;
  if (callback.result?.truncated) {
    headers["x-runlet-result-truncated"] = "true";
  }
  let url: URL;
  try {
    url = new URL(callback.url);
  } catch {
    return refused(`${callback.url.slice(0, 200)} is not a URL`, undefined);
  }
  const literal = transport.policy.refusalOfUrl(url);
  if (literal !== undefined) {
    return refused(literal, url.hostname);
  }
  try {
    const response = await request(url, {
      method: "POST",
      headers,
      body: callback.result?.body ?? Buffer.alloc(0),
      signal,
      dispatcher: transport.dispatcher,
    });
    await response.body.dump().catch(() => undefined);
    const delivered = response.statusCode >= 200 && response.statusCode < 300;
    return {
      delivered,
      refused: false,
      status: response.statusCode,
      error: delivered ? undefined : `the callback URL answered ${response.statusCode}`,
    };
  } catch (error) {
    const refusal = refusalIn(error);
    if (refusal) {
      return refused(refusal.message, refusal.address);
    }
    const reason = signal.aborted ? signal.reason : error;
    const cause = (error as { cause?: unknown }).cause;
    const detail =
      cause instanceof Error ? `${errorText(reason)} (${cause.message})` : errorText(reason);
    return {
      delivered: false,
      refused: false,
      status: undefined,
      error: `the callback failed: ${detail}`,
    };
  }
}

function refused(reason: string, address: string | undefined): CallbackOutcome {
  const hint = address ? `; ${CallbackAddressPolicy.howToAllow(address)}` : "";
  return {
    delivered: false,
    refused: true,
    status: undefined,
    error: `the callback was refused, nothing was sent: ${reason}${hint}`,
  };
}

function refusalIn(error: unknown): CallbackRefused | undefined {
  for (let current = error, depth = 0; current && depth < 5; depth += 1) {
    if (current instanceof CallbackRefused) {
      return current;
    }
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
