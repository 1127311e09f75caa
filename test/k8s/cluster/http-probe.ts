// The few HTTP(S) calls a test cluster's start needs (readiness probes, bootstrap objects), without a client library.
import { request as httpRequest } from "node:http";
import * as https from "node:https";

export interface HttpResult {
  readonly status: number;
  readonly body: string;
}

export interface HttpOptions {
  readonly token?: string;
  readonly ca?: string;
  /** Skip certificate checks; only for health probes of components with self-signed certs. */
  readonly insecure?: boolean;
  readonly method?: string;
  readonly json?: unknown;
  /** @default 10_000 */
  readonly timeoutMs?: number;
}

/** One HTTP(S) request with a short timeout. */
export function httpCall(url: string, options: HttpOptions = {}): Promise<HttpResult> {
  const target = new URL(url);
  const body = options.json === undefined ? undefined : JSON.stringify(options.json);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const headers: Record<string, string> = { accept: "application/json" };
  if (options.token !== undefined) {
    headers["authorization"] = `Bearer ${options.token}`;
  }
  if (body !== undefined) {
    headers["content-type"] = "application/json";
  }
  return new Promise((resolve, reject) => {
    const request = (target.protocol === "https:" ? https.request : httpRequest)(
      target,
      {
        method: options.method ?? "GET",
        headers,
        timeout: timeoutMs,
        ...(target.protocol === "https:"
          ? { ca: options.ca, rejectUnauthorized: options.insecure !== true }
          : {}),
      },
      (response) => {
        let text = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => {
          text += chunk;
        });
        response.on("end", () => resolve({ status: response.statusCode ?? 0, body: text }));
        response.on("error", reject);
      },
    );
    request.on("timeout", () =>
      request.destroy(new Error(`${url}: no answer within ${String(timeoutMs)} ms`)),
    );
    request.on("error", reject);
    request.end(body);
  });
}

/** The apiserver calls the bootstrap needs, with the CA pinned. */
export class ApiClient {
  readonly #server: string;
  readonly #token: string;
  readonly #ca: string;

  constructor(server: string, token: string, ca: string) {
    this.#server = server;
    this.#token = token;
    this.#ca = ca;
  }

  get(apiPath: string): Promise<HttpResult> {
    return httpCall(`${this.#server}${apiPath}`, { token: this.#token, ca: this.#ca });
  }

  post(apiPath: string, json: unknown): Promise<HttpResult> {
    return httpCall(`${this.#server}${apiPath}`, {
      token: this.#token,
      ca: this.#ca,
      method: "POST",
      json,
    });
  }

  /** True when the named node's Ready condition is True. */
  async nodeIsReady(name: string): Promise<boolean> {
    const res = await this.get(`/api/v1/nodes/${name}`);
    return res.status === 200 && readyCondition(res.body);
  }
}

function readyCondition(body: string): boolean {
  const node: unknown = JSON.parse(body);
  if (
    !isRecord(node) ||
    !isRecord(node["status"]) ||
    !Array.isArray(node["status"]["conditions"])
  ) {
    return false;
  }
  const conditions: unknown[] = node["status"]["conditions"];
  return conditions.some((c) => isRecord(c) && c["type"] === "Ready" && c["status"] === "True");
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
