/** Small hooks the views share: polling the API, and the route in the URL's fragment. */
import { useEffect, useState } from "preact/hooks";
import type { ApiError } from "./api.js";

export interface Polled<T> {
  readonly data: T | undefined;
  readonly error: ApiError | Error | undefined;
  /** Loads again now. */
  readonly reload: () => void;
}

/** Calls `load` now and every `intervalMs` while mounted; a new `key` starts over. */
export function usePoll<T>(load: () => Promise<T>, intervalMs: number, key: string): Polled<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<Error | undefined>(undefined);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async (): Promise<void> => {
      try {
        const value = await load();
        if (!stopped) {
          setData(value);
          setError(undefined);
        }
      } catch (caught) {
        if (!stopped) {
          setError(caught instanceof Error ? caught : new Error(String(caught)));
        }
      }
      if (!stopped) {
        timer = setTimeout(() => void run(), intervalMs);
      }
    };
    void run();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [key, intervalMs, tick]);
  return { data, error, reload: () => setTick((n) => n + 1) };
}

export type Route =
  | { readonly page: "functions" }
  | { readonly page: "function"; readonly name: string }
  | { readonly page: "deploy"; readonly name?: string };

function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, "");
  const fn = /^\/functions\/([^/?]+)$/.exec(path);
  if (fn?.[1]) {
    return { page: "function", name: decodeURIComponent(fn[1]) };
  }
  const deploy = /^\/deploy(?:\?name=([^&]*))?$/.exec(path);
  if (deploy) {
    return { page: "deploy", ...(deploy[1] ? { name: decodeURIComponent(deploy[1]) } : {}) };
  }
  return { page: "functions" };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const changed = () => setRoute(parseRoute(location.hash));
    addEventListener("hashchange", changed);
    return () => removeEventListener("hashchange", changed);
  }, []);
  return route;
}

export function functionHref(name: string): string {
  return `#/functions/${encodeURIComponent(name)}`;
}
