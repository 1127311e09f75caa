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

/** What every view is given: the token's API. */
export interface Api {
  /** fetch with the token; throws ApiError on 4xx/5xx. */
  request(path: string, init?: RequestInit): Promise<Response>;
  json<T>(path: string, init?: RequestInit): Promise<T>;
  readonly token: string;
}

/** An Api for `token`; `onRefused` runs when the gateway no longer accepts it. */
export function apiFor(token: string, onRefused: () => void): Api {
  const request = async (path: string, init: RequestInit = {}): Promise<Response> => {
    const headers = new Headers(init.headers);
    headers.set("authorization", `Bearer ${token}`);
    const response = await fetch(path, { ...init, headers, credentials: "omit" });
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
    request,
    async json<T>(path: string, init?: RequestInit): Promise<T> {
      const response = await request(path, init);
      return (response.status === 204 ? undefined : await response.json()) as T;
    },
  };
}

/** Checks a token against the gateway: resolves when it is accepted. */
export async function checkToken(token: string): Promise<void> {
  const response = await fetch("/api/v1/functions", {
    headers: { authorization: `Bearer ${token}` },
    credentials: "omit",
  });
  if (!response.ok) {
    throw await errorOf(response);
  }
}
