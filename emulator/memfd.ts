/// <reference lib="es2024.arraybuffer" />
// shmem objects (the pages behind a memfd or a GEM object) and memfds.
import * as uapi from '../seam/uapi';
import { systemError, systemErrorWhy } from '../seam/system-error';
import { F_SEAL_EXEC } from './abi';
import type { FileObject, MappedView, OpenFile, Vma } from './files';
import { Memory, MOUNT } from './machine';

const F_ALL_SEALS = uapi.F_SEAL_SEAL | uapi.F_SEAL_SHRINK | uapi.F_SEAL_GROW | uapi.F_SEAL_WRITE |
  uapi.F_SEAL_FUTURE_WRITE | F_SEAL_EXEC;
const WRITE_SEALS = uapi.F_SEAL_WRITE | uapi.F_SEAL_FUTURE_WRITE;
/** tmpfs's s_maxbytes on 64-bit: MAX_LFS_FILESIZE. */
const MAX_LFS_FILESIZE = 2n ** 63n - 1n;
/** The largest growable ArrayBuffer V8 makes (Node 20): a memfd's size limit here. */
const MAX_GROWABLE = 2 ** 32;

/**
 * The pages of a shmem inode, as one ArrayBuffer that grows and shrinks in
 * place, so views of it (mappings, udmabufs) stay on the same memory. A view
 * past a shrunk end reads as empty where the kernel would raise SIGBUS.
 */
export class Shmem {
  readonly buffer: ArrayBuffer;
  #users = 1;
  /** Pins by udmabufs (memfd_pin_folios). */
  pins = 0;
  /** Shared mappings that may write (VM_SHARED|VM_MAYWRITE). */
  writableMappings = 0;

  constructor(private readonly memory: Memory, maxSize: number) {
    this.buffer = new ArrayBuffer(0, { maxByteLength: maxSize });
  }

  get size(): number {
    return this.buffer.byteLength;
  }

  /** Returns false where memory is short. */
  resize(size: number): boolean {
    const grow = size - this.size;
    if (grow > 0 && !this.memory.charge(grow)) return false;
    if (grow < 0) this.memory.uncharge(-grow);
    this.buffer.resize(size);
    return true;
  }

  get(): this {
    this.#users++;
    return this;
  }

  put(): void {
    if (--this.#users === 0) this.resize(0);
  }

  /** A shared view, or for MAP_PRIVATE a copy (COW, where the emulator never sees later writes to the file). */
  map(offset: number, length: number, shared: boolean): Uint8Array {
    const view = new Uint8Array(this.buffer, offset, length);
    return shared ? view : view.slice();
  }
}

/** A memfd: a shmem file with seals. */
export class MemfdFile implements FileObject {
  readonly inode;
  readonly shmem: Shmem;
  seals: number;
  /** Executable mode bits: memfds are 0777 unless MFD_NOEXEC_SEAL. */
  readonly executable: boolean;

  constructor(memory: Memory, ino: bigint, readonly name: string, allowSealing: boolean, noexec: boolean) {
    this.inode = { ino, mntId: MOUNT.shm };
    this.shmem = new Shmem(memory, Math.min(memory.limit, MAX_GROWABLE));
    this.executable = !noexec;
    this.seals = noexec ? F_SEAL_EXEC : allowSealing ? 0 : uapi.F_SEAL_SEAL;
  }

  dname(): string {
    return `/memfd:${this.name} (deleted)`;
  }

  llseek(file: OpenFile, offset: bigint, whence: number): bigint {
    // SEEK_DATA and SEEK_HOLE are not modelled: the emulator keeps no holes.
    const base = { [uapi.SEEK_SET]: 0n, [uapi.SEEK_CUR]: file.pos, [uapi.SEEK_END]: BigInt(this.shmem.size) }[whence];
    if (base === undefined) throw systemError('EINVAL', 'lseek');
    const pos = base + offset;
    if (pos < 0n || pos > MAX_LFS_FILESIZE) throw systemError('EINVAL', 'lseek');
    file.pos = pos;
    return pos;
  }

  mmap(file: OpenFile, vma: Vma): MappedView {
    if (this.seals & WRITE_SEALS && vma.shared && vma.prot & uapi.PROT_WRITE) throw systemError('EPERM', 'mmap');
    const end = vma.offset + BigInt(vma.length);
    if (end > BigInt(this.shmem.size)) {
      throw systemErrorWhy('EINVAL', 'mmap', 'the emulator cannot map past the end of a file (the kernel maps it and raises SIGBUS on access)');
    }
    const view = this.shmem.map(Number(vma.offset), vma.length, vma.shared);
    const dontneed = vma.shared ? () => {} : (start: number, end: number) => this.#reread(view, Number(vma.offset), start, end);
    // Since 6.7, a write seal makes later read-only shared mappings non-writable for good.
    if (!vma.shared || !file.writable || this.seals & WRITE_SEALS) return { view, dontneed };
    this.shmem.writableMappings++;
    return { view, dontneed, unmap: () => this.shmem.writableMappings-- };
  }

  /** A private mapping (at `offset` in the file) dropped its pages [start, end): it shows the file's bytes there again. */
  #reread(view: Uint8Array, offset: number, start: number, end: number): void {
    const last = Math.min(offset + end, this.shmem.size);
    if (offset + start < last) view.set(this.shmem.map(offset + start, last - offset - start, true), start);
  }

  truncate(length: bigint): void {
    const size = BigInt(this.shmem.size);
    if ((length < size && this.seals & uapi.F_SEAL_SHRINK) || (length > size && this.seals & uapi.F_SEAL_GROW)) {
      throw systemError('EPERM', 'ftruncate');
    }
    if (length > BigInt(this.shmem.buffer.maxByteLength) || !this.shmem.resize(Number(length))) {
      throw systemErrorWhy('ENOMEM', 'ftruncate', 'the emulated machine is out of memory');
    }
  }

  /** memfd_add_seals after the VFS checks, in the kernel's order. */
  addSeals(seals: number): void {
    if (this.seals & uapi.F_SEAL_SEAL) throw systemError('EPERM', 'fcntl');
    if (seals & uapi.F_SEAL_WRITE && !(this.seals & uapi.F_SEAL_WRITE)) {
      // mapping_deny_writable, then memfd_wait_for_pins (which gives up with EBUSY).
      if (this.shmem.writableMappings > 0 || this.shmem.pins > 0) throw systemError('EBUSY', 'fcntl');
    }
    // F_SEAL_EXEC on an executable memfd implies the write seals, without the checks above.
    if (seals & F_SEAL_EXEC && this.executable) {
      seals |= uapi.F_SEAL_SHRINK | uapi.F_SEAL_GROW | WRITE_SEALS;
    }
    this.seals |= seals;
  }

  release(): void {
    this.shmem.put();
  }
}

export function validSeals(seals: number): boolean {
  return (seals & ~F_ALL_SEALS) === 0;
}
