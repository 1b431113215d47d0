// Indexes handed out as the kernel's xa_alloc_cyclic does (rxe's object
// pools), and rxe's memory keys made from them.
import { randomInt } from 'node:crypto';

/**
 * Free indexes in [min, max], handed out cyclically: each search starts after
 * the last index given, so a freed index comes back only once the whole range
 * has gone round. A stale key or QP number therefore names nothing for as long
 * as possible, rather than a newer object.
 */
export class CyclicIds {
  readonly #used = new Set<number>();
  #next: number;

  constructor(private readonly min: number, private readonly max: number) {
    this.#next = min;
  }

  /** undefined when every index is in use. */
  alloc(): number | undefined {
    const span = this.max - this.min + 1;
    for (let i = 0; i < span; i++) {
      const id = this.min + ((this.#next - this.min + i) % span);
      if (this.#used.has(id)) continue;
      this.#used.add(id);
      this.#next = id === this.max ? this.min : id + 1;
      return id;
    }
    return undefined;
  }

  free(id: number): void {
    this.#used.delete(id);
  }
}

/** rxe_mr_init: the pool index above a random low byte; lkey and rkey are both this key. */
export function memoryKey(index: number): number {
  return ((index << 8) | randomInt(256)) >>> 0;
}

export function keyIndex(key: number): number {
  return key >>> 8;
}
