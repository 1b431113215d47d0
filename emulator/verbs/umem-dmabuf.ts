// ib_umem_dmabuf (drivers/infiniband/core/umem_dmabuf.c): an MR's hold on a
// dma-buf. mlx5 attaches dynamically: its move_notify
// (mlx5_ib_dmabuf_invalidate_cb) zaps the MR's translation and unmaps the
// pages, and the next access takes a page fault that maps them again
// (pagefault_dmabuf_mr). efa attaches through ib_umem_dmabuf_get_pinned:
// pinned and mapped once, so the exporter never moves it.
//
// Revoke (seed 001): the exporter takes the memory back. The MR keeps its key
// (a key handed out again would let a peer's stale rkey reach someone else's
// memory) but no longer translates, so every access through it fails, as an
// mlx5 mkey does once mlx5r_umr_revoke_mr has marked it free (umr.c): its
// key is kept for the MR, and the device refuses the key.
import type { Attachment, Reach } from '../attachment';
import type { DmaBufObject } from '../dmabuf';

export interface DmaBufMrState {
  /** The importer handles moves (move_notify) rather than pinning. */
  dynamic: boolean;
  /** How the device reached the pages when it last mapped them. */
  reach: Reach;
  /** move_notify calls: each left the mapping stale. */
  invalidations: number;
  /** Accesses that found no mapping and mapped the pages again. */
  faults: number;
  revoked: boolean;
}

export class UmemDmabuf {
  readonly #attachment: Attachment;
  #pages: Uint8Array[] | undefined;
  #reach: Reach = 'system-memory';
  #invalidations = 0;
  #faults = 0;
  #revoked = false;

  constructor(readonly dmaBuf: DmaBufObject, dynamic: boolean, syscall: string) {
    this.#attachment = dmaBuf.attach({
      moveNotify: dynamic ? () => this.#invalidate() : undefined,
      revoke: () => {
        this.#revoked = true;
        this.#pages = undefined;
      },
    }, syscall);
    try {
      if (!dynamic) this.#attachment.pin(syscall);
      // Both map at registration: mlx5 populates a dma-buf MR's translation at once.
      ({ pages: this.#pages, reach: this.#reach } = this.#attachment.map());
    } catch (e) {
      this.#attachment.detach();
      throw e;
    }
  }

  /** The pages as the device reaches them now, faulting them in where a move left none; undefined once revoked. */
  pages(): Uint8Array[] | undefined {
    if (this.#revoked) return undefined;
    if (!this.#pages) {
      this.#faults++;
      ({ pages: this.#pages, reach: this.#reach } = this.#attachment.map());
    }
    return this.#pages;
  }

  state(): DmaBufMrState {
    return {
      dynamic: this.#attachment.dynamic, reach: this.#reach, invalidations: this.#invalidations, faults: this.#faults,
      revoked: this.#revoked,
    };
  }

  release(): void {
    this.#attachment.detach();
  }

  #invalidate(): void {
    this.#invalidations++;
    this.#pages = undefined;
  }
}
