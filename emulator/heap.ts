// dma-heaps (drivers/dma-buf/dma-heap.c, heaps/system_heap.c).
import { systemError, systemErrorWhy } from '../seam/system-error';
import * as uapi from '../seam/uapi';
import { DmaBufObject, Exporter } from './dmabuf';
import type { FileObject, MappedView, Vma } from './files';
import { Device, Machine, MOUNT } from './machine';

const SYSCALL = 'DMA_HEAP_IOCTL_ALLOC';
const PAGE = BigInt(uapi.PAGE_SIZE);
const U64_MAX = 2n ** 64n - 1n;

/** /dev/dma_heap/<name>. */
export class DmaHeap implements Device {
  readonly inode;

  constructor(private readonly machine: Machine, readonly name: string) {
    this.inode = { ino: machine.nextIno(), mntId: MOUNT.devtmpfs };
  }

  open(): FileObject {
    return new DmaHeapFile(this.machine, this);
  }
}

export class DmaHeapFile implements FileObject {
  readonly inode;

  constructor(private readonly machine: Machine, private readonly heap: DmaHeap) {
    this.inode = heap.inode;
  }

  dname(): string {
    return `/dev/dma_heap/${this.heap.name}`;
  }

  /**
   * dma_heap_ioctl_allocate, then the system heap's allocate. The length is
   * rounded up to pages and not written back: its size is lseek's answer.
   * The caller installs the fd, close-on-exec where fdFlags has O_CLOEXEC.
   */
  allocate(len: bigint, fdFlags: number, heapFlags: bigint, syscall = SYSCALL): DmaBufObject {
    if (fdFlags & ~(uapi.O_CLOEXEC | uapi.O_ACCMODE) || heapFlags !== 0n) throw systemError('EINVAL', syscall);
    const size = ((len + PAGE - 1n) & ~(PAGE - 1n)) & U64_MAX;
    if (size === 0n) throw systemError('EINVAL', syscall);
    const memory = this.machine.memory;
    if (size > BigInt(memory.limit) || !memory.charge(Number(size))) {
      throw systemErrorWhy('ENOMEM', syscall, 'the emulated machine is out of memory');
    }
    const exporter = new SystemHeapBuffer(this.heap.name, Number(size), () => memory.uncharge(Number(size)));
    return new DmaBufObject(this.machine, { exporter, size, flags: fdFlags });
  }
}

/** Zeroed pages (__GFP_ZERO), mapped with remap_pfn_range. */
class SystemHeapBuffer implements Exporter {
  readonly #pages: ArrayBuffer;

  constructor(readonly expName: string, size: number, readonly release: () => void) {
    this.#pages = new ArrayBuffer(size);
  }

  mmap(vma: Vma): MappedView {
    const view = new Uint8Array(this.#pages, Number(vma.offset), vma.length);
    if (vma.shared) return { view };
    // remap_pfn_range refuses a partial COW mapping, and the heap maps one page at a time.
    if (vma.length > uapi.PAGE_SIZE) throw systemError('EINVAL', 'mmap');
    return { view: view.slice() };
  }

  pages(): Uint8Array[] {
    return [new Uint8Array(this.#pages)];
  }
}
