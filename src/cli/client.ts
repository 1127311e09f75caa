/** A typed client for the gateway's API, used by every client command. */
import type { Readable } from "node:stream";
import { Agent, request, type Dispatcher } from "undici";
import { looksLikeToken } from "../auth/token-format.js";
import { UserError, type ErrorCode } from "../errors.js";
import type { ClientTarget } from "./client-config.js";

type Method = "GET" | "POST" | "PUT" | "DELETE" | "HEAD" | "PATCH" | "OPTIONS";

export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Readable;
}

export interface InvokeOptions {
  readonly method: string;
  readonly path: string;
  readonly query: readonly [string, string][];
  readonly headers: Record<string, string>;
  readonly body: Buffer | undefined;
}

export class GatewayClient {
  readonly target: ClientTarget;
  /** Trusts the --ca certificate; undefined uses undici's global dispatcher. */
  readonly #dispatcher: Dispatcher | undefined;

  constructor(target: ClientTarget) {
    this.target = target;
    this.#dispatcher =
      target.ca === undefined ? undefined : new Agent({ connect: { ca: target.ca } });
  }

  async json<T>(method: Method, path: string, body?: unknown): Promise<T> {
    const response = await this.raw(method, path, {
      body: body === undefined ? undefined : JSON.stringify(body),
      headers: body === undefined ? {} : { "content-type": "application/json" },
    });
    const text = await readText(response.body);
    if (response.status >= 400) {
      throw apiError(response.status, text);
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }

  async raw(
    method: Method,
    path: string,
    options: { body?: string | Buffer; headers?: Record<string, string>; auth?: boolean } = {},
  ): Promise<RawResponse> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.auth !== false && this.target.token && headers["authorization"] === undefined) {
      headers["authorization"] = `Bearer ${this.target.token}`;
    }
    let response: Dispatcher.ResponseData;
    try {
      response = await request(`${this.target.gateway}${this.#inNamespace(path)}`, {
        method,
        headers,
        body: options.body,
        ...(this.#dispatcher && { dispatcher: this.#dispatcher }),
      });
    } catch (error) {
      throw new UserError(
        "RUNLET_GATEWAY_UNREACHABLE",
        `Cannot reach the Runlet gateway at ${this.target.gateway} (${(error as Error).message}). Is \`runlet up\` running? Point to another one with --gateway URL or RUNLET_GATEWAY.`,
        { cause: error },
      );
    }
    if (response.statusCode === 401 && options.auth !== false) {
      await response.body.dump();
      throw new UserError(
        "RUNLET_NOT_LOGGED_IN",
        this.target.token
          ? `The gateway at ${this.target.gateway} refused the token. Log in again: runlet login --gateway ${this.target.gateway} --token TOKEN`
          : `The gateway at ${this.target.gateway} needs the admin token. Log in with: runlet login --token TOKEN (\`runlet up\` printed it; it is also in <data-dir>/admin-token), or set RUNLET_TOKEN.`,
      );
    }
    return { status: response.statusCode, headers: response.headers, body: response.body };
  }

  /** The same gateway and credentials, acting in `namespace`. */
  withNamespace(namespace: string): GatewayClient {
    return new GatewayClient({ ...this.target, namespace });
  }

  /**
   * The control API path with the target's namespace (`?namespace=`), when one is set and the
   * path names none; calls and other paths as they are.
   */
  #inNamespace(path: string): string {
    const namespace = this.target.namespace;
    if (
      namespace === undefined ||
      !/^\/(api\/v1|system)\//.test(path) ||
      /[?&]namespace=/.test(path)
    ) {
      return path;
    }
    return `${path}${path.includes("?") ? "&" : "?"}namespace=${encodeURIComponent(namespace)}`;
  }

  /** How a call addresses function `name`: NAME.NAMESPACE when a namespace is set. */
  address(name: string): string {
    const namespace = this.target.namespace;
    return namespace === undefined || name.includes(".") ? name : `${name}.${namespace}`;
  }

  /**
   * Calls a function. The token goes only to a function that needs it (`auth: required`): a
   * function is somebody's code, and a public one has no use for the admin token (issue 13).
   */
  async invoke(name: string, options: InvokeOptions): Promise<RawResponse> {
    return this.raw(
      options.method.toUpperCase() as Method,
      invocationPath("function", this.address(name), options),
      { body: options.body, headers: options.headers, auth: await this.#needsToken(name) },
    );
  }

  /** Queues a durable async call; resolves to its call id. Sends the token as invoke() does. */
  async invokeAsync(name: string, options: InvokeOptions): Promise<string> {
    const response = await this.raw(
      options.method.toUpperCase() as Method,
      invocationPath("async-function", this.address(name), options),
      { body: options.body, headers: options.headers, auth: await this.#needsToken(name) },
    );
    const text = await readText(response.body);
    if (response.status !== 202) {
      throw apiError(response.status, text);
    }
    return (JSON.parse(text) as { callId: string }).callId;
  }

  /**
   * Whether calls to `name` need the token, asked of the control API (with the token, which
   * goes to the gateway only). Without a token, or when the gateway does not say, the call
   * goes without one; a function that needs it then answers 401.
   */
  async #needsToken(name: string): Promise<boolean> {
    if (!this.target.token) {
      return false;
    }
    const response = await this.raw("GET", `/api/v1/functions/${encodeURIComponent(name)}`, {
      auth: false,
      headers: { authorization: `Bearer ${this.target.token}` },
    });
    const text = await readText(response.body);
    if (response.status === 403) {
      // A token that may call but not read (role invoker, an invoke key) goes with the call:
      // it is scoped to calling, and the gateway strips it before the function sees the call.
      return looksLikeToken(this.target.token);
    }
    if (response.status !== 200) {
      return false;
    }
    try {
      const auth = (JSON.parse(text) as FunctionAuth).config?.auth;
      return auth === "required";
    } catch {
      return false;
    }
  }
}

/** What the control API says of a function, as far as invoking it goes. */
interface FunctionAuth {
  readonly config?: { readonly auth?: string };
}

function invocationPath(
  route: "function" | "async-function",
  name: string,
  options: InvokeOptions,
): string {
  const query = new URLSearchParams(options.query).toString();
  const sub =
    options.path === "/" || options.path === ""
      ? ""
      : options.path.startsWith("/")
        ? options.path
        : `/${options.path}`;
  return `/${route}/${encodeURIComponent(name)}${sub}${query ? `?${query}` : ""}`;
}

async function readText(body: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) {
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** The server's `{error: {code, message}}` as a UserError the CLI prints as is. */
export function apiError(status: number, text: string): UserError {
  try {
    const parsed = JSON.parse(text) as {
      error?: { code?: string; message?: string } & Record<string, unknown>;
    };
    if (parsed.error?.message) {
      const { code, message, ...details } = parsed.error;
      return new UserError((code as ErrorCode | undefined) ?? "RUNLET_API_ERROR", message, {
        status,
        details,
      });
    }
  } catch {
    // Not our JSON error shape: show the text.
  }
  return new UserError(
    "RUNLET_API_ERROR",
    `The gateway answered HTTP ${status}: ${text.slice(0, 500)}`,
    { status },
  );
}
