/** Calls to the gateway's API with the session's token, and its error bodies as ApiError. */

/** An answer of the API that was not a success: `{"error": {"code", "message"}}`. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** The error an answer carries, from its body when it has the API's shape. */
export async function errorOf(response: Response): Promise<ApiError> {
  const text = await response.text();
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    if (typeof body.error?.code === "string" && typeof body.error.message === "string") {
      return new ApiError(response.status, body.error.code, body.error.message);
    }
  } catch {
    // Not JSON: fall through to the status line.
  }
  return new ApiError(
    response.status,
    "HTTP_" + response.status,
    text.slice(0, 500) || response.statusText,
  );
}

/** The namespace of objects no namespace was given for. */
export const defaultNamespace = "openfaas-fn";

/** What every view is given: the token's API, in the namespace the dashboard shows. */
export interface Api {
  /** fetch with the token, in the namespace; throws ApiError on 4xx/5xx. */
  request(path: string, init?: RequestInit): Promise<Response>;
  json<T>(path: string, init?: RequestInit): Promise<T>;
  readonly token: string;
  readonly namespace: string;
  /** A control API path with `?namespace=` (what `request` sends), for a fetch of its own. */
  inNamespace(path: string): string;
  /** How a call addresses function `name`: NAME, or NAME.NAMESPACE outside the default one. */
  address(name: string): string;
}

/** An Api for `token` in `namespace`; `onRefused` runs when the gateway no longer accepts it. */
export function apiFor(token: string, onRefused: () => void, namespace = defaultNamespace): Api {
  const inNamespace = (path: string): string =>
    namespace === defaultNamespace || !/^\/(api\/v1|system)\//.test(path)
      ? path
      : `${path}${path.includes("?") ? "&" : "?"}namespace=${encodeURIComponent(namespace)}`;
  const request = async (path: string, init: RequestInit = {}): Promise<Response> => {
    const headers = new Headers(init.headers);
    headers.set("authorization", `Bearer ${token}`);
    const response = await fetch(inNamespace(path), { ...init, headers, credentials: "omit" });
    if (response.status === 401) {
      onRefused();
    }
    if (!response.ok) {
      throw await errorOf(response);
    }
    return response;
  };
  return {
    token,
    namespace,
    inNamespace,
    address: (name) => (namespace === defaultNamespace ? name : `${name}.${namespace}`),
    request,
    async json<T>(path: string, init?: RequestInit): Promise<T> {
      const response = await request(path, init);
      return (response.status === 204 ? undefined : await response.json()) as T;
    },
  };
}

/** Who a token is, as the gateway says (GET /api/v1/whoami). */
export interface Identity {
  readonly kind: "admin" | "token" | "key";
  readonly name: string;
  readonly namespace: string;
  readonly role: string;
}

/** Checks a token against the gateway: resolves to who it is when it is accepted. */
export async function checkToken(token: string): Promise<Identity> {
  const response = await fetch("/api/v1/whoami", {
    headers: { authorization: `Bearer ${token}` },
    credentials: "omit",
  });
  if (!response.ok) {
    throw await errorOf(response);
  }
  return (await response.json()) as Identity;
}
