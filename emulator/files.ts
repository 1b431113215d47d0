// Open file descriptions (struct file), the operations each kind of file
// has, and a process's fd table.
import { O_ACCMODE } from '../seam/uapi';
import type { WaitQueue } from './poll';

export interface Inode {
  readonly ino: bigint;
  /** The mount the file lives on, as fdinfo's mnt_id shows it. */
  readonly mntId: number;
}

/** A mapping request that the VFS has already checked. */
export interface Vma {
  /** Byte offset into the file, page-aligned. */
  offset: bigint;
  length: number;
  prot: number;
  /** MAP_SHARED (VM_MAYSHARE), as opposed to MAP_PRIVATE. */
  shared: boolean;
}

export interface MappedView {
  view: Uint8Array;
  /** Called at munmap. */
  unmap?(): void;
  /**
   * MADV_DONTNEED over bytes [start, end) of the view: a private mapping
   * reads its file again. Absent where the file maps its pages by PFN
   * (dma-buf exporters, DRM), which madvise refuses.
   */
  dontneed?(start: number, end: number): void;
}

/**
 * What a file is (its private_data) and the file_operations it has. An
 * operation left out answers as the VFS does for a file without it.
 */
export interface FileObject {
  readonly inode: Inode;
  /** What readlink(/proc/self/fd/N) shows. */
  dname(): string;
  /** The lines fdinfo shows after pos, flags, mnt_id and ino. */
  showFdinfo?(file: OpenFile): string;
  /** Absent: ESPIPE. */
  llseek?(file: OpenFile, offset: bigint, whence: number): bigint;
  /** Absent: ENODEV. */
  mmap?(file: OpenFile, vma: Vma): MappedView;
  /** Absent: always readable and writable (DEFAULT_POLLMASK), and epoll refuses the file (EPERM). */
  poll?(file: OpenFile, events: number): number;
  readonly waitQueue?: WaitQueue;
  /** The last reference to the file went away. */
  release?(): void;
}

/** struct file: shared by every fd, mapping and kernel reference to it. */
export class OpenFile {
  #refs = 1;
  pos = 0n;

  /** `flags` is f_flags, without O_CLOEXEC (that belongs to the fd). */
  constructor(readonly object: FileObject, readonly flags: number) {}

  /** OPEN_FMODE: O_RDONLY reads, O_WRONLY writes, O_RDWR both, 3 neither. */
  get readable(): boolean {
    return (((this.flags & O_ACCMODE) + 1) & 1) !== 0;
  }

  get writable(): boolean {
    return (((this.flags & O_ACCMODE) + 1) & 2) !== 0;
  }

  /** Live references: fds, mappings, and the kernel's own. */
  get refs(): number {
    return this.#refs;
  }

  get(): this {
    this.#refs++;
    return this;
  }

  put(): void {
    if (--this.#refs === 0) this.object.release?.();
  }
}

export interface FdEntry {
  file: OpenFile;
  cloexec: boolean;
  /** Opened by libibverbs or librdmacm: close() refuses it, as the addon does. */
  library?: boolean;
  /** The stops of the live watches on it: close() refuses, and closing it otherwise stops them first. */
  watches?: Set<() => void>;
}

/** Lowest free fd first; 0, 1 and 2 belong to stdio, as in a real process. */
export class FdTable {
  readonly #fds = new Map<number, FdEntry>();

  /** Takes over one reference to `file`. */
  install(file: OpenFile, cloexec: boolean, library = false): number {
    const fd = this.lowestFree();
    this.#fds.set(fd, { file, cloexec, library });
    return fd;
  }

  /** The number the next install takes (0–2 stand for stdio). */
  lowestFree(): number {
    let fd = 3;
    while (this.#fds.has(fd)) fd++;
    return fd;
  }

  get(fd: number): FdEntry | undefined {
    return this.#fds.get(fd);
  }

  /** Returns false where `fd` is not open. */
  close(fd: number): boolean {
    const entry = this.#fds.get(fd);
    if (!entry) return false;
    for (const stop of [...(entry.watches ?? [])]) stop();
    this.#fds.delete(fd);
    entry.file.put();
    return true;
  }

  fds(): number[] {
    return [...this.#fds.keys()].sort((a, b) => a - b);
  }
}
