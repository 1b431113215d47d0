// The dma-buf core (drivers/dma-buf/dma-buf.c): the buffer object behind a
// dma-buf fd, its reservation object, and the ioctls every exporter shares.
import { systemError, systemErrorWhy } from '../seam/system-error';
import * as uapi from '../seam/uapi';
import { O_NONBLOCK } from './abi';
import { Attachment, Importer } from './attachment';
import { DmaFence, FenceArray } from './fence';
import { FileObject, MappedView, OpenFile, Vma } from './files';
import { Machine, MOUNT } from './machine';
import { WaitQueue } from './poll';
import { DmaResv, Usage, usageRw } from './resv';
import { SyncFileObject } from './sync-file';

const PAGE = BigInt(uapi.PAGE_SIZE);

/** What an exporter provides (its dma_buf_ops, as far as user space reaches them). */
export interface Exporter {
  readonly expName: string;
  /** Absent: mmap answers EINVAL. */
  mmap?(vma: Vma): MappedView;
  /** The buffer's memory as a device reaches it (its sg table): views of its pages, in order. */
  pages(): Uint8Array[];
  beginCpuAccess?(write: boolean): void;
  endCpuAccess?(write: boolean): void;
  /**
   * dma_buf_ops.pin and unpin: an exporter that has them can move its buffer
   * (dma_buf_is_dynamic); pin keeps it in place, after a move where the
   * exporter will not pin it where it is; false where that move finds no
   * room. Absent: the buffer never moves.
   */
  pin?(attachment: Attachment): boolean;
  unpin?(attachment: Attachment): void;
  /** Where the memory is now. Absent: system memory. */
  placement?(): 'system' | 'device';
  /** The dma-buf's last reference went away. */
  release(): void;
}

export interface ExportInfo {
  exporter: Exporter;
  size: bigint;
  /** O_ACCMODE (and O_NONBLOCK) of the file; other bits are dropped. */
  flags: number;
  /** The exporter's own reservation object, where it has one (a GEM object's). */
  resv?: DmaResv;
}

export class DmaBufObject implements FileObject {
  readonly inode;
  readonly waitQueue = new WaitQueue();
  readonly exporter: Exporter;
  readonly size: bigint;
  readonly resv: DmaResv;
  /** The file whose refcount is the dma-buf's (dmabuf->file). */
  readonly file: OpenFile;
  name: string | undefined;
  readonly attachments = new Set<Attachment>();
  /** The exporter took the buffer back: it can be attached no more. */
  revoked = false;
  // One armed poll callback per direction (dmabuf->cb_in, cb_out).
  #inArmed = false;
  #outArmed = false;

  /** dma_buf_export: the caller holds the file's one reference. */
  constructor(private readonly machine: Machine, info: ExportInfo) {
    this.inode = { ino: machine.dmaBufIno(), mntId: MOUNT.dmabuf };
    this.exporter = info.exporter;
    this.size = info.size;
    this.resv = info.resv ?? new DmaResv();
    this.file = new OpenFile(this, info.flags & (uapi.O_ACCMODE | O_NONBLOCK));
  }

  dname(): string {
    return `/dmabuf:${this.name ?? ''}`;
  }

  showFdinfo(file: OpenFile): string {
    // The kernel prints file_count - 1, leaving out the reference procfs holds while it prints.
    const name = this.name === undefined ? '' : `name:\t${this.name}\n`;
    return `size:\t${this.size}\ncount:\t${file.refs}\nexp_name:\t${this.exporter.expName}\n${name}`;
  }

  /** Only the size can be learnt: SEEK_END or SEEK_SET, offset 0. The position never moves. */
  llseek(_file: OpenFile, offset: bigint, whence: number): bigint {
    const base = whence === uapi.SEEK_END ? this.size : whence === uapi.SEEK_SET ? 0n : undefined;
    if (base === undefined || offset !== 0n) throw systemError('EINVAL', 'lseek');
    return base;
  }

  mmap(_file: OpenFile, vma: Vma): MappedView {
    const pages = (BigInt(vma.length) + PAGE - 1n) / PAGE;
    if (!this.exporter.mmap || vma.offset / PAGE + pages > this.size / PAGE) throw systemError('EINVAL', 'mmap');
    return this.exporter.mmap(vma);
  }

  /**
   * EPOLLIN once the kernel and write fences have signalled, EPOLLOUT once all
   * but bookkeeping ones have. A direction with a callback armed by an earlier
   * poll reads as not ready; the armed callback holds a file reference.
   */
  poll(_file: OpenFile, events: number): number {
    let ready = 0;
    if (events & uapi.POLLOUT && this.#pollDirection(true)) ready |= uapi.POLLOUT;
    if (events & uapi.POLLIN && this.#pollDirection(false)) ready |= uapi.POLLIN;
    return ready;
  }

  #pollDirection(write: boolean): boolean {
    if (write ? this.#outArmed : this.#inArmed) return false;
    const pending = this.resv.pending(usageRw(write));
    if (pending.length === 0) return true;
    this.#setArmed(write, true);
    this.file.get();
    pending[0].addCallback(() => {
      this.#setArmed(write, false);
      this.waitQueue.wake();
      this.file.put();
    });
    return false;
  }

  #setArmed(write: boolean, armed: boolean): void {
    if (write) this.#outArmed = armed;
    else this.#inArmed = armed;
  }

  /** DMA_BUF_IOCTL_SYNC. START blocks (uninterruptibly here) until the conflicting fences signal. */
  sync(flags: number): void {
    const direction = flags & uapi.DMA_BUF_SYNC_RW;
    if (flags & ~(uapi.DMA_BUF_SYNC_RW | uapi.DMA_BUF_SYNC_END) || direction === 0) {
      throw systemError('EINVAL', 'DMA_BUF_IOCTL_SYNC');
    }
    const write = (direction & uapi.DMA_BUF_SYNC_WRITE) !== 0;
    if (flags & uapi.DMA_BUF_SYNC_END) {
      this.exporter.endCpuAccess?.(write);
      return;
    }
    this.exporter.beginCpuAccess?.(write);
    this.machine.clock.sleepUntil(() => this.resv.pending(usageRw(write)).length === 0);
  }

  /** DMA_BUF_SET_NAME: strndup_user(name, 32), so 31 bytes at most. Allowed at any time. */
  setName(name: string): void {
    if (Buffer.byteLength(name) >= uapi.DMA_BUF_NAME_LEN) throw systemError('EINVAL', 'DMA_BUF_SET_NAME');
    this.name = name;
  }

  /** DMA_BUF_IOCTL_EXPORT_SYNC_FILE: READ gets the writers' fences, WRITE everyone's. */
  exportSyncFile(flags: number): OpenFile {
    checkSyncFileFlags(flags, 'DMA_BUF_IOCTL_EXPORT_SYNC_FILE');
    const fences = this.resv.pending(usageRw((flags & uapi.DMA_BUF_SYNC_WRITE) !== 0));
    return SyncFileObject.open(this.machine, this.#singleton(fences));
  }

  /** DMA_BUF_IOCTL_IMPORT_SYNC_FILE: each fence joins as a writer (WRITE set) or a reader. */
  importSyncFile(flags: number, sync: SyncFileObject | undefined): void {
    checkSyncFileFlags(flags, 'DMA_BUF_IOCTL_IMPORT_SYNC_FILE');
    if (!sync) throw systemError('EINVAL', 'DMA_BUF_IOCTL_IMPORT_SYNC_FILE');
    const usage = flags & uapi.DMA_BUF_SYNC_WRITE ? Usage.Write : Usage.Read;
    for (const fence of sync.fence.unwrap()) this.resv.add(fence, usage);
  }

  /** dma_resv_get_singleton, with the stub standing in for no fences. */
  #singleton(fences: DmaFence[]): DmaFence {
    if (fences.length === 0) return this.machine.stubFence();
    if (fences.length === 1) return fences[0];
    return new FenceArray(this.machine.clock, this.machine.fenceContext(), fences);
  }

  /**
   * dma_buf_dynamic_attach. The caller holds a file reference for as long as
   * it stays attached. A revoked buffer answers ENODEV: 6.12 has no revoke
   * to copy, and its memory's device took it back.
   */
  attach(importer: Importer, syscall: string): Attachment {
    if (this.revoked) throw systemErrorWhy('ENODEV', syscall, 'the exporter revoked this dma-buf');
    const attachment = new Attachment(this, importer);
    this.attachments.add(attachment);
    return attachment;
  }

  /** dma_buf_move_notify: the exporter moved the buffer; each dynamic importer hears of it. */
  moveNotify(): void {
    for (const attachment of [...this.attachments]) attachment.importer.moveNotify?.();
  }

  /** The exporter takes the buffer back: every importer loses it, pinned or not. */
  revoke(): void {
    this.revoked = true;
    for (const attachment of [...this.attachments]) attachment.importer.revoke();
  }

  release(): void {
    this.exporter.release();
  }
}

function checkSyncFileFlags(flags: number, syscall: string): void {
  if (flags & ~uapi.DMA_BUF_SYNC_RW || (flags & uapi.DMA_BUF_SYNC_RW) === 0) throw systemError('EINVAL', syscall);
}
