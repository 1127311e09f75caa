/**
 * NATS server addresses as `runlet up --nats` takes them, credentials included: the nats
 * client reads no credentials from a URL, so they are taken out of it here and passed as
 * connect options. The forms are the nats CLI's: `nats://user:password@host:4222`, or
 * `nats://token@host:4222` (a user with no password is a token).
 */
import { connect, ErrorCode, type ConnectionOptions, type NatsConnection } from "nats";
import { UserError } from "../errors.js";

/** The part of the nats client's options that says where and who: spread it into connect(). */
export type NatsServerOptions = Pick<ConnectionOptions, "servers" | "user" | "pass" | "token">;

/** One or more URLs: an array, or one string of comma-separated URLs. */
export type NatsServers = string | readonly string[];

function urlsOf(servers: NatsServers): string[] {
  const list = typeof servers === "string" ? servers.split(",") : [...servers];
  return list.map((s) => s.trim()).filter((s) => s !== "");
}

function parse(url: string): URL {
  try {
    return new URL(url.includes("://") ? url : `nats://${url}`);
  } catch {
    throw new UserError(
      "RUNLET_INVALID_REQUEST",
      `${url} is not a NATS server URL; write it as nats://HOST:4222`,
    );
  }
}

/**
 * Connect options for `servers`. Every URL that carries credentials must carry the same ones
 * (the client sends one set to whichever server it reaches).
 */
export function natsServerOptions(servers: NatsServers): NatsServerOptions {
  const bare: string[] = [];
  let credentials: { user: string; pass: string } | undefined;
  for (const url of urlsOf(servers)) {
    const parsed = parse(url);
    const found = {
      user: decodeURIComponent(parsed.username),
      pass: decodeURIComponent(parsed.password),
    };
    if (found.user !== "" || found.pass !== "") {
      if (
        credentials !== undefined &&
        (credentials.user !== found.user || credentials.pass !== found.pass)
      ) {
        throw new UserError(
          "RUNLET_INVALID_REQUEST",

          "the NATS server URLs carry different credentials; the client sends one set, so give all of them the same user and password",
        );
      }
      credentials = found;
    }
    parsed.username = "";
    parsed.password = "";
    bare.push(parsed.toString().replace(/\/$/, ""));
  }
  if (credentials === undefined) {
    return { servers: bare };
  }
  return credentials.pass === ""
    ? { servers: bare, token: credentials.user }
    : { servers: bare, user: credentials.user, pass: credentials.pass };
}

/** `servers` fit to print: a password or a token is shown as `***`. */
export function redactNatsServers(servers: NatsServers): string {
  return urlsOf(servers)
    .map((url) => {
      const parsed = parse(url);
      if (parsed.password !== "") {
        parsed.password = "***";
      } else if (parsed.username !== "") {
        parsed.username = "***";
      }
      return parsed.toString().replace(/\/$/, "");
    })
    .join(",");
}

/**
 * `servers` with `password` set on each URL that names a user and no password: so the
 * password can come from the environment (a Kubernetes Secret) while the user is in the URL.
 */
export function withNatsPassword(servers: NatsServers, password: string | undefined): string {
  const urls = urlsOf(servers);
  if (password === undefined || password === "") {
    return urls.join(",");
  }
  return urls
    .map((url) => {
      const parsed = parse(url);
      if (parsed.username === "") {
        throw new UserError(
          "RUNLET_INVALID_REQUEST",

          `RUNLET_NATS_PASSWORD is set but ${redactNatsServers(url)} names no user; write it as nats://USER@HOST:4222`,
        );
      }
      if (parsed.password === "") {
        parsed.password = encodeURIComponent(password);
      }
      return parsed.toString().replace(/\/$/, "");
    })
    .join(",");
}

/**
 * Connects to `servers` (credentials in the URLs) with `options`; a server that refuses the
 * credentials, or none that answers, is said as the operator's mistake to fix, not a crash.
 */
export async function connectNats(
  servers: NatsServers,
  options: Omit<ConnectionOptions, keyof NatsServerOptions> = {},
): Promise<NatsConnection> {
  const where = natsServerOptions(servers);
  try {
    return await connect({ ...options, ...where });
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === ErrorCode.AuthorizationViolation || code === ErrorCode.AuthenticationExpired) {
      throw new UserError(
        "RUNLET_NATS_UNAUTHORIZED",
        `The NATS server at ${redactNatsServers(servers)} refused ${where.user !== undefined || where.token !== undefined ? "the credentials given" : "a client without credentials"}: give its user and password as nats://USER:PASSWORD@HOST:4222, or the user in the URL and the password in RUNLET_NATS_PASSWORD.`,
        { cause: error },
      );
    }
    if (code === ErrorCode.ConnectionRefused) {
      throw new UserError(
        "RUNLET_NATS_UNAVAILABLE",
        `The NATS server at ${redactNatsServers(servers)} cannot be reached; start it, or check runlet up --nats.`,
        { cause: error },
      );
    }
    throw error;
  }
}
