// The emulated machine: its clock, its memory, its device nodes, and the
// counters the kernel hands numbers out from.
import { systemError } from '../seam/system-error';
import { O_ACCMODE, O_RDONLY, SEEK_CUR, SEEK_SET } from '../seam/uapi';
import { O_DIRECTORY } from './abi';
import { Clock } from './clock';
import { DmaFence, stubFence } from './fence';
import type { FileObject, Inode, OpenFile } from './files';
import { BEHAVIOUR, type KernelBehaviour, type KernelVersion } from './kernels';
import { runDueWork } from './work';

/** A device node: each open(2) of it makes a new file object. */
export interface Device {
  readonly inode: Inode;
  open(): FileObject;
}

/** The mounts files live on, as fdinfo's mnt_id shows them. */
export const MOUNT = { anonInode: 15, dmabuf: 16, devtmpfs: 24, shm: 25 } as const;

/**
 * Physical memory. The kernel allocates shmem pages lazily and would fail at
 * fault time; the emulator charges whole objects when they get their size.
 */
export class Memory {
  #used = 0;

  constructor(readonly limit: number) {}

  /** Returns false, charging nothing, where `bytes` do not fit. */
  charge(bytes: number): boolean {
    if (this.#used + bytes > this.limit) return false;
    this.#used += bytes;
    return true;
  }

  uncharge(bytes: number): void {
    this.#used -= bytes;
  }
}

export interface KernelOptions {
  /** The Linux version it imitates. */
  version: KernelVersion;
  /** Time stands still unless a test advances it. */
  manualClock: boolean;
  /** Bytes of memory for memfds, heap buffers and GEM objects. */
  memoryLimit: number;
  /** A clock shared with other machines (those on one emulated network keep one time); `manualClock` is then ignored. */
  clock?: Clock;
}

export class Machine {
  readonly version: KernelVersion;
  /** Where this version answers differently from the others. */
  readonly behaviour: KernelBehaviour;
  readonly clock: Clock;
  readonly memory: Memory;
  /** The one inode all anon_inode files share. */
  readonly anonInode: Inode;
  readonly #devices = new Map<string, Device>();
  // dma_fence_context_alloc starts at 1: context 0 is the stub fence's.
  #fenceContext = 1n;
  #ino = 1000n;
  #dmaBufIno = 0n;
  #stub: DmaFence | undefined;
  readonly #dirInodes = new Map<string, Inode>();

  constructor(options: KernelOptions) {
    this.version = options.version;
    this.behaviour = BEHAVIOUR[options.version];
    this.clock = options.clock ?? new Clock(options.manualClock);
    this.memory = new Memory(options.memoryLimit);
    this.anonInode = { ino: this.nextIno(), mntId: MOUNT.anonInode };
  }

  /**
   * What the devices and timers would have done by now, run before a poll
   * answers: the kernel's own threads (rxe's tasks, hrtimers) do not wait
   * for the program to yield.
   */
  progress(): void {
    this.clock.fireDue();
    runDueWork();
  }

  addDevice(path: string, device: Device): void {
    this.#devices.set(path, device);
  }

  /** The device node at `path`, if any: what sysfs tells of it, without opening it. */
  device(path: string): Device | undefined {
    return this.#devices.get(path);
  }

  /** The node at `path` goes (cdev_device_del): files open on it stay open. */
  removeDevice(path: string): void {
    this.#devices.delete(path);
  }

  /** The file object open(2) makes of `path`. */
  open(path: string, flags: number): FileObject {
    const device = this.#devices.get(path);
    if (device) {
      if (flags & O_DIRECTORY) throw systemError('ENOTDIR', 'open');
      return device.open();
    }
    if (!this.#children(path)) throw systemError('ENOENT', 'open');
    if ((flags & O_ACCMODE) !== O_RDONLY) throw systemError('EISDIR', 'open');
    let inode = this.#dirInodes.get(path);
    if (!inode) this.#dirInodes.set(path, (inode = { ino: this.nextIno(), mntId: MOUNT.devtmpfs }));
    return new Directory(inode, path);
  }

  readdir(path: string): string[] {
    const children = this.#children(path);
    if (children) return children;
    throw systemError(this.#devices.has(path) ? 'ENOTDIR' : 'ENOENT', 'scandir');
  }

  /** The names in a directory, sorted; undefined where `path` is no directory. */
  #children(path: string): string[] | undefined {
    const prefix = path.endsWith('/') ? path : `${path}/`;
    const names = new Set<string>();
    for (const dev of this.#devices.keys()) {
      if (dev.startsWith(prefix)) names.add(dev.slice(prefix.length).split('/')[0]);
    }
    return names.size > 0 ? [...names].sort() : undefined;
  }

  fenceContext(): bigint {
    return this.#fenceContext++;
  }

  /** dma_fence_get_stub(): one signalled fence, stamped when first asked for. */
  stubFence(): DmaFence {
    this.#stub ??= stubFence(this.clock, this.clock.nowNs());
    return this.#stub;
  }

  /** dma-buf inodes count on their own, from 1. */
  dmaBufIno(): bigint {
    return ++this.#dmaBufIno;
  }

  /** get_next_ino(). */
  nextIno(): bigint {
    return this.#ino++;
  }
}

/** A directory of devtmpfs (simple_dir_operations); its entries are read with readdir(). */
class Directory implements FileObject {
  constructor(readonly inode: Inode, private readonly path: string) {}

  dname(): string {
    return this.path;
  }

  /** dcache_dir_lseek. */
  llseek(file: OpenFile, offset: bigint, whence: number): bigint {
    const pos = whence === SEEK_SET ? offset : whence === SEEK_CUR ? file.pos + offset : -1n;
    if (pos < 0n) throw systemError('EINVAL', 'lseek');
    file.pos = pos;
    return pos;
  }
}
