/**
 * The calls in flight on one framed connection, by stream id. Not a Map: a Map under this
 * churn (tens of thousands of set/delete a second, its size swinging between 0 and the
 * concurrency) rehashes often, and each table it leaves behind in the old generation still
 * points at the calls that were in it, so they and everything they hold survive young
 * collections until the next full one (measured: a tenth of a small call's allocations
 * promoted). Here calls sit in an array that only grows.
 *
 * A stream id is the slot in its low 16 bits and the slot's use count above them, so a late
 * frame for a call that was cancelled is not taken for the call now in its slot (65,535 later
 * calls would have to pass through that one slot first).
 */
export const maxStreams = 0x1_0000;

export class StreamTable<T extends { readonly id: number }> {
  readonly #slots: (T | undefined)[] = [];
  /** Slots free for reuse; the most recently freed first. */
  readonly #free: number[] = [];
  /** How many times each slot has been taken. */
  readonly #uses: number[] = [];
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** A fresh stream id, or undefined when all maxStreams slots hold calls. */
  nextId(): number | undefined {
    const slot = this.#free.at(-1) ?? this.#slots.length;
    if (slot >= maxStreams) {
      return undefined;
    }
    // 1 … 0xffff, so an id is never 0 and always fits the frame's 32 bits.
    const uses = ((this.#uses[slot] ?? 0) % 0xffff) + 1;
    return uses * maxStreams + slot;
  }

  /** Puts the call made with the id nextId() just gave. */
  add(entry: T): void {
    const slot = entry.id % maxStreams;
    if (this.#free.at(-1) === slot) {
      this.#free.pop();
    } else if (slot !== this.#slots.length) {
      throw new Error(`stream id ${entry.id} was not the one nextId() gave`);
    }
    this.#slots[slot] = entry;
    this.#uses[slot] = Math.floor(entry.id / maxStreams);
    this.#size += 1;
  }

  get(id: number): T | undefined {
    const entry = this.#slots[id % maxStreams];
    return entry !== undefined && entry.id === id ? entry : undefined;
  }

  delete(id: number): boolean {
    const slot = id % maxStreams;
    const entry = this.#slots[slot];
    if (entry === undefined || entry.id !== id) {
      return false;
    }
    this.#slots[slot] = undefined;
    this.#free.push(slot);
    this.#size -= 1;
    return true;
  }

  values(): T[] {
    return this.#slots.filter((entry): entry is T => entry !== undefined);
  }
}
