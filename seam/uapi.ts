// Numeric constants of the Linux user ABI that cross the Backend seam.
// Both backends take and return these raw kernel values.

export const PAGE_SIZE = 4096;

// open(2)
export const O_RDONLY = 0o0;
export const O_WRONLY = 0o1;
export const O_RDWR = 0o2;
export const O_ACCMODE = 0o3;
export const O_CLOEXEC = 0o2000000;

// lseek(2)
export const SEEK_SET = 0;
export const SEEK_CUR = 1;
export const SEEK_END = 2;

// stat(2) st_mode
export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFCHR = 0o20000;
export const S_IFDIR = 0o40000;

// recvmsg(2) msg_flags
export const MSG_CTRUNC = 0x8;

// memfd_create(2)
export const MFD_CLOEXEC = 0x1;
export const MFD_ALLOW_SEALING = 0x2;

// fcntl(2) seals
export const F_SEAL_SEAL = 0x1;
export const F_SEAL_SHRINK = 0x2;
export const F_SEAL_GROW = 0x4;
export const F_SEAL_WRITE = 0x8;
export const F_SEAL_FUTURE_WRITE = 0x10;

// mmap(2)
export const PROT_READ = 0x1;
export const PROT_WRITE = 0x2;
export const MAP_SHARED = 0x1;
export const MAP_PRIVATE = 0x2;
export const MADV_DONTNEED = 4;

// poll(2)
export const POLLIN = 0x1;
export const POLLOUT = 0x4;
export const POLLERR = 0x8;
export const POLLHUP = 0x10;
export const POLLNVAL = 0x20;

// linux/udmabuf.h
export const UDMABUF_FLAGS_CLOEXEC = 0x1;

// linux/dma-buf.h
export const DMA_BUF_SYNC_READ = 1 << 0;
export const DMA_BUF_SYNC_WRITE = 2 << 0;
export const DMA_BUF_SYNC_RW = DMA_BUF_SYNC_READ | DMA_BUF_SYNC_WRITE;
export const DMA_BUF_SYNC_START = 0 << 2;
export const DMA_BUF_SYNC_END = 1 << 2;
export const DMA_BUF_NAME_LEN = 32;

// drm/drm.h
export const DRM_CLOEXEC = O_CLOEXEC;
export const DRM_RDWR = O_RDWR;

// drm/vgem_drm.h
export const VGEM_FENCE_WRITE = 0x1;
