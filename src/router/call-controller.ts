/**
 * A call's cancellation on the router's hot path. It offers what the router and the frame
 * channel use of AbortController and AbortSignal (abort with a reason, `aborted`, `reason`,
 * "abort" listeners) without what those cost on every call: an EventTarget, its listener
 * records and option parsing. Most calls are never cancelled and have one listener at most.
 * APIs that need a real AbortSignal get one from abortSignalOf() (provider/http-invoke.ts).
 */
import type { CancelSignal } from "../provider/types.js";

export class CallController implements CancelSignal {
  #aborted = false;
  #reason: unknown;
  #listeners: (() => void)[] | undefined;

  get aborted(): boolean {
    return this.#aborted;
  }

  get reason(): unknown {
    return this.#reason;
  }

  /** The controller is its own signal, as AbortController's `signal` for code that reads one. */
  get signal(): CancelSignal {
    return this;
  }

  abort(reason?: unknown): void {
    if (this.#aborted) {
      return;
    }
    this.#aborted = true;
    this.#reason = reason ?? new DOMException("This operation was aborted", "AbortError");
    const listeners = this.#listeners;
    this.#listeners = undefined;
    for (const listener of listeners ?? []) {
      listener();
    }
  }

  /** As AbortSignal's: a listener added after the abort is never called. Always once. */
  addEventListener(_type: "abort", listener: () => void): void {
    if (this.#aborted) {
      return;
    }
    (this.#listeners ??= []).push(listener);
  }

  removeEventListener(_type: "abort", listener: () => void): void {
    const listeners = this.#listeners;
    const index = listeners ? listeners.indexOf(listener) : -1;
    if (listeners && index !== -1) {
      listeners.splice(index, 1);
    }
  }
}
