/** At most N builds at once (each may run a compiler or an install on every core); the rest queue in order. */
export class BuildSlots {
  readonly #size: number;
  #busy = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(size: number) {
    this.#size = Math.max(1, size);
  }

  /** Builds running or queued ahead of a new one. */
  get ahead(): number {
    return Math.max(0, this.#busy - this.#size + 1) + this.#waiting.length;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.#busy >= this.#size) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#busy += 1;
    }
    try {
      return await work();
    } finally {
      const next = this.#waiting.shift();
      if (next) {
        // The slot passes straight to the next build.
        next();
      } else {
        this.#busy -= 1;
      }
    }
  }
}
