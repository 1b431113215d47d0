import { toFd, toSize } from './args';
import type { Backend } from '../seam/backend';
import type { IbvDeviceEntry } from '../seam/backend-verbs';
import { RdmaDevice } from './verbs/device';
import { CmHost, ConnectionOptions, RdmaAddress, RdmaConnection, RdmaListener, RdmaRoute, resolveRoute, ResolveOptions } from './rdmacm/connection';
import { allocCuda, CudaAllocOptions, CudaDevice, CudaDmaBuf, cudaDevices } from './cuda';
import { adoptDmaBuf, DmaBuf, MemfdRange } from './dmabuf';
import { DrmDevice } from './drm';
import { connectUnix, importSocket, listenUnix, socketPair, UnixChannel, UnixListener } from './fd-passing';
import { createMemfd, Memfd } from './memfd';
import { Resource } from './resource';
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
    const devices = this.#devices;
    this.guard(() => devices.forEach((fd) => seam.close(fd)));
  }

  get backend(): 'native' | 'emulator' {
    return this.seam.name;
  }

  /** A memfd of `size` bytes that allows sealing. */
  createMemfd(size: number | bigint, options: { name?: string } = {}): Memfd {
    this.assertOpen();
    return createMemfd(this.seam, toSize(size, 'size'), options.name ?? 'dmabridge', this);
  }

  /**
   * A udmabuf of `size` bytes over a memfd made for it (sealed against
   * shrinking, as udmabuf requires). The memfd stays reachable through
   * `memfdRanges` and closes with the buffer.
   */
  createUdmabuf(size: number | bigint, options: { name?: string } = {}): DmaBuf {
    const memfd = this.createMemfd(size, options);
    try {
      memfd.seal('shrink');
    } catch (e) {
      memfd.close();
      throw e;
    }
    return this.#udmabuf([{ memfd, offset: 0n, size: memfd.size }], memfd);
  }

  /** A udmabuf over one range of a memfd sealed with 'shrink' (default: all of it). */
  udmabufFromMemfd(memfd: Memfd, range: { offset?: number | bigint; size?: number | bigint } = {}): DmaBuf {
    const offset = toSize(range.offset ?? 0, 'offset');
    return this.#udmabuf([{ memfd, offset, size: toSize(range.size ?? memfd.size - offset, 'size') }]);
  }

  /** A udmabuf over several memfd ranges, concatenated in order (UDMABUF_CREATE_LIST). */
  udmabufFromRanges(ranges: Array<{ memfd: Memfd; offset: number | bigint; size: number | bigint }>): DmaBuf {
    if (!Array.isArray(ranges)) throw new TypeError('ranges must be an array of { memfd, offset, size }');
    return this.#udmabuf(ranges.map((r) => ({ memfd: r.memfd, offset: toSize(r.offset, 'offset'), size: toSize(r.size, 'size') })), undefined, true);
  }

  #udmabuf(ranges: MemfdRange[], owned?: Memfd, list = false): DmaBuf {
    this.assertOpen();
    for (const r of ranges) {
      if (!(r.memfd instanceof Memfd)) throw new TypeError('memfd must be a Memfd made by this DmaBridge');
      r.memfd.assertOpen();
    }
    const dev = this.#device('/dev/udmabuf');
    const items = ranges.map((r) => ({ memfd: r.memfd.fd, offset: r.offset, size: r.size }));
    const fd = list
      ? this.seam.udmabufCreateList(dev, items, uapi.UDMABUF_FLAGS_CLOEXEC)
      : this.seam.udmabufCreate(dev, items[0]!, uapi.UDMABUF_FLAGS_CLOEXEC);
    return adoptDmaBuf(this.seam, fd, this, ranges, owned);
  }

  /** The dma-heaps the kernel offers (/dev/dma_heap/*), e.g. ['system']. */
  heaps(): string[] {
    this.assertOpen();
    try {
      return this.seam.readdir('/dev/dma_heap').sort();
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') return [];
      throw e;
    }
  }

  /** A dma-buf of `size` bytes from a dma-heap (zeroed; the size is rounded up to pages). */
  allocHeap(size: number | bigint, options: { heap?: string; access?: 'rw' | 'read' } = {}): DmaBuf {
    this.assertOpen();
    const heap = options.heap ?? 'system';
    if (heap.includes('/')) throw new TypeError(`heap must be a name under /dev/dma_heap, got '${heap}'`);
    const access = options.access === 'read' ? uapi.O_RDONLY : uapi.O_RDWR;
    const fd = this.seam.dmaHeapAlloc(this.#device(`/dev/dma_heap/${heap}`), toSize(size, 'size'), access | uapi.O_CLOEXEC, 0n);
    return adoptDmaBuf(this.seam, fd, this);
  }

  /** The DRM nodes under /dev/dri with their drivers. */
  drmNodes(): DrmNode[] {
    this.assertOpen();
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
    this.assertOpen();
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
  importDmaBuf(fd: number, options: { adopt?: boolean } = {}): DmaBuf {
    this.assertOpen();
    const own = options.adopt ? toFd(fd) : this.seam.dup(toFd(fd));
    return adoptDmaBuf(this.seam, own, this);
  }

  /** Wraps a sync_file fd made elsewhere; duplicated unless `{ adopt: true }`. */
  importSyncFile(fd: number, options: { adopt?: boolean } = {}): SyncFile {
    this.assertOpen();
    const own = options.adopt ? toFd(fd) : this.seam.dup(toFd(fd));
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
    this.assertOpen();
    return cudaDevices(this.seam);
  }

  /**
   * GPU memory of `size` bytes (rounded up to host pages) exported as a
   * dma-buf ('nv_dmabuf'). Closing it closes the fd, then frees the memory.
   */
  allocCuda(size: number | bigint, options: CudaAllocOptions = {}): CudaDmaBuf {
    this.assertOpen();
    return allocCuda(this.seam, this, toSize(size, 'size'), options);
  }

  /** Listens on a Unix socket at `path` for peers that pass dma-bufs (the path is removed on close). */
  listenUnix(path: string, options: { backlog?: number } = {}): UnixListener {
    this.assertOpen();
    return listenUnix(this.seam, this, path, options.backlog);
  }

  /** Connects to a Unix socket listening at `path`. */
  connectUnix(path: string): UnixChannel {
    this.assertOpen();
    return connectUnix(this.seam, this, path);
  }

  /** A connected pair of Unix sockets; pass one end's fd to a child process. */
  socketPair(): [UnixChannel, UnixChannel] {
    this.assertOpen();
    return socketPair(this.seam, this);
  }

  /** Wraps a Unix socket fd made elsewhere; duplicated unless `{ adopt: true }`. */
  importSocket(fd: number, options: { adopt?: boolean } = {}): UnixChannel {
    this.assertOpen();
    return importSocket(this.seam, this, toFd(fd), options.adopt ?? false);
  }

  /** The RDMA devices libibverbs sees (rxe0, mlx5_0…). */
  rdmaDevices(): IbvDeviceEntry[] {
    this.assertOpen();
    return this.seam.ibvGetDeviceList();
  }

  /** Opens an RDMA device by name, or the first one. */
  openRdma(name?: string): RdmaDevice {
    this.assertOpen();
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
  listenRdma(address: RdmaAddress, options: { backlog?: number } = {}): RdmaListener {
    this.assertOpen();
    return RdmaListener.create(this.#cmHost(), address, options.backlog ?? 16);
  }

  /**
   * Resolves the address and route to a listening peer. Make PDs and
   * register memory on the route's `device`, then `route.connect()`.
   */
  resolveRdma(to: RdmaAddress, options: ResolveOptions = {}): Promise<RdmaRoute> {
    this.assertOpen();
    return resolveRoute(this.#cmHost(), to, options);
  }

  /** resolveRdma, then connect: a connection with a PD of its own (`conn.pd`). */
  async connectRdma(to: RdmaAddress, options: ConnectionOptions & ResolveOptions = {}): Promise<RdmaConnection> {
    using route = await this.resolveRdma(to, options);
    // Awaited here: the route must outlive the connecting.
    return await route.connect(options);
  }

  #cmHost(): CmHost {
    return {
      seam: this.seam,
      owner: this,
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
    let fd = this.#devices.get(path);
    if (fd === undefined) {
      fd = this.seam.open(path, uapi.O_RDWR | uapi.O_CLOEXEC);
      this.#devices.set(path, fd);
    }
    return fd;
  }

  protected release(): void {
    for (const fd of this.#devices.values()) this.seam.close(fd);
    this.#devices.clear();
  }
}
