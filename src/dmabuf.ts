import { Access, accessArg, pollEvents, syncFlags, VIEW_PROT } from './access';
import { instanceArg, optionsArg, outOfRange, toLength, toSize, toStringArg } from './args';
import type { Backend } from '../seam/backend';
import { FdResource, waitFor } from './fd-resource';
import { parseFdinfo } from './fdinfo';
import { DmaBufMapping } from './mapping';
import type { Memfd } from './memfd';
import { assertOpen, parentOf, Resource, teardown } from './resource';
import { SyncFile } from './sync-file';
import { systemError } from '../seam/system-error';
import * as uapi from '../seam/uapi';
import type { WaitOptions } from './wait';

export interface DmaBufInfo {
  size: bigint;
  /** The exporter: 'udmabuf', the heap's name ('system'), 'drm', 'nv_dmabuf'… */
  exporter: string;
  /** The name set with setName(), or '' when none is set. */
  name: string;
  /** References to the file beyond this fd: dups, mappings, importers. */
  count: number;
  /** Whether the fd was opened for writing (a read-only export cannot be mapped). */
  writable: boolean;
}

/** A range of a memfd that a udmabuf wraps: the same pages, seen two ways. */
export interface MemfdRange {
  memfd: Memfd;
  offset: bigint;
  size: bigint;
}

/**
 * A dma-buf: a buffer shared between devices and the CPU. It may come from
 * udmabuf, a dma-heap, a DRM driver, CUDA, or an fd another program passed in.
 */
export class DmaBuf extends FdResource {
  readonly size: bigint;
  /** The memfd ranges behind a udmabuf; undefined for other exporters. */
  readonly memfdRanges: readonly MemfdRange[] | undefined;
  /** The fd's access mode never changes: read from fdinfo once. */
  #writable: boolean | undefined;

  /**
   * @internal Takes ownership of `fd`, a dma-buf (see adoptDmaBuf). `owned`
   * is a memfd this buffer made and closes with itself.
   */
  constructor(seam: Backend, fd: number, size: bigint, parent: Resource, ranges?: MemfdRange[], owned?: Memfd) {
    super(seam, fd, parent);
    this.size = size;
    this.memfdRanges = ranges && Object.freeze(ranges.map((r) => Object.freeze({ ...r })));
    if (owned) teardown(this, () => owned.close());
  }

  info(): DmaBufInfo {
    assertOpen(this);
    const f = parseFdinfo(this.seam.readFdinfo(this.fd));
    return {
      size: BigInt(f.get('size') ?? this.size),
      exporter: f.get('exp_name') ?? '',
      name: f.get('name') ?? '',
      count: Number(f.get('count') ?? 0),
      writable: (parseInt(f.get('flags') ?? '0', 8) & uapi.O_ACCMODE) === uapi.O_RDWR,
    };
  }

  get exporter(): string {
    return this.info().exporter;
  }

  get name(): string {
    return this.info().name;
  }

  /** Names the buffer (shown in fdinfo and /proc/<pid>/fd); shorter than 32 bytes. */
  setName(name: string): void {
    assertOpen(this);
    toStringArg(name, 'name');
    this.seam.dmaBufSetName(this.fd, name);
  }

  /**
   * Maps the buffer for the CPU. Bracket access with the mapping's
   * begin()/end() (DMA_BUF_IOCTL_SYNC).
   */
  map(access: Access = 'rw', range: { offset?: number | bigint; length?: number | bigint } = {}): DmaBufMapping {
    assertOpen(this);
    const acc = accessArg(access);
    const { offset: at, length: len } = optionsArg(range, 'range');
    const offset = toSize(at ?? 0, 'range.offset');
    if (offset > this.size) throw outOfRange('range.offset', `<= ${this.size}, the size`, at);
    const length = toLength(len ?? this.size - offset, 'range.length');
    if (!(this.#writable ??= this.info().writable)) {
      throw systemError('EACCES', 'mmap', 'this dma-buf was exported read-only, and a JS view of it would crash the process on the first store: export it with write access to map it');
    }
    const view = this.seam.mmap(this.fd, length, VIEW_PROT, uapi.MAP_SHARED, offset);
    return new DmaBufMapping(this.seam, this.fd, view, acc, this);
  }

  /**
   * A sync_file of the fences that `access` would wait for: 'read' gives the
   * writers' fences, 'write' and 'rw' give every fence.
   */
  exportSyncFile(access: Access): SyncFile {
    assertOpen(this);
    const fd = this.seam.dmaBufExportSyncFile(this.fd, syncFlags(accessArg(access)));
    return new SyncFile(this.seam, fd, parentOf(this)!);
  }

  /** Adds a sync_file's fences to the buffer: as a writer for 'write'/'rw', else as a reader. */
  importSyncFile(syncFile: SyncFile, access: Access): void {
    assertOpen(this);
    assertOpen(instanceArg(syncFile, SyncFile, 'syncFile'));
    this.seam.dmaBufImportSyncFile(this.fd, syncFlags(accessArg(access)), syncFile.fd);
  }

  /** True when `access` could start now without waiting on a fence. */
  idle(access: Access): boolean {
    assertOpen(this);
    const events = pollEvents(accessArg(access));
    return (this.seam.poll(this.fd, events) & events) !== 0;
  }

  /** Resolves once the fences that `access` conflicts with have signalled. */
  async waitIdle(access: Access, options?: WaitOptions): Promise<void> {
    await waitFor(this, pollEvents(accessArg(access)), options);
  }
}

/**
 * Wraps an fd as a DmaBuf, taking ownership of it: on any failure the fd is
 * closed, so nothing is left half-made.
 */
export function adoptDmaBuf(seam: Backend, fd: number, parent: Resource, ranges?: MemfdRange[], owned?: Memfd): DmaBuf {
  try {
    if (!seam.readlinkFd(fd).startsWith('/dmabuf:')) {
      throw systemError('EINVAL', 'dma_buf_get', `fd ${fd} is not a dma-buf`);
    }
    return new DmaBuf(seam, fd, seam.lseek(fd, 0n, uapi.SEEK_END), parent, ranges, owned);
  } catch (e) {
    seam.close(fd);
    owned?.close();
    throw e;
  }
}
