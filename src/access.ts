import { oneOf } from './args';
import * as uapi from '../seam/uapi';

/** Which way the CPU or a device uses a buffer. */
export type Access = 'read' | 'write' | 'rw';
export const ACCESS: readonly Access[] = ['read', 'write', 'rw'];

export function accessArg(value: unknown, name = 'access'): Access {
  return oneOf(value, ACCESS, name);
}

export function syncFlags(access: Access): number {
  return { read: uapi.DMA_BUF_SYNC_READ, write: uapi.DMA_BUF_SYNC_WRITE, rw: uapi.DMA_BUF_SYNC_RW }[access];
}

/**
 * Every CPU view is mapped readable and writable, whatever access it is for:
 * JS cannot make a Uint8Array read-only, and a store into a PROT_READ mapping
 * would kill the process with SIGSEGV instead of throwing.
 */
export const VIEW_PROT = uapi.PROT_READ | uapi.PROT_WRITE;

/** A dma-buf is ready for reading once writers are done, for writing once everyone is. */
export function pollEvents(access: Access): number {
  return access === 'read' ? uapi.POLLIN : uapi.POLLOUT;
}
