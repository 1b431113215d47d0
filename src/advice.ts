import { type Backend, wraps } from '../seam/backend';
import { isSystemError, reasonOf, SystemError } from '../seam/system-error';

// What to do about a kernel error, by syscall and code: the one place that
// explains them, CUDA's included. The backends throw system errors, some with
// a reason of their own ("SYSCALL failed: CODE (why)"); advise() keeps that
// reason and appends what to do.
type Advice = (args: unknown[], e: SystemError) => string;

const byCall: Record<string, Record<string, Advice>> = {
  open: {
    ENOENT: ([path]) => `${path} does not exist: ${deviceHint(String(path))}`,
    EACCES: ([path]) => `no permission to open ${path}: join the group that owns it (ls -l ${path}) or add a udev rule granting it`,
    EPERM: ([path]) => `not permitted to open ${path}: run as a user with access to the device`,
  },
  memfd_create: {
    EMFILE: () => 'the process is out of file descriptors: close what you no longer use or raise ulimit -n',
  },
  UDMABUF_CREATE: udmabufAdvice(),
  UDMABUF_CREATE_LIST: {
    ...udmabufAdvice(),
    EINVAL: () => 'each range must be page-aligned (4096) and non-empty, the list at most 1024 entries (module parameter list_limit) and, on kernels before 7.x (6.12 here), 64 MiB in all (size_limit_mb), from memfds sealed with F_SEAL_SHRINK and without F_SEAL_WRITE',
  },
  ibv_post_send: {
    EINVAL: (_, e) => `request ${(e as { index?: number }).index ?? 0} is invalid for this QP (is it connected, in RTS? opcode, SGE and inline size within the QP's caps?); the ones before it were posted`,
    ENOMEM: (_, e) => `the send queue is full at request ${(e as { index?: number }).index ?? 0}: poll completions before posting more; the ones before it were posted`,
  },
  ibv_post_recv: {
    ENOMEM: () => 'the receive queue is full: wait for receives to complete before posting more',
  },
  DMA_HEAP_IOCTL_ALLOC: {
    EINVAL: () => 'the length must be non-zero, heap flags must be 0 and fd flags only O_RDWR/O_CLOEXEC',
    ENOMEM: () => 'the heap could not allocate that much memory',
  },
  DMA_BUF_IOCTL_SYNC: {
    EINVAL: () => 'sync flags must name a direction (read, write or rw) with start or end; udmabuf also refuses an end before any start',
  },
  DMA_BUF_SET_NAME: {
    EINVAL: () => 'a dma-buf name must be shorter than 32 bytes',
  },
  DMA_BUF_IOCTL_EXPORT_SYNC_FILE: {
    EINVAL: () => "the access must be 'read', 'write' or 'rw'",
  },
  DMA_BUF_IOCTL_IMPORT_SYNC_FILE: {
    EINVAL: () => "the fd must be a sync_file and the access 'read', 'write' or 'rw'",
  },
  mmap: {
    EINVAL: () => 'the range must lie inside the buffer and the mapping must be shared (MAP_SHARED)',
    EACCES: () => 'the dma-buf was exported read-only: export it with write access to map it writable',
    ENOTSUPP: () => 'this exporter does not allow CPU mappings (CUDA dma-bufs answer so): copy through the device instead',
    ENODEV: () => 'this file cannot be mapped',
  },
  DRM_IOCTL_MODE_CREATE_DUMB: {
    EACCES: () => 'dumb buffers need the primary node (/dev/dri/card*), not a render node',
    EINVAL: () => 'width, height and bpp must be non-zero and their product must fit in 32 bits',
  },
  DRM_IOCTL_PRIME_HANDLE_TO_FD: {
    ENOENT: () => 'no GEM object has that handle on this DRM file',
  },
  DRM_IOCTL_PRIME_FD_TO_HANDLE: {
    EINVAL: () => 'the fd is not a dma-buf',
  },
  DRM_IOCTL_VGEM_FENCE_ATTACH: {
    EBUSY: () => 'an unsignalled fence already conflicts: a write fence needs the buffer idle, a read fence needs no pending write',
    ENOENT: () => 'no GEM object has that handle on this DRM file',
  },
  DRM_IOCTL_VGEM_FENCE_SIGNAL: {
    ENOENT: () => 'no pending fence has that id: it was signalled already or never attached',
    ETIMEDOUT: () => 'vgem signalled this fence itself after its 10 s timeout',
  },
  ibv_reg_mr: {
    ENOMEM: () => 'pinning this memory would pass the locked-memory limit (RLIMIT_MEMLOCK): raise `ulimit -l` (or memlock in /etc/security/limits.conf), register less, or run with CAP_IPC_LOCK',
    EPERM: () => 'the locked-memory limit is 0 and the process lacks CAP_IPC_LOCK: raise `ulimit -l`',
    EINVAL: () => "invalid access flags: remote write or atomic access needs 'local-write' too",
    EFAULT: () => 'the memory cannot be pinned (a PFN mapping, such as an mmap of a dma-buf): register the dma-buf with registerDmaBuf instead',
    EOPNOTSUPP: () => "the device's driver does not take one of the access flags: 'on-demand' needs on-demand paging (device.onDemandPaging; rxe has it on Linux 7.3, not on 6.12), and few drivers take 'zero-based' or 'hugetlb'",
  },
  ibv_advise_mr: {
    EOPNOTSUPP: () => "the device's driver has no prefetch (advise_mr): rxe has it on Linux 7.3, not on 6.12; without it, pages fault in at first RDMA access",
    EINVAL: () => "the MR must be registered on demand in this PD, and rxe prefetches only MRs with 'local-write'",
    EFAULT: () => 'a page of the range is not mapped in this process (unmapped since it was registered?): map it again, or prefetch only what is mapped',
  },
  ibv_reg_dmabuf_mr: {
    EINVAL: () => 'offset + length must lie inside the dma-buf, length must be non-zero, offset and iova must share their offset within a page, and access may hold only local-write, remote-*, relaxed-ordering',
  },
  rdma_create_event_channel: {
    ENODEV: () => 'the kernel has no RDMA connection manager device (/dev/infiniband/rdma_cm): `modprobe rdma_ucm`, and add an RDMA device (for soft-RoCE: `rdma link add rxe0 type rxe netdev <interface>`)',
  },
  rdma_bind_addr: {
    EADDRINUSE: ([, a]) => `another listener holds ${addressText(a)}: pick another port, or port 0 for any free one`,
    EADDRNOTAVAIL: ([, a]) => `no interface has the address ${addressText(a)}, or its port is taken by a listener on a wildcard or loopback address (which rdma_cm treats alike)`,
    ENODEV: () => 'no RDMA device is on the interface with that address: add one (soft-RoCE: `rdma link add rxe1 type rxe netdev <interface>`)',
  },
  rdma_resolve_addr: {
    ENETUNREACH: ([, , a]) => `no route to ${addressText(a)}: is an interface on its network up?`,
    ENODEV: () => 'no RDMA device is on the interface that reaches that address: add one (soft-RoCE: `rdma link add rxe1 type rxe netdev <interface>`)',
  },
  rdma_resolve_route: {
    ENODEV: () => 'no RoCE route: rdma_cm cannot connect over rxe on lo (127.0.0.1 counts as any address); use the address of an interface with an RDMA device on it',
  },
  ibv_dealloc_pd: {
    EBUSY: () => 'memory regions or queue pairs still use this protection domain: close them first (ProtectionDomain.close() does)',
  },
  ibv_open_device: {
    EACCES: () => 'no permission on /dev/infiniband/uverbs*: join the group that owns it (often rdma)',
  },
  ibv_modify_qp: {
    EINVAL: () => 'the QP cannot move to that state with those attributes: check the peer endpoint (qpNum, GID, PSN) and the port',
  },
  dlopen: {
    // The loader says which library is missing and what to install.
    ENOSYS: (_, e) => e.message,
  },
  cuInit: cudaAdvice({
    EIO: () => 'the NVIDIA driver did not start: check nvidia-smi and dmesg; the kernel module and libcuda.so.1 must be the same version',
  }),
  cuDeviceGet: cudaAdvice(cudaDeviceTodo()),
  cuDeviceGetName: cudaAdvice(cudaDeviceTodo()),
  cuDeviceGetAttribute: cudaAdvice(cudaDeviceTodo()),
  cuMemGetInfo: cudaAdvice(cudaDeviceTodo()),
  cuMemAlloc: cudaAdvice({
    ...cudaDeviceTodo(),
    ENOMEM: ([ordinal, size]) => `GPU ${ordinal} has less than ${String(size)} bytes free: free GPU memory or allocate less`,
  }),
  cuMemGetHandleForAddressRange: cudaAdvice({
    EINVAL: () => 'the range must lie inside the allocation and be aligned to the host page size',
    EOPNOTSUPP: () => "exporting dma-bufs needs NVIDIA's open kernel modules on a Turing or newer GPU, and Linux 5.12 or newer",
  }),
  cuMemFree: cudaAdvice(),
  bind: {
    EADDRINUSE: ([path]) => `${path} exists already and is not a stale socket of yours (a listener lives there, or another user's or another kind of file): stop that listener, or pick another path`,
    EACCES: ([path]) => `no permission to create ${path}: pick a directory you may write to`,
    EINVAL: () => 'a socket path must be non-empty and at most 107 bytes',
  },
  connect: {
    ENOENT: ([path]) => `no socket at ${path}: start the listener first`,
    ECONNREFUSED: ([path]) => `nothing listens at ${path}: the listener is gone; remove the stale socket file`,
    EACCES: ([path]) => `no permission to connect to ${path}: the socket file's mode leaves this user out (listenUnix makes it 0600, the owner's alone; widen it with { mode } and narrow with { allow })`,
    EAGAIN: () => "the listener's backlog is full: try again once it has accepted",
    EINVAL: () => 'a socket path must be non-empty and at most 107 bytes',
  },
  sendmsg: {
    EPIPE: () => 'the peer closed its end',
    EINVAL: () => 'at most 253 fds fit in one message',
    ETOOMANYREFS: () => 'fds in flight nest too deep, or pass RLIMIT_NOFILE: receive some first',
  },
  SYNC_IOC_MERGE: {
    ENOENT: () => 'the second fd is not a sync_file',
  },
};

// CUDA's failures name the CUDA error, then what to do where that is known.
// Every errno a CUDA error maps to has an entry, so byCode's kernel-minded
// advice never speaks for a GPU.
function cudaAdvice(specific: Record<string, Advice> = {}): Record<string, Advice> {
  const codes = ['EINVAL', 'ENOMEM', 'ENOSYS', 'EBUSY', 'ENODEV', 'EPERM', 'EOPNOTSUPP', 'EIO', 'EBADF'];
  return Object.fromEntries(codes.map((code) => [code, (args: unknown[], e: SystemError) => {
    const name = (e as { cudaError?: unknown }).cudaError;
    const todo = specific[code]?.(args, e) ?? (code === 'EBADF' ? 'that allocation was freed already' : undefined);
    return [typeof name === 'string' ? name : undefined, todo].filter(Boolean).join(': ');
  }]));
}

function cudaDeviceTodo(): Record<string, Advice> {
  return {
    ENODEV: ([ordinal]) => `there is no GPU ${ordinal}: list them with nvidia-smi`,
    EBUSY: () => 'the GPU is in exclusive-process mode and another process holds it (nvidia-smi -q | grep "Compute Mode")',
  };
}

function udmabufAdvice(): Record<string, Advice> {
  return {
    EINVAL: () => 'offset and size must be page-aligned (4096) and non-zero, at most 64 MiB on kernels before 7.x (6.12 here; module parameter size_limit_mb), from a memfd sealed with F_SEAL_SHRINK and without F_SEAL_WRITE',
    EBADFD: () => 'the fd is not a memfd: udmabuf wraps only shmem or hugetlbfs memfds',
    ENOMEM: () => 'the pages could not be pinned: free memory or make the buffer smaller',
  };
}

const byCode: Record<string, Advice> = {
  EBADF: () => 'the file descriptor is not open',
  ENOTTY: () => 'this fd does not accept that ioctl: it is not the kind of file the call needs',
  EMFILE: () => 'the process is out of file descriptors: close what you no longer use or raise ulimit -n',
  ENOMEM: () => 'out of memory, or past the locked-memory limit (ulimit -l)',
};

function addressText(a: unknown): string {
  const { host, port } = (a ?? {}) as { host?: unknown; port?: unknown };
  return `${String(host)}:${String(port)}`;
}

function deviceHint(path: string): string {
  if (path === '/dev/udmabuf') return 'the kernel lacks udmabuf (CONFIG_UDMABUF); try `modprobe udmabuf`, or use the emulator (DMABRIDGE_BACKEND=emulator)';
  if (path.startsWith('/dev/dma_heap')) return 'the kernel lacks that dma-heap (CONFIG_DMABUF_HEAPS_SYSTEM for "system"); list heaps with `dmabridge info`';
  if (path.startsWith('/dev/dri')) return 'no such DRM node: load a driver (`modprobe vgem` gives a test device) or list nodes with `dmabridge info`';
  return 'check the path';
}

const advised = new WeakSet<SystemError>();

/**
 * Gives a system error the message "SYSCALL failed with CODE (reason): what
 * to do", keeping the backend's reason where it gave one; other errors, and
 * errors advised already, pass through.
 */
export function advise(e: unknown, args: unknown[]): unknown {
  if (!isSystemError(e)) return argumentCode(e);
  if (advised.has(e)) return e;
  advised.add(e);
  const reason = reasonOf(e);
  let text: string | undefined;
  try {
    text = (byCall[e.syscall]?.[e.code] ?? byCode[e.code])?.(args, e);
  } catch {
    // Advice is written for the arguments a call should get; it must never hide the error itself.
  }
  e.message = `${e.syscall} failed with ${e.code}${reason ? ` (${reason})` : ''}${text ? `: ${text}` : ''}`;
  return e;
}

/**
 * A backend refuses an argument of the wrong type or range with a TypeError or
 * RangeError (the addon's argument checks, the emulator's as well): give it
 * Node's code, so that every error from the seam can be told by its code.
 */
function argumentCode(e: unknown): unknown {
  if ((e instanceof TypeError || e instanceof RangeError) && (e as { code?: unknown }).code === undefined) {
    (e as { code?: string }).code = e instanceof RangeError ? 'ERR_OUT_OF_RANGE' : 'ERR_INVALID_ARG_TYPE';
  }
  return e;
}

/**
 * Calls on the hot path of RDMA and readiness pass straight through: a
 * wrapper costs every call, and their callers advise the rare error.
 */
const HOT = new Set<string>(['ibvPostSend', 'ibvPostRecv', 'ibvPollCq', 'poll']);

/** The backend, with every error it throws given its advice. */
export function withAdvice(backend: Backend): Backend {
  const wrapped: Record<string, unknown> = { name: backend.name };
  for (const key of Object.keys(proto(backend)) as Array<keyof Backend>) {
    const fn = backend[key];
    if (typeof fn !== 'function') continue;
    if (HOT.has(key)) {
      wrapped[key] = fn.bind(backend);
      continue;
    }
    wrapped[key] = (...args: unknown[]) => {
      try {
        return (fn as (...a: unknown[]) => unknown).apply(backend, args);
      } catch (e) {
        throw advise(e, args);
      }
    };
  }
  wraps(wrapped as unknown as Backend, backend);
  return wrapped as unknown as Backend;
}

function proto(backend: Backend): Record<string, unknown> {
  const keys: Record<string, unknown> = {};
  for (let o: object | null = backend; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const k of Object.getOwnPropertyNames(o)) if (k !== 'constructor') keys[k] ??= true;
  }
  return keys;
}

export type { SystemError };
