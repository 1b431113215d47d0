// Kernel constants the emulator needs that do not cross the Backend seam
// (those live in seam/uapi.ts).

// open(2): bits of f_flags
export const O_NONBLOCK = 0o4000;
export const O_LARGEFILE = 0o100000;
export const O_DIRECTORY = 0o200000;
/** Flags open(2) consumes and does not keep in f_flags. */
export const O_OPEN_ONLY = 0o100 | 0o200 | 0o400 | 0o1000; // O_CREAT|O_EXCL|O_NOCTTY|O_TRUNC

// mmap(2)
export const MAP_TYPE = 0x0f;
export const MAP_SHARED_VALIDATE = 0x03;
export const MAP_FIXED = 0x10;
export const MAP_FIXED_NOREPLACE = 0x100000;

// poll(2)
export const POLLRDNORM = 0x40;
export const POLLWRNORM = 0x100;

// memfd_create(2) and seals
export const MFD_NOEXEC_SEAL = 0x8;
export const MFD_EXEC = 0x10;
/** NAME_MAX minus the "memfd:" prefix. */
export const MFD_NAME_MAX_LEN = 249;
export const F_SEAL_EXEC = 0x20;

// sync_file.h / dma-buf.h / drm.h: fixed-size name fields, NUL included
export const SYNC_NAME_LEN = 32;
