// /dev/udmabuf (drivers/dma-buf/udmabuf.c): dma-bufs over the pages of
// sealed memfds.
import type { UdmabufItem } from '../seam/backend';
import { systemError } from '../seam/system-error';
import * as uapi from '../seam/uapi';
import { DmaBufObject, Exporter } from './dmabuf';
import type { FileObject, MappedView, OpenFile, Vma } from './files';
import { Device, Machine, MOUNT } from './machine';
import { MemfdFile, Shmem } from './memfd';

const PAGE = BigInt(uapi.PAGE_SIZE);
const LOFF_MAX = 2n ** 63n - 1n;

/** Module parameters, at their defaults. */
const LIST_LIMIT = 1024;
const SIZE_LIMIT_MB = 64;

export class UdmabufDevice implements Device {
  readonly inode;

  constructor(private readonly machine: Machine, readonly path: string) {
    this.inode = { ino: machine.nextIno(), mntId: MOUNT.devtmpfs };
  }

  open(): FileObject {
    return new UdmabufDeviceFile(this.machine, this);
  }
}

export class UdmabufDeviceFile implements FileObject {
  readonly inode;

  constructor(private readonly machine: Machine, private readonly device: UdmabufDevice) {
    this.inode = device.inode;
  }

  dname(): string {
    return this.device.path;
  }

  /**
   * udmabuf_create, in the kernel's order: every size check before any fd is
   * looked up, then per item the fd (EBADFD, not EBADF), its seals, its range.
   * Flags other than UDMABUF_FLAGS_CLOEXEC are ignored; the caller installs the fd.
   */
  create(items: UdmabufItem[], syscall: string, lookup: (fd: number) => OpenFile | undefined): DmaBufObject {
    if (items.length > LIST_LIMIT) throw systemError('EINVAL', syscall);
    const pageLimit = (BigInt(SIZE_LIMIT_MB) << 20n) / PAGE;
    let pages = 0n;
    for (const item of items) {
      if (item.offset % PAGE !== 0n || item.size % PAGE !== 0n) throw systemError('EINVAL', syscall);
      pages += item.size / PAGE;
      if (pages > pageLimit) throw systemError('EINVAL', syscall);
    }
    if (pages === 0n) throw systemError('EINVAL', syscall);

    const ranges: Range[] = [];
    try {
      for (const item of items) ranges.push(pin(item, syscall, lookup));
    } catch (e) {
      for (const r of ranges) unpin(r.shmem);
      throw e;
    }
    return new DmaBufObject(this.machine, { exporter: new Udmabuf(ranges), size: pages * PAGE, flags: uapi.O_RDWR });
  }
}

interface Range {
  shmem: Shmem;
  offset: number;
  size: number;
}

/** check_memfd_seals, then memfd_pin_folios's range checks. */
function pin(item: UdmabufItem, syscall: string, lookup: (fd: number) => OpenFile | undefined): Range {
  // The item's memfd is a __u32: -1 is simply no open file.
  const file = lookup(item.memfd);
  if (!file) throw systemError('EBADFD', syscall);
  const memfd = file.object;
  if (!(memfd instanceof MemfdFile)) throw systemError('EBADFD', syscall);
  if ((memfd.seals & uapi.F_SEAL_SHRINK) === 0 || memfd.seals & (uapi.F_SEAL_WRITE | uapi.F_SEAL_FUTURE_WRITE)) {
    throw systemError('EINVAL', syscall);
  }
  const end = item.offset + item.size - 1n;
  if (item.offset > LOFF_MAX || item.size === 0n || end >= BigInt(memfd.shmem.size)) {
    throw systemError('EINVAL', syscall);
  }
  memfd.shmem.get().pins++;
  return { shmem: memfd.shmem, offset: Number(item.offset), size: Number(item.size) };
}

function unpin(shmem: Shmem): void {
  shmem.pins--;
  shmem.put();
}

/**
 * The udmabuf exporter. Its pages are the memfds' own pages. Where they are
 * one contiguous run of one memfd, mappings are views of the memfd's memory
 * and alias it live, as in the kernel. A JavaScript view cannot gather
 * scattered pages, so otherwise mappings share one copy of the pages, made
 * at creation and kept coherent at DMA_BUF_IOCTL_SYNC: START copies the
 * pages in, END after a write copies them back. Writes to the memfd between
 * START and END are not seen through such a mapping, and writes through it
 * reach the memfd only at END.
 */
class Udmabuf implements Exporter {
  readonly expName = 'udmabuf';
  readonly #ranges: Range[];
  readonly #copy: Uint8Array | undefined;
  /** The sg table, built by the first SYNC START. */
  #sgBuilt = false;

  constructor(ranges: Range[]) {
    this.#ranges = ranges;
    if (!contiguousRun(ranges)) {
      this.#copy = new Uint8Array(ranges.reduce((n, r) => n + r.size, 0));
      this.#copyIn();
    }
  }

  mmap(vma: Vma): MappedView {
    if (!vma.shared) throw systemError('EINVAL', 'mmap');
    const offset = Number(vma.offset);
    if (this.#copy) return { view: new Uint8Array(this.#copy.buffer, offset, vma.length) };
    const run = this.#ranges[0];
    return { view: run.shmem.map(run.offset + offset, vma.length, true) };
  }

  /** The memfds' own pages: a device reads and writes them, never the CPU mappings' copy. */
  pages(): Uint8Array[] {
    return this.#ranges.map((r) => new Uint8Array(r.shmem.buffer, r.offset, r.size));
  }

  beginCpuAccess(): void {
    this.#sgBuilt = true;
    this.#copyIn();
  }

  endCpuAccess(write: boolean): void {
    if (!this.#sgBuilt) throw systemError('EINVAL', 'DMA_BUF_IOCTL_SYNC');
    if (write) this.#copyOut();
  }

  release(): void {
    for (const r of this.#ranges) unpin(r.shmem);
  }

  #copyIn(): void {
    if (!this.#copy) return;
    let at = 0;
    for (const r of this.#ranges) {
      this.#copy.set(new Uint8Array(r.shmem.buffer, r.offset, r.size), at);
      at += r.size;
    }
  }

  #copyOut(): void {
    if (!this.#copy) return;
    let at = 0;
    for (const r of this.#ranges) {
      new Uint8Array(r.shmem.buffer, r.offset, r.size).set(this.#copy.subarray(at, at + r.size));
      at += r.size;
    }
  }
}

/** True where the ranges follow each other in one shmem object. */
function contiguousRun(ranges: Range[]): boolean {
  return ranges.every((r, i) => i === 0 || (r.shmem === ranges[0].shmem && r.offset === ranges[i - 1].offset + ranges[i - 1].size));
}
