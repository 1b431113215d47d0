import { Access, syncFlags } from './access';
import { optionsArg, toInt } from './args';
import type { Backend } from '../seam/backend';
import { assertOpen, Resource, teardown } from './resource';
import { systemError } from '../seam/system-error';
import * as uapi from '../seam/uapi';

/**
 * A shared mapping of a file. `view` is the mapped memory itself (zero-copy).
 * unmap() (or closing the file) detaches the view before the memory goes
 * away, so a stale view reads as empty instead of faulting.
 */
export class Mapping extends Resource {
  readonly #mapped: { view?: Uint8Array };
  readonly #seam: Backend;

  constructor(
    seam: Backend,
    view: Uint8Array,
    readonly access: Access,
    parent: Resource,
  ) {
    super(parent);
    this.#seam = seam;
    const mapped: { view?: Uint8Array } = { view };
    this.#mapped = mapped;
    teardown(this, () => {
      const v = mapped.view;
      mapped.view = undefined;
      if (v) seam.munmap(v);
    });
  }

  get view(): Uint8Array {
    const { view } = this.#mapped;
    if (!view) throw systemError('EBADF', 'munmap', 'the mapping was unmapped: map the buffer again');
    return view;
  }

  unmap(): void {
    this.close();
  }

  /**
   * Drops the process's pages of `range` (madvise MADV_DONTNEED; `offset`
   * on a page): the file keeps its bytes, and the next touch finds them
   * again. What mirrors the page tables sees it as the kernel's MMU
   * notifiers report it: on-demand MRs over the range are invalidated and
   * fault the pages in afresh at the next RDMA access.
   */
  discard(range: { offset?: number; length?: number } = {}): void {
    const view = this.view;
    const { offset: at, length: len } = optionsArg(range, 'range');
    const offset = toInt(at ?? 0, 'range.offset', 0, view.length);
    const length = toInt(len ?? view.length - offset, 'range.length', 0, view.length - offset);
    this.#seam.madvise(view.subarray(offset, offset + length), uapi.MADV_DONTNEED);
  }
}

/**
 * A mapping of a dma-buf. CPU access is bracketed by DMA_BUF_IOCTL_SYNC:
 * begin() waits for the device fences that conflict and makes the memory
 * coherent for the CPU; end() hands it back. Both are required for exporters
 * whose memory is not cache-coherent.
 */
export class DmaBufMapping extends Mapping {
  readonly #cpu: { active?: Access };
  readonly #seam: Backend;
  readonly #fd: number;

  constructor(seam: Backend, fd: number, view: Uint8Array, access: Access, parent: Resource) {
    super(seam, view, access, parent);
    this.#seam = seam;
    this.#fd = fd;
    const cpu: { active?: Access } = {};
    this.#cpu = cpu;
    // Ending CPU access flushes what the CPU wrote on non-coherent exporters.
    teardown(this, () => endAccess(seam, fd, cpu));
  }

  /** Starts CPU access; the returned object ends it when disposed. */
  begin(access: Access = this.access): Disposable & { end(): void } {
    assertOpen(this);
    if (this.#cpu.active) throw systemError('EBUSY', 'DMA_BUF_IOCTL_SYNC', `CPU access (${this.#cpu.active}) is already in progress: end() it first`);
    if (!covers(this.access, access)) throw systemError('EACCES', 'DMA_BUF_IOCTL_SYNC', `the mapping is ${this.access}-only: cannot begin ${access} access`);
    this.#seam.dmaBufSync(this.#fd, uapi.DMA_BUF_SYNC_START | syncFlags(access));
    this.#cpu.active = access;
    const end = () => this.end();
    return { end, [Symbol.dispose]: end };
  }

  /** Ends the CPU access begun last; does nothing if none is in progress. */
  end(): void {
    endAccess(this.#seam, this.#fd, this.#cpu);
  }

  get accessing(): Access | undefined {
    return this.#cpu.active;
  }
}

function endAccess(seam: Backend, fd: number, cpu: { active?: Access }): void {
  const access = cpu.active;
  if (!access) return;
  cpu.active = undefined;
  seam.dmaBufSync(fd, uapi.DMA_BUF_SYNC_END | syncFlags(access));
}

function covers(mapped: Access, wanted: Access): boolean {
  return mapped === 'rw' || mapped === wanted;
}
