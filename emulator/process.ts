// An emulated process: its fd table and mappings, and the Backend seam as
// the system calls it makes into the emulated kernel.
import type { Backend, Credentials, DrmVersion, DumbBuffer, FileStat, SyncFileInfo, UdmabufItem, Watch } from '../seam/backend';
import type { RdmaAddress, RdmaCmEvent, RdmaConnParam, RdmaIdInfo } from '../seam/backend-rdmacm';
import type {
  IbvAsyncEvent, IbvCompChannel, IbvDeviceAttr, IbvDeviceEntry, IbvPortAttr, IbvQp, IbvQpAttr, IbvQpInit,
} from '../seam/backend-verbs';
import { systemError } from '../seam/system-error';
import * as uapi from '../seam/uapi';
import * as abi from './abi';
import { CudaClient } from './cuda';
import { DmaBufObject } from './dmabuf';
import { DrmFile } from './drm';
import { FdTable, OpenFile } from './files';
import { DmaHeapFile } from './heap';
import type { Machine } from './machine';
import { MemfdFile, validSeals } from './memfd';
import { FileWatch } from './poll';
import { mapped, mmControls } from './verbs/odp';
import { Verbs } from './verbs/verbs';
import { RdmaCm } from './rdmacm/calls';
import { SyncFileObject } from './sync-file';
import { UdmabufDeviceFile } from './udmabuf';
import { type Identity, UnixSocket } from './unix-socket';
import { VgemFile } from './vgem';

const DEFAULT_POLLMASK = uapi.POLLIN | uapi.POLLOUT | abi.POLLRDNORM | abi.POLLWRNORM;
const MEMFD_FLAGS = uapi.MFD_CLOEXEC | uapi.MFD_ALLOW_SEALING | abi.MFD_NOEXEC_SEAL | abi.MFD_EXEC;

interface Mapping {
  file: OpenFile;
  prot: number;
  unmap?(): void;
  dontneed?(start: number, end: number): void;
  /** MRs over it: munmap answers EBUSY while there are any, as the addon does. */
  mrs: number;
}

type Class<T> = abstract new (...args: never[]) => T;

export class Process implements Backend {
  readonly name = 'emulator';
  readonly #fds = new FdTable();
  readonly #mappings = new Map<Uint8Array, Mapping>();

  constructor(
    private readonly machine: Machine,
    /** Its pid, effective uid and gid, and supplementary groups. */
    readonly identity: Identity,
    /** RLIMIT_NOFILE, modelled where fds arrive over a socket (recvmsg); other calls do not check it. */
    private readonly nofile = Infinity,
  ) {}

  /** The fd table, for test hooks that hand the process a file or look one up (controls() in index.ts). */
  get fdTable(): FdTable {
    return this.#fds;
  }

  /** The memory its MRs pin (VmPin in /proc/self/status), for controls().pinnedBytes. */
  get pinnedBytes(): number {
    return this.#verbsState?.pinnedBytes ?? 0;
  }

  // --- files ---------------------------------------------------------------

  open(path: string, flags: number): number {
    const object = this.machine.open(path, flags);
    const fFlags = (flags & ~(abi.O_OPEN_ONLY | uapi.O_CLOEXEC)) | abi.O_LARGEFILE;
    return this.#fds.install(new OpenFile(object, fFlags), (flags & uapi.O_CLOEXEC) !== 0);
  }

  /** As the addon: an fd a watch polls, or one a library owns, is refused (EBUSY). */
  close(fd: number): void {
    const entry = this.#fds.get(fd);
    if (entry?.watches?.size) throw systemError('EBUSY', 'close', 'close failed: EBUSY (a watch is live on the fd: stop it first)');
    if (entry?.library) {
      throw systemError('EBUSY', 'close', 'close failed: EBUSY (libibverbs or librdmacm owns the fd: destroy the context or channel that holds it instead)');
    }
    if (!this.#fds.close(fd)) throw systemError('EBADF', 'close');
  }

  dup(fd: number): number {
    return this.#fds.install(this.#file(fd, 'fcntl').get(), true);
  }

  readdir(path: string): string[] {
    return this.machine.readdir(path);
  }

  lseek(fd: number, offset: bigint, whence: number): bigint {
    const file = this.#file(fd, 'lseek');
    if (!file.object.llseek) throw systemError('ESPIPE', 'lseek');
    return file.object.llseek(file, offset, whence);
  }

  readFdinfo(fd: number): string {
    // /proc/self/fdinfo/<fd> does not exist for a closed fd: ENOENT, not EBADF.
    const entry = this.#fds.get(fd);
    if (!entry) throw systemError('ENOENT', 'open');
    const { file, cloexec } = entry;
    const flags = file.flags | (cloexec ? uapi.O_CLOEXEC : 0);
    const { ino, mntId } = file.object.inode;
    return `pos:\t${file.pos}\nflags:\t0${flags.toString(8)}\nmnt_id:\t${mntId}\nino:\t${ino}\n` +
      (file.object.showFdinfo?.(file) ?? '');
  }

  readlinkFd(fd: number): string {
    const entry = this.#fds.get(fd);
    if (!entry) throw systemError('ENOENT', 'readlink');
    return entry.file.object.dname();
  }

  openFds(): number[] {
    return this.#fds.fds();
  }

  // --- memfd ---------------------------------------------------------------

  memfdCreate(name: string, flags: number): number {
    flags >>>= 0;
    // hugetlbfs is not modelled: MFD_HUGETLB is refused as an unknown flag.
    if (flags & ~MEMFD_FLAGS || (flags & abi.MFD_EXEC && flags & abi.MFD_NOEXEC_SEAL)) {
      throw systemError('EINVAL', 'memfd_create');
    }
    if (Buffer.byteLength(cString(name, 'name')) > abi.MFD_NAME_MAX_LEN) throw systemError('EINVAL', 'memfd_create');
    const memfd = new MemfdFile(this.machine.memory, this.machine.nextIno(), name,
      (flags & uapi.MFD_ALLOW_SEALING) !== 0, (flags & abi.MFD_NOEXEC_SEAL) !== 0);
    return this.#fds.install(new OpenFile(memfd, uapi.O_RDWR | abi.O_LARGEFILE), (flags & uapi.MFD_CLOEXEC) !== 0);
  }

  ftruncate(fd: number, length: bigint): void {
    if (length < 0n) throw systemError('EINVAL', 'ftruncate');
    const file = this.#file(fd, 'ftruncate');
    if (!(file.object instanceof MemfdFile) || !file.writable) throw systemError('EINVAL', 'ftruncate');
    file.object.truncate(length);
  }

  addSeals(fd: number, seals: number): void {
    const file = this.#file(fd, 'fcntl');
    seals >>>= 0;
    if (!file.writable) throw systemError('EPERM', 'fcntl');
    if (!validSeals(seals) || !(file.object instanceof MemfdFile)) throw systemError('EINVAL', 'fcntl');
    file.object.addSeals(seals);
  }

  getSeals(fd: number): number {
    const object = this.#file(fd, 'fcntl').object;
    if (!(object instanceof MemfdFile)) throw systemError('EINVAL', 'fcntl');
    return object.seals;
  }

  // --- mappings ------------------------------------------------------------

  /** do_mmap's checks in order, then the file's mmap. */
  mmap(fd: number, length: number, prot: number, flags: number, offset: bigint): Uint8Array {
    if (flags & (abi.MAP_FIXED | abi.MAP_FIXED_NOREPLACE)) {
      throw new TypeError('mmap does not take MAP_FIXED or MAP_FIXED_NOREPLACE');
    }
    if (offset % BigInt(uapi.PAGE_SIZE) !== 0n) throw systemError('EINVAL', 'mmap');
    const file = this.#file(fd, 'mmap');
    if (length === 0) throw systemError('EINVAL', 'mmap');
    const type = flags & abi.MAP_TYPE;
    const shared = type === uapi.MAP_SHARED || type === abi.MAP_SHARED_VALIDATE;
    if (!shared && type !== uapi.MAP_PRIVATE) throw systemError('EINVAL', 'mmap');
    if (shared && prot & uapi.PROT_WRITE && !file.writable) throw systemError('EACCES', 'mmap');
    if (!file.readable) throw systemError('EACCES', 'mmap');
    if (!file.object.mmap) throw systemError('ENODEV', 'mmap');
    const { view, unmap, dontneed } = file.object.mmap(file, { offset, length, prot, shared });
    this.#mappings.set(view, { file: file.get(), prot, unmap, dontneed, mrs: 0 });
    mapped(view);
    return view;
  }

  /**
   * Unlike native, the emulator cannot detach the view: its memory is shared
   * with the object and with other mappings. A stale view keeps working; an
   * on-demand MR over it drops its pages and faults there fail.
   */
  munmap(view: Uint8Array): void {
    const mapping = this.#mappings.get(view);
    if (!mapping) throw new TypeError('view is not a mapping made by mmap, or it is already unmapped');
    if (mapping.mrs > 0) {
      throw systemError('EBUSY', 'munmap', 'munmap failed: EBUSY (RDMA memory regions cover the mapping, and the device may still use it: deregister them first)');
    }
    this.#mappings.delete(view);
    mmControls.unmap(view);
    mapping.unmap?.();
    mapping.file.put();
  }

  /**
   * madvise_dontneed_free: the range must start on a page (its length is
   * rounded up to pages, within the mapping here); a PFN mapping is refused.
   * On-demand MRs over the range are invalidated whatever the mapping.
   */
  madvise(view: Uint8Array, advice: number): void {
    if (!(view instanceof Uint8Array)) throw new TypeError('view must be a Uint8Array inside a view that mmap returned');
    if (advice !== uapi.MADV_DONTNEED) throw new TypeError('madvise takes MADV_DONTNEED only');
    const found = [...this.#mappings].find(([mapped]) => mapped.buffer === view.buffer
      && mapped.byteOffset <= view.byteOffset && view.byteOffset + view.byteLength <= mapped.byteOffset + mapped.byteLength);
    if (!found) throw new TypeError('view is not inside a mapping made by mmap, or that mapping is unmapped');
    const [mapped, mapping] = found;
    const start = view.byteOffset - mapped.byteOffset;
    if (start % uapi.PAGE_SIZE !== 0) throw systemError('EINVAL', 'madvise');
    if (view.byteLength === 0) return;
    if (!mapping.dontneed) throw systemError('EINVAL', 'madvise');
    const end = Math.min(start + Math.ceil(view.byteLength / uapi.PAGE_SIZE) * uapi.PAGE_SIZE, mapped.byteLength);
    mmControls.invalidate(mapped.subarray(start, end));
    mapping.dontneed(start, end);
  }

  /**
   * The mappings whose memory `view` (any view, not only the one mmap
   * returned) reaches, as the kernel finds VMAs by address. Mappings of one
   * object at one offset share their memory here, where the kernel gives
   * each its own addresses: the view mmap returned names its own mapping,
   * and any other view reaches all of them.
   */
  #mappingsOver(view: Uint8Array): Mapping[] {
    const own = this.#mappings.get(view);
    if (own) return [own];
    const start = view.byteOffset;
    const end = start + view.byteLength;
    const found: Mapping[] = [];
    for (const [mapped, mapping] of this.#mappings) {
      if (mapped.buffer === view.buffer && mapped.byteOffset < end && start < mapped.byteOffset + mapped.byteLength) found.push(mapping);
    }
    return found;
  }

  // --- dma-buf ---------------------------------------------------------------

  dmaBufSync(fd: number, flags: number): void {
    const heap = this.#object(fd, DmaHeapFile);
    if (heap) {
      // SYNC shares ioctl number 0 with DMA_HEAP_IOCTL_ALLOC, and the heap
      // decodes only the number: it reads the flags as the length and
      // installs the new buffer's fd, which it cannot report (the ioctl has
      // no IOC_OUT). Seen on 6.12.107: the fd stays open.
      const dmaBuf = heap.allocate(BigInt(flags >>> 0), 0, 0n, 'DMA_BUF_IOCTL_SYNC');
      this.#fds.install(dmaBuf.file, false);
      return;
    }
    this.#ioctl(fd, DmaBufObject, 'DMA_BUF_IOCTL_SYNC').sync(flags >>> 0);
  }

  dmaBufSetName(fd: number, name: string): void {
    this.#ioctl(fd, DmaBufObject, 'DMA_BUF_SET_NAME').setName(cString(name, 'name'));
  }

  dmaBufExportSyncFile(fd: number, flags: number): number {
    const sync = this.#ioctl(fd, DmaBufObject, 'DMA_BUF_IOCTL_EXPORT_SYNC_FILE').exportSyncFile(flags >>> 0);
    return this.#fds.install(sync, true);
  }

  dmaBufImportSyncFile(fd: number, flags: number, syncFileFd: number): void {
    const dmaBuf = this.#ioctl(fd, DmaBufObject, 'DMA_BUF_IOCTL_IMPORT_SYNC_FILE');
    dmaBuf.importSyncFile(flags >>> 0, this.#object(syncFileFd, SyncFileObject));
  }

  // --- udmabuf ---------------------------------------------------------------

  udmabufCreate(devFd: number, item: UdmabufItem, flags: number): number {
    return this.#udmabuf(devFd, [item], flags, 'UDMABUF_CREATE');
  }

  udmabufCreateList(devFd: number, items: UdmabufItem[], flags: number): number {
    return this.#udmabuf(devFd, items, flags, 'UDMABUF_CREATE_LIST');
  }

  #udmabuf(devFd: number, items: UdmabufItem[], flags: number, syscall: string): number {
    const dev = this.#ioctl(devFd, UdmabufDeviceFile, syscall);
    const dmaBuf = dev.create(items, syscall, (fd) => this.#fds.get(fd)?.file);
    return this.#fds.install(dmaBuf.file, (flags & uapi.UDMABUF_FLAGS_CLOEXEC) !== 0);
  }

  // --- dma-heap --------------------------------------------------------------

  dmaHeapAlloc(heapFd: number, len: bigint, fdFlags: number, heapFlags: bigint): number {
    fdFlags >>>= 0;
    const dmaBuf = this.#ioctl(heapFd, DmaHeapFile, 'DMA_HEAP_IOCTL_ALLOC').allocate(len, fdFlags, heapFlags);
    return this.#fds.install(dmaBuf.file, (fdFlags & uapi.O_CLOEXEC) !== 0);
  }

  // --- DRM -------------------------------------------------------------------

  drmVersion(fd: number): DrmVersion {
    return this.#drm(fd, 'DRM_IOCTL_VERSION', true).version();
  }

  drmCreateDumb(fd: number, width: number, height: number, bpp: number): DumbBuffer {
    // The flags are not checked by the kernel either.
    return this.#drm(fd, 'DRM_IOCTL_MODE_CREATE_DUMB', false).createDumb(width, height, bpp);
  }

  drmDestroyDumb(fd: number, handle: number): void {
    this.#drm(fd, 'DRM_IOCTL_MODE_DESTROY_DUMB', false).deleteHandle(handle >>> 0, 'DRM_IOCTL_MODE_DESTROY_DUMB');
  }

  drmGemClose(fd: number, handle: number): void {
    this.#drm(fd, 'DRM_IOCTL_GEM_CLOSE', true).deleteHandle(handle >>> 0, 'DRM_IOCTL_GEM_CLOSE');
  }

  drmPrimeHandleToFd(fd: number, handle: number, flags: number): number {
    flags >>>= 0;
    const dmaBuf = this.#drm(fd, 'DRM_IOCTL_PRIME_HANDLE_TO_FD', true).primeHandleToFd(handle >>> 0, flags);
    return this.#fds.install(dmaBuf.file, (flags & uapi.DRM_CLOEXEC) !== 0);
  }

  drmPrimeFdToHandle(fd: number, dmaBufFd: number): number {
    return this.#drm(fd, 'DRM_IOCTL_PRIME_FD_TO_HANDLE', true).primeFdToHandle(this.#fds.get(dmaBufFd)?.file);
  }

  vgemFenceAttach(fd: number, handle: number, flags: number): number {
    const drm = this.#drm(fd, 'DRM_IOCTL_VGEM_FENCE_ATTACH', true);
    return this.#vgem(drm, 'DRM_IOCTL_VGEM_FENCE_ATTACH').attach(drm.lookup(handle >>> 0), flags >>> 0);
  }

  vgemFenceSignal(fd: number, fenceId: number): void {
    const drm = this.#drm(fd, 'DRM_IOCTL_VGEM_FENCE_SIGNAL', true);
    this.#vgem(drm, 'DRM_IOCTL_VGEM_FENCE_SIGNAL').signal(fenceId >>> 0);
  }

  #drm(fd: number, syscall: string, renderAllowed: boolean): DrmFile {
    const drm = this.#ioctl(fd, DrmFile, syscall);
    drm.permit(renderAllowed, syscall);
    return drm;
  }

  /** Another driver has no ioctl at vgem's numbers: drm_ioctl answers EINVAL. */
  #vgem(drm: DrmFile, syscall: string): VgemFile {
    if (!(drm.priv instanceof VgemFile)) throw systemError('EINVAL', syscall);
    return drm.priv;
  }

  // --- sync_file -------------------------------------------------------------

  syncFileMerge(fd: number, otherFd: number, name: string): number {
    const sync = this.#ioctl(fd, SyncFileObject, 'SYNC_IOC_MERGE');
    const other = this.#object(otherFd, SyncFileObject);
    if (!other) throw systemError('ENOENT', 'SYNC_IOC_MERGE');
    return this.#fds.install(sync.merge(other, cString(name, 'name')), true);
  }

  /** Two calls, as user space makes them: one to count the fences, one to fetch them. */
  syncFileInfo(fd: number): SyncFileInfo {
    const sync = this.#ioctl(fd, SyncFileObject, 'SYNC_IOC_FILE_INFO');
    const { name, status, fences } = sync.info(sync.info(0).numFences);
    return { name, status, fences };
  }

  // --- readiness -------------------------------------------------------------

  noop(): void {}

  poll(fd: number, events: number): number {
    const file = this.#fds.get(fd)?.file;
    if (!file) return uapi.POLLNVAL;
    this.machine.progress();
    const mask = file.object.poll ? file.object.poll(file, events) : DEFAULT_POLLMASK;
    return mask & (events | uapi.POLLERR | uapi.POLLHUP);
  }

  watch(fd: number, events: number, onReady: (revents: number) => void): Watch {
    // As the addon's watchFd checks its arguments (an fd, a 32-bit mask, a function), before anything is made.
    if (!Number.isInteger(fd) || fd < -(2 ** 31) || fd >= 2 ** 31) throw argError('fd must be an integer in [-2^31, 2^31)');
    if (!Number.isInteger(events) || events < -(2 ** 31) || events >= 2 ** 32) throw argError('events must be an integer in [-2^31, 2^32)');
    if (typeof onReady !== 'function') throw argError('onReady must be a function');
    const file = this.#file(fd, 'uv_poll_init');
    const { poll, waitQueue } = file.object;
    // epoll refuses files without a poll operation, as it does regular files.
    if (!poll || !waitQueue) throw systemError('EPERM', 'uv_poll_init');
    const ready = () => poll.call(file.object, file, events) & (events | uapi.POLLERR | uapi.POLLHUP);
    const watch = new FileWatch(ready, waitQueue, onReady);
    const watches = (this.#fds.get(fd)!.watches ??= new Set());
    const stop = () => {
      watch.stop();
      watches.delete(stop);
    };
    watches.add(stop);
    return { stop };
  }

  // --- CUDA (emulator/cuda.ts) -----------------------------------------------

  #cudaClient: CudaClient | undefined;

  get #cuda(): CudaClient {
    return (this.#cudaClient ??= new CudaClient(this.machine));
  }

  cuDeviceGetCount(): number {
    return this.#cuda.deviceGetCount();
  }

  cuDeviceGetName(ordinal: number): string {
    return this.#cuda.deviceGetName(ordinal);
  }

  cuDeviceGetAttribute(ordinal: number, attribute: number): number {
    return this.#cuda.deviceGetAttribute(ordinal, attribute);
  }

  cuMemGetInfo(ordinal: number): { free: bigint; total: bigint } {
    return this.#cuda.memGetInfo(ordinal);
  }

  cuMemAlloc(ordinal: number, size: bigint): { handle: number; dptr: bigint } {
    return this.#cuda.memAlloc(ordinal, size);
  }

  cuMemExportDmaBuf(handle: number, offset: bigint, size: bigint): number {
    return this.#fds.install(this.#cuda.exportDmaBuf(handle, offset, size).file, true);
  }

  cuMemFree(handle: number): void {
    this.#cuda.memFree(handle);
  }

  // --- Unix sockets (emulator/unix-socket.ts) --------------------------------

  socketpair(): [number, number] {
    const [a, b] = UnixSocket.pair(this.machine, this.identity);
    return [this.#fds.install(a, true), this.#fds.install(b, true)];
  }

  unixListen(path: string, backlog: number, mode: number): number {
    return this.#fds.install(UnixSocket.listen(this.machine, path, backlog, mode, this.identity), true);
  }

  unixConnect(path: string): number {
    return this.#fds.install(UnixSocket.connect(this.machine, path, this.identity), true);
  }

  unixAccept(fd: number): number {
    return this.#fds.install(this.#socket(fd, 'accept4').accept(), true);
  }

  sendFds(sock: number, fds: number[], data: Uint8Array): number {
    return this.#socket(sock, 'sendmsg').send(data, fds, (fd) => this.#file(fd, 'sendmsg'));
  }

  /**
   * scm_detach_fds: the files are installed while fd numbers below
   * RLIMIT_NOFILE are free; the rest are dropped and msg_flags says
   * MSG_CTRUNC. The call itself succeeds.
   */
  recvFds(sock: number, maxBytes: number): { data: Uint8Array; fds: number[]; flags: number } {
    const { data, files, flags } = this.#socket(sock, 'recvmsg').receive(maxBytes);
    const fds: number[] = [];
    for (const [i, file] of files.entries()) {
      if (this.#fds.lowestFree() >= this.nofile) {
        for (const dropped of files.slice(i)) dropped.put();
        return { data, fds, flags: flags | uapi.MSG_CTRUNC };
      }
      fds.push(this.#fds.install(file, true));
    }
    return { data, fds, flags };
  }

  peerCred(sock: number): Credentials {
    return { ...this.#socket(sock, 'getsockopt').peerCred };
  }

  lstat(path: string): FileStat {
    return UnixSocket.lstat(this.machine, path);
  }

  credentials(): Credentials {
    const { pid, uid, gid } = this.identity;
    return { pid, uid, gid };
  }

  unlink(path: string): void {
    UnixSocket.unlink(this.machine, path);
  }

  #socket(fd: number, syscall: string): UnixSocket {
    const object = this.#file(fd, syscall).object;
    if (!(object instanceof UnixSocket)) throw systemError('ENOTSOCK', syscall);
    return object;
  }

  // --- RDMA (emulator/verbs/verbs.ts) ----------------------------------------

  #verbsState: Verbs | undefined;

  get #verbs(): Verbs {
    return (this.#verbsState ??= new Verbs(this.machine, {
      fds: this.#fds,
      // An mmap of a dma-buf is a PFN mapping, which ib_umem_get cannot pin.
      pfnMapped: (view) => this.#mappingsOver(view).some((m) => m.file.object instanceof DmaBufObject),
      mappingHolding: (view) => this.#mappingHolding(view),
      readOnly: (view) => this.#mappingsOver(view).some((m) => !(m.prot & uapi.PROT_WRITE)),
    }));
  }

  /** The mapping whose view holds all of `view`. */
  #mappingHolding(view: Uint8Array): Mapping | undefined {
    const exact = this.#mappings.get(view);
    if (exact) return exact;
    for (const [mapped, mapping] of this.#mappings) {
      if (mapped.buffer === view.buffer && view.byteOffset >= mapped.byteOffset &&
          view.byteOffset + view.byteLength <= mapped.byteOffset + mapped.byteLength) return mapping;
    }
    return undefined;
  }

  ibvGetDeviceList(): IbvDeviceEntry[] { return this.#verbs.ibvGetDeviceList(); }
  ibvOpenDevice(name: string): number { return this.#verbs.ibvOpenDevice(name); }
  ibvCloseDevice(ctx: number): void { this.#verbs.ibvCloseDevice(ctx); }
  ibvQueryDevice(ctx: number): IbvDeviceAttr { return this.#verbs.ibvQueryDevice(ctx); }
  ibvQueryPort(ctx: number, port: number): IbvPortAttr { return this.#verbs.ibvQueryPort(ctx, port); }
  ibvQueryGid(ctx: number, port: number, index: number): Uint8Array { return this.#verbs.ibvQueryGid(ctx, port, index); }
  ibvGetAsyncEvent(ctx: number): IbvAsyncEvent | null { return this.#verbs.ibvGetAsyncEvent(ctx); }
  ibvAsyncFd(ctx: number): number { return this.#verbs.ibvAsyncFd(ctx); }
  ibvAllocPd(ctx: number): number { return this.#verbs.ibvAllocPd(ctx); }
  ibvDeallocPd(pd: number): void { this.#verbs.ibvDeallocPd(pd); }
  ibvRegMr(pd: number, view: Uint8Array, access: number, out: BigUint64Array): number { return this.#verbs.ibvRegMr(pd, view, access, out); }
  ibvRegDmabufMr(pd: number, offset: bigint, length: bigint, iova: bigint, fd: number, access: number, out: BigUint64Array): number {
    return this.#verbs.ibvRegDmabufMr(pd, offset, length, iova, fd, access, out);
  }
  ibvDeregMr(mr: number): void { this.#verbs.ibvDeregMr(mr); }
  ibvAdviseMr(pd: number, advice: number, flags: number, lkey: number, addr: bigint, length: number): void {
    this.#verbs.ibvAdviseMr(pd, advice, flags, lkey, addr, length);
  }
  ibvCreateCompChannel(ctx: number): IbvCompChannel { return this.#verbs.ibvCreateCompChannel(ctx); }
  ibvDestroyCompChannel(channel: number): void { this.#verbs.ibvDestroyCompChannel(channel); }
  ibvCreateCq(ctx: number, cqe: number, channel: number, out: BigUint64Array): number { return this.#verbs.ibvCreateCq(ctx, cqe, channel, out); }
  ibvDestroyCq(cq: number): void { this.#verbs.ibvDestroyCq(cq); }
  ibvReqNotifyCq(cq: number, solicitedOnly: boolean): void { this.#verbs.ibvReqNotifyCq(cq, solicitedOnly); }
  ibvGetCqEvent(channel: number): number { return this.#verbs.ibvGetCqEvent(channel); }
  ibvAckCqEvents(cq: number, count: number): void { this.#verbs.ibvAckCqEvents(cq, count); }
  ibvPollCq(cq: number, max: number): number { return this.#verbs.ibvPollCq(cq, max); }
  ibvCreateQp(pd: number, init: IbvQpInit): IbvQp { return this.#verbs.ibvCreateQp(pd, init); }
  ibvModifyQp(qp: number, attr: IbvQpAttr, mask: number): void { this.#verbs.ibvModifyQp(qp, attr, mask); }
  ibvDestroyQp(qp: number): void { this.#verbs.ibvDestroyQp(qp); }
  ibvPostSend(qp: number, wrs: BigUint64Array, count: number): void { this.#verbs.ibvPostSend(qp, wrs, count); }
  ibvPostRecv(qp: number, wrs: BigUint64Array, count: number): void { this.#verbs.ibvPostRecv(qp, wrs, count); }
  getMemlockLimit(): { soft: bigint; hard: bigint } { return this.#verbs.getMemlockLimit(); }
  setMemlockLimit(soft: bigint, hard: bigint): void { this.#verbs.setMemlockLimit(soft, hard); }

  // --- RDMA connection manager (emulator/rdmacm/calls.ts) ---------------------

  #cmState: RdmaCm | undefined;

  get #cm(): RdmaCm {
    return (this.#cmState ??= new RdmaCm(this.machine, this.#fds, this.#verbs));
  }

  rdmaCreateEventChannel(): { handle: number; fd: number } { return this.#cm.rdmaCreateEventChannel(); }
  rdmaDestroyEventChannel(channel: number): void { this.#cm.rdmaDestroyEventChannel(channel); }
  rdmaCreateId(channel: number, portSpace: number): number { return this.#cm.rdmaCreateId(channel, portSpace); }
  rdmaDestroyId(id: number): void { this.#cm.rdmaDestroyId(id); }
  rdmaBindAddr(id: number, address: RdmaAddress): void { this.#cm.rdmaBindAddr(id, address); }
  rdmaListen(id: number, backlog: number): void { this.#cm.rdmaListen(id, backlog); }
  rdmaResolveAddr(id: number, src: RdmaAddress | null, dst: RdmaAddress, timeoutMs: number): void { this.#cm.rdmaResolveAddr(id, src, dst, timeoutMs); }
  rdmaResolveRoute(id: number, timeoutMs: number): void { this.#cm.rdmaResolveRoute(id, timeoutMs); }
  rdmaCreateQp(id: number, pd: number, init: IbvQpInit): IbvQp { return this.#cm.rdmaCreateQp(id, pd, init); }
  rdmaConnect(id: number, param: RdmaConnParam): void { this.#cm.rdmaConnect(id, param); }
  rdmaAccept(id: number, param: RdmaConnParam): void { this.#cm.rdmaAccept(id, param); }
  rdmaReject(id: number, privateData: Uint8Array): void { this.#cm.rdmaReject(id, privateData); }
  rdmaDisconnect(id: number): void { this.#cm.rdmaDisconnect(id); }
  rdmaGetCmEvent(channel: number): RdmaCmEvent | null { return this.#cm.rdmaGetCmEvent(channel); }
  rdmaQueryId(id: number): RdmaIdInfo { return this.#cm.rdmaQueryId(id); }

  // --- lookups ---------------------------------------------------------------

  #file(fd: number, syscall: string): OpenFile {
    const entry = this.#fds.get(fd);
    if (!entry) throw systemError('EBADF', syscall);
    return entry.file;
  }

  #object<T>(fd: number, type: Class<T>): T | undefined {
    const object = this.#fds.get(fd)?.file.object;
    return object instanceof type ? object : undefined;
  }

  /**
   * An ioctl of one driver sent to another file answers ENOTTY, as from the
   * dma-buf, sync_file, udmabuf and DRM dispatchers (DRM checks the 'd'
   * type). The dma-heap dispatcher decodes only the number: past 0 it
   * answers EINVAL, and at 0 it reads the struct as an allocation request,
   * which a zeroed DRM_IOCTL_VERSION fails with EINVAL too (and
   * DMA_BUF_IOCTL_SYNC succeeds: see dmaBufSync).
   */
  #ioctl<T>(fd: number, type: Class<T>, syscall: string): T {
    const object = this.#file(fd, syscall).object;
    if (object instanceof type) return object;
    throw systemError(object instanceof DmaHeapFile ? 'EINVAL' : 'ENOTTY', syscall);
  }
}

/** Strings reach the kernel as C strings: native refuses NUL inside them, and so does the emulator. */
function cString(s: string, what: string): string {
  if (s.includes('\0')) throw new TypeError(`${what} must not contain NUL characters`);
  return s;
}

function argError(message: string): TypeError {
  return Object.assign(new TypeError(message), { code: 'ERR_INVALID_ARG_TYPE' });
}
