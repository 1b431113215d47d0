// The seam. One interface at the level of the kernel's own calls, implemented
// by the native addon (native/) and by the emulator (emulator/). Plain data
// in and out, raw kernel flag values (seam/uapi.ts), and failures thrown as
// SystemError (seam/system-error.ts) whose `syscall` is the name given in
// brackets on each method, so both backends fail alike.
//
// Nothing here keeps policy: no lifetimes, no validation the kernel does not
// do, no advice. A failure names its errno and, where the backend knows more,
// its reason ("SYSCALL failed: CODE (why)", systemErrorWhy); src/advice.ts
// keeps that reason and appends what to do, once for both backends.

import type { RdmaCmCalls } from './backend-rdmacm';
import type { VerbsCalls } from './backend-verbs';

export interface UdmabufItem {
  memfd: number;
  offset: bigint;
  size: bigint;
}

export interface DrmVersion {
  name: string;
  date: string;
  desc: string;
  major: number;
  minor: number;
  patch: number;
}

export interface DumbBuffer {
  handle: number;
  pitch: number;
  size: bigint;
}

export interface FenceInfo {
  objName: string;
  driverName: string;
  /** 1 signalled, 0 active, negative errno on error. */
  status: number;
  flags: number;
  timestampNs: bigint;
}

export interface SyncFileInfo {
  name: string;
  status: number;
  fences: FenceInfo[];
}

/** A readiness watch on an fd (libuv's uv_poll on native). */
export interface Watch {
  /** Stop watching; no callback runs after this returns. Idempotent. */
  stop(): void;
}

export interface Backend extends VerbsCalls, RdmaCmCalls, CudaCalls, UnixSocketCalls {
  readonly name: 'native' | 'emulator';

  // --- files ---------------------------------------------------------------
  /** [open] */
  open(path: string, flags: number): number;
  /** [close] */
  close(fd: number): void;
  /** [fcntl] F_DUPFD_CLOEXEC */
  dup(fd: number): number;
  /** [scandir] Names in a directory, without . and .. */
  readdir(path: string): string[];
  /** [lseek] */
  lseek(fd: number, offset: bigint, whence: number): bigint;
  /** [open] The text of /proc/self/fdinfo/<fd>. */
  readFdinfo(fd: number): string;
  /** [readlink] The target of /proc/self/fd/<fd>. */
  readlinkFd(fd: number): string;
  /** [scandir] The fds open in this process, ascending. */
  openFds(): number[];

  // --- memfd ---------------------------------------------------------------
  /** [memfd_create] */
  memfdCreate(name: string, flags: number): number;
  /** [ftruncate] */
  ftruncate(fd: number, length: bigint): void;
  /** [fcntl] F_ADD_SEALS */
  addSeals(fd: number, seals: number): void;
  /** [fcntl] F_GET_SEALS */
  getSeals(fd: number): number;

  // --- mappings ------------------------------------------------------------
  /**
   * [mmap] Maps `length` bytes of `fd` from `offset` and returns a view of
   * exactly the mapping.
   */
  mmap(fd: number, length: number, prot: number, flags: number, offset: bigint): Uint8Array;
  /**
   * [munmap] Unmaps a view that mmap returned. Where the backend can, the
   * view's ArrayBuffer is detached first, so a stale view reads as empty.
   */
  munmap(view: Uint8Array): void;
  /**
   * [madvise] MADV_DONTNEED (the one advice taken) over `view`, a part of a
   * view that mmap returned, starting on a page: the process drops those
   * pages, so a shared mapping finds its file's pages again and a private
   * one loses its own writes and reads the file; on-demand MRs over them are
   * invalidated and fault in afresh.
   */
  madvise(view: Uint8Array, advice: number): void;

  // --- dma-buf (linux/dma-buf.h) --------------------------------------------
  /** [DMA_BUF_IOCTL_SYNC] */
  dmaBufSync(fd: number, flags: number): void;
  /** [DMA_BUF_SET_NAME] */
  dmaBufSetName(fd: number, name: string): void;
  /** [DMA_BUF_IOCTL_EXPORT_SYNC_FILE] Returns the new sync_file fd. */
  dmaBufExportSyncFile(fd: number, flags: number): number;
  /** [DMA_BUF_IOCTL_IMPORT_SYNC_FILE] */
  dmaBufImportSyncFile(fd: number, flags: number, syncFileFd: number): void;

  // --- udmabuf (linux/udmabuf.h) --------------------------------------------
  /** [UDMABUF_CREATE] on an open /dev/udmabuf. Returns the dma-buf fd. */
  udmabufCreate(devFd: number, item: UdmabufItem, flags: number): number;
  /** [UDMABUF_CREATE_LIST] */
  udmabufCreateList(devFd: number, items: UdmabufItem[], flags: number): number;

  // --- dma-heap (linux/dma-heap.h) ------------------------------------------
  /** [DMA_HEAP_IOCTL_ALLOC] on an open /dev/dma_heap/<name>. */
  dmaHeapAlloc(heapFd: number, len: bigint, fdFlags: number, heapFlags: bigint): number;

  // --- DRM (drm/drm.h, drm/drm_mode.h, drm/vgem_drm.h) ----------------------
  /** [DRM_IOCTL_VERSION] */
  drmVersion(fd: number): DrmVersion;
  /** [DRM_IOCTL_MODE_CREATE_DUMB] */
  drmCreateDumb(fd: number, width: number, height: number, bpp: number, flags: number): DumbBuffer;
  /** [DRM_IOCTL_MODE_DESTROY_DUMB] */
  drmDestroyDumb(fd: number, handle: number): void;
  /** [DRM_IOCTL_GEM_CLOSE] */
  drmGemClose(fd: number, handle: number): void;
  /** [DRM_IOCTL_PRIME_HANDLE_TO_FD] Returns the dma-buf fd. */
  drmPrimeHandleToFd(fd: number, handle: number, flags: number): number;
  /** [DRM_IOCTL_PRIME_FD_TO_HANDLE] Returns the GEM handle. */
  drmPrimeFdToHandle(fd: number, dmaBufFd: number): number;
  /** [DRM_IOCTL_VGEM_FENCE_ATTACH] Returns the fence id. */
  vgemFenceAttach(fd: number, handle: number, flags: number): number;
  /** [DRM_IOCTL_VGEM_FENCE_SIGNAL] */
  vgemFenceSignal(fd: number, fenceId: number): void;

  // --- sync_file (linux/sync_file.h) ----------------------------------------
  /** [SYNC_IOC_MERGE] Returns the merged sync_file fd. */
  syncFileMerge(fd: number, otherFd: number, name: string): number;
  /** [SYNC_IOC_FILE_INFO] */
  syncFileInfo(fd: number): SyncFileInfo;

  // --- readiness -------------------------------------------------------------
  /** Does nothing: the least a call across the seam costs, measured by the bench. */
  noop(): void;
  /** [poll] poll(2) with a zero timeout: the ready events among `events`. */
  poll(fd: number, events: number): number;
  /**
   * [uv_poll_init, uv_poll_start] Calls `onReady(revents)` whenever `fd` is ready for any
   * of `events` (level-triggered), on the event loop, until stopped. The fd
   * must stay open until the watch is stopped.
   */
  watch(fd: number, events: number, onReady: (revents: number) => void): Watch;
}

// === CUDA and Unix sockets ===================================================
// Part of Backend (it extends these), declared apart for their length.

/**
 * CUDA's driver API, as far as exporting device memory as dma-bufs needs it.
 * GPUs are named by ordinal. Where libcuda.so.1 cannot be loaded every call
 * throws ENOSYS with syscall 'dlopen'; where cuInit fails, its error with
 * syscall 'cuInit'. Other failures carry the bracketed name as `syscall`, an
 * errno code mapped from the CUDA error, and the CUDA error's name in
 * `cudaError` (CUDA_ERROR_OUT_OF_MEMORY is ENOMEM, CUDA_ERROR_INVALID_DEVICE
 * ENODEV, CUDA_ERROR_INVALID_VALUE EINVAL, CUDA_ERROR_NOT_SUPPORTED
 * EOPNOTSUPP, others EIO).
 */
export interface CudaCalls {
  /** [cuDeviceGetCount] 0 where the driver is loaded but finds no GPU. */
  cuDeviceGetCount(): number;
  /** [cuDeviceGetName] */
  cuDeviceGetName(ordinal: number): string;
  /** [cuDeviceGetAttribute] A CU_DEVICE_ATTRIBUTE_* value. */
  cuDeviceGetAttribute(ordinal: number, attribute: number): number;
  /** [cuMemGetInfo] Free and total memory of the GPU. */
  cuMemGetInfo(ordinal: number): { free: bigint; total: bigint };
  /** [cuMemAlloc] Device memory in the GPU's primary context; `handle` names it to the calls below. */
  cuMemAlloc(ordinal: number, size: bigint): { handle: number; dptr: bigint };
  /**
   * [cuMemGetHandleForAddressRange] A range of an allocation as a dma-buf fd
   * (close-on-exec). The range must be aligned to the host page size.
   */
  cuMemExportDmaBuf(handle: number, offset: bigint, size: bigint): number;
  /** [cuMemFree] Frees the allocation; the handle is gone even if CUDA reports an error. */
  cuMemFree(handle: number): void;
}

export interface ReceivedMessage {
  /** The bytes read; empty at end of stream. */
  data: Uint8Array;
  /** The fds that came with them (close-on-exec), now owned by the caller. */
  fds: number[];
  /** recvmsg's msg_flags (MSG_CTRUNC where fds were lost). */
  flags: number;
}

/**
 * Unix domain stream sockets, non-blocking and close-on-exec, that carry fds
 * (SCM_RIGHTS). Sends and receives never block, on any socket: EAGAIN
 * reaches the caller, which waits with watch().
 */
export interface UnixSocketCalls {
  /** [socketpair] A connected pair. */
  socketpair(): [number, number];
  /**
   * [bind] A socket bound to `path` and listening, its file of exactly
   * `mode` (the permission bits, whatever the umask) before anyone can
   * connect; socket(2), chmod(2) and listen(2) fail as bind too, and a
   * failure leaves no file.
   */
  unixListen(path: string, backlog: number, mode: number): number;
  /** [connect] A socket connected to the listener at `path`; socket(2) fails as connect too. */
  unixConnect(path: string): number;
  /** [accept4] */
  unixAccept(fd: number): number;
  /** [sendmsg] Sends `data` with `fds` attached to its first byte; returns the bytes sent. */
  sendFds(sock: number, fds: number[], data: Uint8Array): number;
  /** [recvmsg] Reads up to `maxBytes` and whatever fds came with them. */
  recvFds(sock: number, maxBytes: number): ReceivedMessage;
  /** [getsockopt SO_PEERCRED] Who the peer was when the connection was made (the listener's when it listened); pid 0 and ids 4294967295 where there is none. */
  peerCred(sock: number): Credentials;
  /** [lstat] The file at `path`, not following a last symlink. */
  lstat(path: string): FileStat;
  /** [getpid, geteuid, getegid] This process's own. */
  credentials(): Credentials;
  /** [unlink] */
  unlink(path: string): void;
}

/** A process's identity, as SO_PEERCRED gives it (struct ucred). */
export interface Credentials {
  pid: number;
  uid: number;
  gid: number;
}

export interface FileStat {
  /** st_mode: the type (S_IFSOCK, ...) and permission bits. */
  mode: number;
  uid: number;
  gid: number;
}

/** Backends that pass every call to another (src/advice.ts's), by that other. */
const inners = new WeakMap<Backend, Backend>();

/** Records that `wrapper` passes its calls to `inner`. */
export function wraps(wrapper: Backend, inner: Backend): void {
  inners.set(wrapper, inner);
}

/** The backend that finally answers `backend`'s calls: itself, unless it wraps another. */
export function innermost(backend: Backend): Backend {
  for (let inner = inners.get(backend); inner; inner = inners.get(backend)) backend = inner;
  return backend;
}
