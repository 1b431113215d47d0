// errno values of Linux on x86-64 and arm64 (asm-generic), by name.
// ENOTSUPP (524) is kernel-internal but reaches user space from some
// exporters (mmap of a CUDA dma-buf), so it is named here too.
export const ERRNO = {
  EPERM: 1, ENOENT: 2, ESRCH: 3, EINTR: 4, EIO: 5, ENXIO: 6, E2BIG: 7,
  EBADF: 9, EAGAIN: 11, ENOMEM: 12, EACCES: 13, EFAULT: 14, EBUSY: 16,
  EEXIST: 17, EXDEV: 18, ENODEV: 19, ENOTDIR: 20, EISDIR: 21, EINVAL: 22,
  ENFILE: 23, EMFILE: 24, ENOTTY: 25, EFBIG: 27, ENOSPC: 28, ESPIPE: 29,
  EROFS: 30, EPIPE: 32, ERANGE: 34, ENOSYS: 38, ENODATA: 61, ETIME: 62,
  EPROTO: 71, EBADMSG: 74, EOVERFLOW: 75, EBADFD: 77, ENOTSOCK: 88,
  EMSGSIZE: 90, EPROTONOSUPPORT: 93, EOPNOTSUPP: 95, EADDRINUSE: 98,
  EADDRNOTAVAIL: 99, ENETDOWN: 100, ENETUNREACH: 101, ECONNABORTED: 103,
  ECONNRESET: 104, ENOBUFS: 105, ENOTCONN: 107, ETIMEDOUT: 110,
  ECONNREFUSED: 111, EHOSTUNREACH: 113, EALREADY: 114, EINPROGRESS: 115,
  ECANCELED: 125, ENOTSUPP: 524,
} as const;

export type ErrnoCode = keyof typeof ERRNO;

const NAMES = new Map<number, string>(Object.entries(ERRNO).map(([k, v]) => [v, k]));

export function errnoName(errno: number): string {
  return NAMES.get(Math.abs(errno)) ?? `E${Math.abs(errno)}`;
}
