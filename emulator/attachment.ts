// dma-buf attachments (dma_buf_dynamic_attach and friends in
// drivers/dma-buf/dma-buf.c): how an importing device holds a buffer it does
// not own. A dynamic importer supplies move_notify and maps the pages again
// after each move; a pinned one asks the exporter to keep the buffer in place
// (dma_buf_pin) and maps it once.
import { systemError } from '../seam/system-error';
import type { DmaBufObject } from './dmabuf';

/** Where an importer's mapping reaches the buffer. */
export type Reach = 'peer-to-peer' | 'system-memory';

/** What the importing driver gives dma_buf_dynamic_attach (its dma_buf_attach_ops). */
export interface Importer {
  /** The exporter moved the buffer: the importer's mapping is stale. Absent: the importer pins. */
  moveNotify?(): void;
  /** The exporter took the buffer back for good; nothing can map it again. */
  revoke(): void;
}

export class Attachment {
  #pinned = false;
  #detached = false;

  constructor(readonly dmaBuf: DmaBufObject, readonly importer: Importer) {}

  /** dma_buf_attachment_is_dynamic: the importer handles moves. */
  get dynamic(): boolean {
    return this.importer.moveNotify !== undefined;
  }

  /** dma_buf_pin: the exporter keeps the buffer where it is now, or first moves it where it can stay (ENOMEM: no room there). */
  pin(syscall: string): void {
    if (this.dmaBuf.exporter.pin?.(this) === false) throw systemError('ENOMEM', syscall);
    this.#pinned = true;
  }

  /**
   * dma_buf_map_attachment: the buffer's pages as the importing device
   * reaches them now, and through what. The exporter waits for its move
   * (kernel-usage fences) before handing them out.
   */
  map(): { pages: Uint8Array[]; reach: Reach } {
    const { exporter } = this.dmaBuf;
    return { pages: exporter.pages(), reach: exporter.placement?.() === 'device' ? 'peer-to-peer' : 'system-memory' };
  }

  /** dma_buf_detach, unpinning first. */
  detach(): void {
    if (this.#detached) return;
    this.#detached = true;
    if (this.#pinned) this.dmaBuf.exporter.unpin?.(this);
    this.dmaBuf.attachments.delete(this);
  }
}
