import { Access, syncFlags } from './access';
import type { Backend } from '../seam/backend';
import { Resource } from './resource';
import { systemError } from '../seam/system-error';
import * as uapi from '../seam/uapi';

/**
 * A shared mapping of a file. `view` is the mapped memory itself (zero-copy).
 * unmap() (or closing the file) detaches the view before the memory goes
 * away, so a stale view reads as empty instead of faulting.
 */
export class Mapping extends Resource {
  #view: Uint8Array | undefined;

  constructor(
    protected readonly seam: Backend,
    view: Uint8Array,
    readonly access: Access,
    parent: Resource,
  ) {
    super(parent);
    this.#view = view;
  }

  get view(): Uint8Array {
    if (!this.#view) throw systemError('EBADF', 'munmap', 'the mapping was unmapped: map the buffer again');
    return this.#view;
  }

  unmap(): void {
    this.close();
  }

  protected release(): void {
    const view = this.#view;
    this.#view = undefined;
    if (view) this.seam.munmap(view);
  }
}

/**
 * A mapping of a dma-buf. CPU access is bracketed by DMA_BUF_IOCTL_SYNC:
 * begin() waits for the device fences that conflict and makes the memory
 * coherent for the CPU; end() hands it back. Both are required for exporters
 * whose memory is not cache-coherent.
 */
export class DmaBufMapping extends Mapping {
  #active: Access | undefined;

  constructor(seam: Backend, private readonly fd: number, view: Uint8Array, access: Access, parent: Resource) {
    super(seam, view, access, parent);
  }

  /** Starts CPU access; the returned object ends it when disposed. */
  begin(access: Access = this.access): Disposable & { end(): void } {
    this.assertOpen();
    if (this.#active) throw systemError('EBUSY', 'DMA_BUF_IOCTL_SYNC', `CPU access (${this.#active}) is already in progress: end() it first`);
    if (!covers(this.access, access)) throw systemError('EACCES', 'DMA_BUF_IOCTL_SYNC', `the mapping is ${this.access}-only: cannot begin ${access} access`);
    this.seam.dmaBufSync(this.fd, uapi.DMA_BUF_SYNC_START | syncFlags(access));
    this.#active = access;
    const end = () => this.end();
    return { end, [Symbol.dispose]: end };
  }

  /** Ends the CPU access begun last; does nothing if none is in progress. */
  end(): void {
    const access = this.#active;
    if (!access) return;
    this.#active = undefined;
    this.seam.dmaBufSync(this.fd, uapi.DMA_BUF_SYNC_END | syncFlags(access));
  }

  get accessing(): Access | undefined {
    return this.#active;
  }

  protected override release(): void {
    // Ending CPU access flushes what the CPU wrote on non-coherent exporters.
    try {
      this.end();
    } finally {
      super.release();
    }
  }
}

function covers(mapped: Access, wanted: Access): boolean {
  return mapped === 'rw' || mapped === wanted;
}
