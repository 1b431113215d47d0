// A QP's send or receive queue: first in, first out. Array.shift() moved
// every request still queued each time the head completed (a quarter of the
// time of a 64-byte write); this advances an index instead, and drops what
// completed once it is half the array.

export class WorkQueue<T> {
  #items: Array<T | undefined> = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  /** The oldest entry. */
  peek(): T | undefined {
    return this.#items[this.#head];
  }

  push(item: T): void {
    this.#items.push(item);
  }

  /** Removes and returns the oldest entry. */
  shift(): T | undefined {
    if (this.length === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head === this.#items.length) this.clear();
    else if (this.#head >= 64 && this.#head * 2 >= this.#items.length) {
      this.#items.splice(0, this.#head);
      this.#head = 0;
    }
    return item;
  }

  clear(): void {
    this.#items = [];
    this.#head = 0;
  }

  /** Empties the queue; returns what it held, oldest first. */
  drain(): T[] {
    const out = this.#items.slice(this.#head) as T[];
    this.clear();
    return out;
  }
}
