// dma_resv: the fences of a buffer, each with the usage it was added for.
import type { DmaFence } from './fence';

/** Ordered as the kernel's enum: a usage includes every one before it. */
export enum Usage {
  Kernel = 0,
  Write = 1,
  Read = 2,
  Bookkeep = 3,
}

/**
 * dma_resv_usage_rw: what an access must wait for. A writer waits for
 * readers too (Read and below); a reader only for writers (Write and below).
 */
export function usageRw(write: boolean): Usage {
  return write ? Usage.Read : Usage.Write;
}

export class DmaResv {
  readonly #entries: Array<{ fence: DmaFence; usage: Usage }> = [];

  /**
   * dma_resv_add_fence: takes the slot of a signalled fence, or of one on the
   * same context that it supersedes with a usage at least as strict.
   */
  add(fence: DmaFence, usage: Usage): void {
    const slot = this.#entries.find((e) =>
      (e.fence.context === fence.context && e.usage >= usage && fence.isLaterOrSame(e.fence)) || e.fence.signaled);
    if (slot) {
      slot.fence = fence;
      slot.usage = usage;
    } else {
      this.#entries.push({ fence, usage });
    }
  }

  /** The unsignalled fences of `usage` or stricter, as the unlocked iterator yields them. */
  pending(usage: Usage): DmaFence[] {
    return this.#entries.filter((e) => e.usage <= usage && !e.fence.signaled).map((e) => e.fence);
  }
}
