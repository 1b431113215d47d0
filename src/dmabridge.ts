import { instanceArg, invalidType, invalidValue, oneOf, optionsArg, outOfRange, toBoolean, toFd, toSize, toStringArg, waitOptions } from './args';
import type { Backend } from '../seam/backend';
import type { IbvDeviceEntry } from '../seam/backend-verbs';
import { RdmaDevice } from './verbs/device';
import type { RdmaListenOptions } from './rdmacm/admission';
import { CmHost, ConnectionOptions, listenRdma, RdmaAddress, RdmaConnection, RdmaListener, RdmaRoute, resolveRoute, ResolveOptions } from './rdmacm/connection';
import { allocCuda, CudaAllocOptions, CudaDevice, CudaDmaBuf, cudaDevices } from './cuda';
import { adoptDmaBuf, DmaBuf, MemfdRange } from './dmabuf';
import { DrmDevice } from './drm';
import { connectUnix, importSocket, listenUnix, type UnixConnectOptions, type UnixListenOptions, socketPair, UnixChannel, UnixListener } from './fd-passing';
import { createMemfd, Memfd } from './memfd';
import { assertOpen, onClose, Resource, teardown } from './resource';
import { SyncFile } from './sync-file';
import { systemError } from '../seam/system-error';
import * as uapi from '../seam/uapi';

export interface DrmNode {
  path: string;
  /** The driver's name, or undefined where the node could not be opened. */
  driver?: string;
  /** Why the node could not be opened (an errno code), if so. */
  error?: string;
}

/**
 * The entry object: one process's view of the kernel (or of the emulated
 * one). Everything made through it closes with it.
 */
export class DmaBridge extends Resource {
  readonly #devices = new Map<string, number>();
  /** The RDMA devices over the contexts the connection manager bound ids to, by context handle. */
  readonly #cmDevices = new Map<number, RdmaDevice>();

  /** @internal use open() */
  constructor(
    /** The seam itself: kernel-level calls with advice on every error. */
    readonly seam: Backend,
    /** Why this backend was chosen. */
    readonly reason: string,
  ) {
    super();
  }

  get backend(): 'native' | 'emulator' {
    return this.seam.name;
  }

  /** A memfd of `size` bytes that allows sealing. */
  createMemfd(size: number | bigint, options?: { name?: string }): Memfd {
    assertOpen(this);
    const bytes = toSize(size, 'size');
    const { name } = optionsArg(options);
    return createMemfd(this.seam, bytes, name === undefined ? 'dmabridge' : toStringArg(name, 'options.name'), this);
  }

  /**
   * A udmabuf of `size` bytes over a memfd made for it (sealed against
   * shrinking, as udmabuf requires). The memfd stays reachable through
   * `memfdRanges` and closes with the buffer.
   */
  createUdmabuf(size: number | bigint, options?: { name?: string }): DmaBuf {
    const memfd = this.createMemfd(size, options);
    try {
      memfd.seal('shrink');
      return this.#udmabuf([{ memfd, offset: 0n, size: memfd.size }], memfd);
    } catch (e) {
      memfd.close();
      throw e;
    }
  }

  /** A udmabuf over one range of a memfd sealed with 'shrink' (default: all of it). */
  udmabufFromMemfd(memfd: Memfd, range?: { offset?: number | bigint; size?: number | bigint }): DmaBuf {
    instanceArg(memfd, Memfd, 'memfd');
    const r = optionsArg(range, 'range');
    const offset = toSize(r.offset ?? 0, 'range.offset');
    if (offset > memfd.size) throw outOfRange('range.offset', `<= ${memfd.size}, the memfd's size`, r.offset);
    return this.#udmabuf([{ memfd, offset, size: toSize(r.size ?? memfd.size - offset, 'range.size') }]);
  }

  /** A udmabuf over several memfd ranges, concatenated in order (UDMABUF_CREATE_LIST). */
  udmabufFromRanges(ranges: Array<{ memfd: Memfd; offset: number | bigint; size: number | bigint }>): DmaBuf {
    if (!Array.isArray(ranges)) throw invalidType('ranges', 'an array of { memfd, offset, size }', ranges);
    return this.#udmabuf(ranges.map((item: unknown, i) => {
      const r = optionsArg(item as MemfdRange, `ranges[${i}]`);
      return { memfd: instanceArg(r.memfd, Memfd, `ranges[${i}].memfd`), offset: toSize(r.offset, `ranges[${i}].offset`), size: toSize(r.size, `ranges[${i}].size`) };
    }), undefined, true);
  }

  #udmabuf(ranges: MemfdRange[], owned?: Memfd, list = false): DmaBuf {
    assertOpen(this);
    for (const r of ranges) assertOpen(r.memfd);
    const dev = this.#device('/dev/udmabuf');
    const items = ranges.map((r) => ({ memfd: r.memfd.fd, offset: r.offset, size: r.size }));
    const fd = list
      ? this.seam.udmabufCreateList(dev, items, uapi.UDMABUF_FLAGS_CLOEXEC)
      : this.seam.udmabufCreate(dev, items[0]!, uapi.UDMABUF_FLAGS_CLOEXEC);
    return adoptDmaBuf(this.seam, fd, this, ranges, owned);
  }

  /** The dma-heaps the kernel offers (/dev/dma_heap/*), e.g. ['system']. */
  heaps(): string[] {
    assertOpen(this);
    try {
      return this.seam.readdir('/dev/dma_heap').sort();
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') return [];
      throw e;
    }
  }

  /** A dma-buf of `size` bytes from a dma-heap (zeroed; the size is rounded up to pages). */
  allocHeap(size: number | bigint, options?: { heap?: string; access?: 'rw' | 'read' }): DmaBuf {
    assertOpen(this);
    const bytes = toSize(size, 'size');
    const o = optionsArg(options);
    const heap = o.heap === undefined ? 'system' : toStringArg(o.heap, 'options.heap');
    if (heap === '' || heap.includes('/') || heap.includes('\0')) throw invalidValue('options.heap', heap, 'must be the name of a heap under /dev/dma_heap');
    const access = o.access === undefined || oneOf(o.access, ['rw', 'read'], 'options.access') === 'rw' ? uapi.O_RDWR : uapi.O_RDONLY;
    const fd = this.seam.dmaHeapAlloc(this.#device(`/dev/dma_heap/${heap}`), bytes, access | uapi.O_CLOEXEC, 0n);
    return adoptDmaBuf(this.seam, fd, this);
  }

  /** The DRM nodes under /dev/dri with their drivers. */
  drmNodes(): DrmNode[] {
    assertOpen(this);
    let names: string[];
    try {
      names = this.seam.readdir('/dev/dri').filter((n) => /^(card|renderD)\d+$/.test(n)).sort();
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') return [];
      throw e;
    }
    return names.map((n) => {
      const path = `/dev/dri/${n}`;
      try {
        using dev = this.openDrm(path);
        return { path, driver: dev.driver };
      } catch (e) {
        return { path, error: (e as { code?: string }).code ?? String(e) };
      }
    });
  }

  /**
   * Opens a DRM node by path, or the first primary node of a driver:
   * `openDrm({ driver: 'vgem' })`.
   */
  openDrm(which: string | { driver: string }): DrmDevice {
    assertOpen(this);
    if (typeof which !== 'string' && (typeof which !== 'object' || which === null || typeof which.driver !== 'string')) {
      throw invalidType('which', "a path or { driver: 'vgem' }", which);
    }
    if (typeof which === 'string') {
      const fd = this.seam.open(which, uapi.O_RDWR | uapi.O_CLOEXEC);
      try {
        return new DrmDevice(this.seam, fd, which, this.seam.drmVersion(fd), this);
      } catch (e) {
        this.seam.close(fd);
        throw e;
      }
    }
    const node = this.drmNodes().find((n) => n.driver === which.driver && n.path.includes('/card'));
    if (!node) throw systemError('ENODEV', 'open', `no DRM primary node of driver '${which.driver}': for a test device, modprobe vgem`);
    return this.openDrm(node.path);
  }

  /**
   * Wraps a dma-buf fd made elsewhere (CUDA, another process). By default it
   * is duplicated and the caller keeps its own fd; `{ adopt: true }` takes it.
   */
  importDmaBuf(fd: number, options?: { adopt?: boolean }): DmaBuf {
    assertOpen(this);
    const own = adopting(options) ? toFd(fd) : this.seam.dup(toFd(fd));
    return adoptDmaBuf(this.seam, own, this);
  }

  /** Wraps a sync_file fd made elsewhere; duplicated unless `{ adopt: true }`. */
  importSyncFile(fd: number, options?: { adopt?: boolean }): SyncFile {
    assertOpen(this);
    const own = adopting(options) ? toFd(fd) : this.seam.dup(toFd(fd));
    try {
      if (this.seam.readlinkFd(own) !== 'anon_inode:sync_file') throw systemError('EINVAL', 'sync_file_fdget', `fd ${fd} is not a sync_file`);
    } catch (e) {
      this.seam.close(own);
      throw e;
    }
    return new SyncFile(this.seam, own, this);
  }

  /** The CUDA GPUs the NVIDIA driver sees, and whether each can export dma-bufs. */
  cudaDevices(): CudaDevice[] {
    assertOpen(this);
    return cudaDevices(this.seam);
  }

  /**
   * GPU memory of `size` bytes (rounded up to host pages) exported as a
   * dma-buf ('nv_dmabuf'). Closing it closes the fd, then frees the memory.
   */
  allocCuda(size: number | bigint, options?: CudaAllocOptions): CudaDmaBuf {
    assertOpen(this);
    const bytes = toSize(size, 'size');
    return allocCuda(this.seam, this, bytes, optionsArg(options));
  }

  /**
   * Listens on a Unix socket at `path` for peers that pass dma-bufs (the
   * path is removed on close). The socket file is 0600 unless
   * `options.mode` says otherwise; a stale socket of this user's at `path`
   * is replaced, anything else there is EADDRINUSE.
   */
  listenUnix(path: string, options?: UnixListenOptions): UnixListener {
    assertOpen(this);
    return listenUnix(this.seam, this, path, optionsArg(options));
  }

  /** Connects to a Unix socket listening at `path`; `options.allow` checks who listens there. */
  connectUnix(path: string, options?: UnixConnectOptions): UnixChannel {
    assertOpen(this);
    return connectUnix(this.seam, this, path, optionsArg(options));
  }

  /** A connected pair of Unix sockets; pass one end's fd to a child process. */
  socketPair(): [UnixChannel, UnixChannel] {
    assertOpen(this);
    return socketPair(this.seam, this);
  }

  /** Wraps a Unix socket fd made elsewhere; duplicated unless `{ adopt: true }`. */
  importSocket(fd: number, options?: { adopt?: boolean }): UnixChannel {
    assertOpen(this);
    const own = toFd(fd);
    return importSocket(this.seam, this, own, adopting(options));
  }

  /** The RDMA devices libibverbs sees (rxe0, mlx5_0…). */
  rdmaDevices(): IbvDeviceEntry[] {
    assertOpen(this);
    return this.seam.ibvGetDeviceList();
  }

  /** Opens an RDMA device by name, or the first one. */
  openRdma(name?: string): RdmaDevice {
    assertOpen(this);
    if (name !== undefined) toStringArg(name, 'name');
    const devices = this.rdmaDevices();
    const entry = name === undefined ? devices[0] : devices.find((d) => d.name === name);
    if (!entry) {
      const have = devices.length ? `devices: ${devices.map((d) => d.name).join(', ')}` : 'no RDMA devices: for soft-RoCE, `rdma link add rxe0 type rxe netdev <interface>`';
      throw systemError('ENODEV', 'ibv_open_device', `${name === undefined ? 'no RDMA device' : `no RDMA device '${name}'`} (${have})`);
    }
    const ctx = this.seam.ibvOpenDevice(entry.name);
    try {
      return new RdmaDevice(this.seam, ctx, entry.name, this.seam.ibvQueryDevice(ctx), this);
    } catch (e) {
      this.seam.ibvCloseDevice(ctx);
      throw e;
    }
  }

  /**
   * Listens for RDMA connections (rdma_cm) on `address`: a numeric IP
   * address of an RDMA device's interface ('0.0.0.0' for all) and a port
   * (0 picks one: see the listener's `address`).
   */
  listenRdma(address: RdmaAddress, options?: RdmaListenOptions): RdmaListener {
    assertOpen(this);
    return listenRdma(this.#cmHost(), address, optionsArg(options));
  }

  /**
   * Resolves the address and route to a listening peer. Make PDs and
   * register memory on the route's `device`, then `route.connect()`.
   */
  resolveRdma(to: RdmaAddress, options?: ResolveOptions): Promise<RdmaRoute> {
    assertOpen(this);
    return resolveRoute(this.#cmHost(), to, waitOptions(options));
  }

  /** resolveRdma, then connect: a connection with a PD of its own (`conn.pd`). */
  async connectRdma(to: RdmaAddress, options?: ConnectionOptions & ResolveOptions): Promise<RdmaConnection> {
    using route = await this.resolveRdma(to, options);
    // Awaited here: the route must outlive the connecting.
    return await route.connect(options);
  }

  #cmHost(): CmHost {
    return {
      seam: this.seam,
      owner: this,
      onOwnerClose: (cancel) => onClose(this, cancel),
      cmDevice: (ctx, name) => {
        let device = this.#cmDevices.get(ctx);
        if (!device || device.closed) {
          device = new RdmaDevice(this.seam, ctx, name, this.seam.ibvQueryDevice(ctx), this, false);
          this.#cmDevices.set(ctx, device);
        }
        return device;
      },
    };
  }

  /** A device node opened once and kept for the life of this object. */
  #device(path: string): number {
    const known = this.#devices.get(path);
    if (known !== undefined) return known;
    const { seam } = this;
    const fd = seam.open(path, uapi.O_RDWR | uapi.O_CLOEXEC);
    this.#devices.set(path, fd);
    teardown(this, () => seam.close(fd));
    return fd;
  }
}

/** Whether an import takes the caller's fd (`{ adopt: true }`) rather than a duplicate. */
function adopting(options: { adopt?: boolean } | undefined): boolean {
  const { adopt } = optionsArg(options);
  return adopt === undefined ? false : toBoolean(adopt, 'options.adopt');
}
