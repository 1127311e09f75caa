/**
 * The token the dashboard calls the API with. It lives in sessionStorage: one tab's, gone when
 * the tab closes, and not handed to a tab opened from here with noopener or typed by hand, so
 * a page a function serves on this same origin, opened by itself, finds nothing there. It is
 * only ever sent in an Authorization header, never in a URL, so no log or history records it.
 */
const key = "runlet.token";

export function savedToken(): string | undefined {
  return sessionStorage.getItem(key) ?? undefined;
}

export function saveToken(token: string): void {
  sessionStorage.setItem(key, token);
}

export function forgetToken(): void {
  sessionStorage.removeItem(key);
}
