import { systemError } from '../../seam/system-error';

/**
 * A cap on the bytes registered in the PDs that share it (a listener's
 * connections): a registration past it fails with ENOMEM, as one past
 * RLIMIT_MEMLOCK does, and the bytes come back when the MR is closed.
 */
export class PinBudget {
  #used = 0n;

  constructor(readonly limit: bigint) {}

  get used(): bigint {
    return this.#used;
  }

  get exhausted(): boolean {
    return this.#used >= this.limit;
  }

  charge(bytes: bigint, syscall: string): void {
    if (this.#used + bytes > this.limit) {
      throw systemError('ENOMEM', syscall, `${syscall} failed with ENOMEM: ${bytes} bytes more would pass the listener's maxPinnedBytes (${this.limit}; ${this.#used} in use by its connections)`);
    }
    this.#used += bytes;
  }

  refund(bytes: bigint): void {
    this.#used -= bytes;
  }
}
