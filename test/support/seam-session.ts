// Shared pieces of the seam tests: a per-test session that closes what the
// test opened and checks the process's fds are as before, errno assertions,
// and the objects most tests start from.
import { afterEach, beforeEach, expect } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { controls } from '../../emulator';
import type { Backend } from '../../seam/backend';
import { parseFdinfo } from '../../src/fdinfo';
import { isSystemError, SystemError } from '../../seam/system-error';
import * as uapi from '../../seam/uapi';
import { DEVICES, type BackendCase } from './backends';

export const PAGE = uapi.PAGE_SIZE;
export const VGEM = DEVICES.vgem;
/** An fd number no test process has open. */
export const CLOSED_FD = 99_999;

export function errorOf(fn: () => unknown): SystemError {
  try {
    fn();
  } catch (e) {
    if (isSystemError(e)) return e;
    throw e;
  }
  throw new Error('expected a system error, and the call succeeded');
}

export function expectErrno(fn: () => unknown, code: string, syscall: string): void {
  const e = errorOf(fn);
  expect({ code: e.code, syscall: e.syscall }).toEqual({ code, syscall });
}

export class Session {
  #backend: Backend | undefined;
  #before: number[] = [];
  readonly #fds: number[] = [];
  readonly #views: Uint8Array[] = [];

  constructor(private readonly b: BackendCase) {
    beforeEach(() => {
      this.#backend = b.create();
      this.#before = this.#backend.openFds();
    });
    afterEach(() => {
      const backend = this.backend;
      for (const view of this.#views.splice(0).reverse()) backend.munmap(view);
      for (const fd of this.#fds.splice(0).reverse()) backend.close(fd);
      expect(backend.openFds()).toEqual(this.#before);
    });
  }

  get backend(): Backend {
    if (!this.#backend) throw new Error('the session has no backend outside a test');
    return this.#backend;
  }

  get emulated(): boolean {
    return this.b.name === 'emulator';
  }

  /** Tracks an fd the test opened, to be closed after it. */
  fd(fd: number): number {
    this.#fds.push(fd);
    return fd;
  }

  /** Closes a tracked fd now. */
  close(fd: number): void {
    this.#fds.splice(this.#fds.indexOf(fd), 1);
    this.backend.close(fd);
  }

  map(fd: number, length: number, prot = uapi.PROT_READ | uapi.PROT_WRITE, flags = uapi.MAP_SHARED, offset = 0n): Uint8Array {
    const view = this.backend.mmap(fd, length, prot, flags, offset);
    this.#views.push(view);
    return view;
  }

  unmap(view: Uint8Array): void {
    this.#views.splice(this.#views.indexOf(view), 1);
    this.backend.munmap(view);
  }

  fdinfo(fd: number): Map<string, string> {
    return parseFdinfo(this.backend.readFdinfo(fd));
  }

  size(fd: number): bigint {
    return this.backend.lseek(fd, 0n, uapi.SEEK_END);
  }

  /** A memfd of `pages` pages with MFD_ALLOW_SEALING and `seals` added. */
  memfd(pages: number, seals = uapi.F_SEAL_SHRINK): number {
    const fd = this.fd(this.backend.memfdCreate('dmabridge-test', uapi.MFD_ALLOW_SEALING | uapi.MFD_CLOEXEC));
    this.backend.ftruncate(fd, BigInt(pages * PAGE));
    if (seals) this.backend.addSeals(fd, seals);
    return fd;
  }

  udmabufDevice(): number {
    return this.fd(this.backend.open('/dev/udmabuf', uapi.O_RDWR | uapi.O_CLOEXEC));
  }

  /** A system-heap dma-buf of `len` bytes. */
  heapBuffer(len: number, fdFlags = uapi.O_RDWR | uapi.O_CLOEXEC): number {
    const heap = this.backend.open('/dev/dma_heap/system', uapi.O_RDONLY | uapi.O_CLOEXEC);
    try {
      return this.fd(this.backend.dmaHeapAlloc(heap, BigInt(len), fdFlags, 0n));
    } finally {
      this.backend.close(heap);
    }
  }

  /** vgem's primary (card) or render node, found by driver name as the selftests do. */
  vgem(node: 'card' | 'renderD' = 'card'): number {
    const backend = this.backend;
    for (const name of backend.readdir('/dev/dri').filter((n) => n.startsWith(node))) {
      const fd = backend.open(`/dev/dri/${name}`, uapi.O_RDWR | uapi.O_CLOEXEC);
      if (backend.drmVersion(fd).name === 'vgem') return this.fd(fd);
      backend.close(fd);
    }
    throw new Error(`no vgem ${node} node in /dev/dri: modprobe vgem`);
  }

  /** A vgem dumb buffer of `pages` pages: its handle. */
  dumb(drm: number, pages = 1): number {
    return this.backend.drmCreateDumb(drm, PAGE / 4, pages, 32, 0).handle;
  }

  /** Lets `ms` of time pass: the emulator's clock skips ahead, the real kernel's is waited for. */
  async elapse(ms: number): Promise<void> {
    if (this.emulated) controls(this.backend).clock.advance(ms);
    else await sleep(ms);
  }
}

/** Resolves after a few turns of the event loop. */
export async function turns(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}
