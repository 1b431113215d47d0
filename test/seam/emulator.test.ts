// The emulator's own knobs, which the real kernel has no counterpart of:
// its clock, its memory size, and how it copes where JavaScript cannot
// alias memory the way page tables do.
import { describe, expect, it } from 'vitest';
import { controls, createEmulator } from '../../emulator';
import type { Backend } from '../../seam/backend';
import * as uapi from '../../seam/uapi';
import { errorOf, PAGE } from '../support/seam-session';

function vgemFenceOnBuffer(backend: Backend): { drm: number; buf: number; fence: number } {
  const drm = backend.open('/dev/dri/card0', uapi.O_RDWR);
  const { handle } = backend.drmCreateDumb(drm, 1024, 1, 32, 0);
  const buf = backend.drmPrimeHandleToFd(drm, handle, uapi.DRM_RDWR);
  const fence = backend.vgemFenceAttach(drm, handle, uapi.VGEM_FENCE_WRITE);
  return { drm, buf, fence };
}

describe('emulator controls', () => {
  it('lists the default devices', () => {
    const backend = createEmulator();
    expect(backend.readdir('/dev/dma_heap')).toEqual(['system']);
    expect(backend.readdir('/dev/dri')).toEqual(['card0', 'renderD128']);
    expect(backend.readdir('/dev')).toEqual(['dma_heap', 'dri', 'infiniband', 'udmabuf']);
    // rdma_cm is rdma_ucm's node, which librdmacm opens for each event channel.
    expect(backend.readdir('/dev/infiniband')).toEqual(['rdma_cm', 'uverbs0', 'uverbs1', 'uverbs2']);
  });

  it('stands time still with manualClock, and fires vgem\'s 10 s timeout when advanced', () => {
    const backend = createEmulator({ manualClock: true });
    const { clock } = controls(backend);
    const t0 = clock.nowNs();
    const { drm, buf, fence } = vgemFenceOnBuffer(backend);
    expect(clock.nowNs()).toBe(t0);
    clock.advance(9_999);
    expect(backend.poll(buf, uapi.POLLIN)).toBe(0);
    clock.advance(1);
    expect(backend.poll(buf, uapi.POLLIN)).toBe(uapi.POLLIN);
    expect(errorOf(() => backend.vgemFenceSignal(drm, fence)).code).toBe('ETIMEDOUT');
    const sync = backend.dmaBufExportSyncFile(buf, uapi.DMA_BUF_SYNC_RW);
    expect(backend.syncFileInfo(sync).fences[0].driverName).toBe('stub');
  });

  it('lets a blocking SYNC START sleep until the fence signals: time jumps ahead', () => {
    const backend = createEmulator({ manualClock: true });
    const { clock } = controls(backend);
    const { buf } = vgemFenceOnBuffer(backend);
    const sync = backend.dmaBufExportSyncFile(buf, uapi.DMA_BUF_SYNC_RW);
    const t0 = clock.nowNs();
    backend.dmaBufSync(buf, uapi.DMA_BUF_SYNC_START | uapi.DMA_BUF_SYNC_READ);
    expect(clock.nowNs() - t0).toBe(10_000_000_000n);
    const fence = backend.syncFileInfo(sync).fences[0];
    expect(fence).toMatchObject({ status: 1, timestampNs: clock.nowNs() });
  });

  it('answers ENOMEM past its memory limit, and frees memory with the last reference', () => {
    const backend = createEmulator({ memoryLimit: 4 * PAGE });
    const heap = backend.open('/dev/dma_heap/system', uapi.O_RDONLY);
    const buf = backend.dmaHeapAlloc(heap, BigInt(3 * PAGE), uapi.O_RDWR, 0n);
    expect(errorOf(() => backend.dmaHeapAlloc(heap, BigInt(2 * PAGE), uapi.O_RDWR, 0n)).code).toBe('ENOMEM');
    const memfd = backend.memfdCreate('m', 0);
    expect(errorOf(() => backend.ftruncate(memfd, BigInt(2 * PAGE))).code).toBe('ENOMEM');
    const view = backend.mmap(buf, PAGE, uapi.PROT_READ, uapi.MAP_SHARED, 0n);
    backend.close(buf);
    expect(errorOf(() => backend.ftruncate(memfd, BigInt(2 * PAGE))).code).toBe('ENOMEM');
    backend.munmap(view);
    backend.ftruncate(memfd, BigInt(2 * PAGE));
  });

  it('keeps a scattered udmabuf coherent with its memfd at SYNC, not in between', () => {
    const backend = createEmulator();
    const dev = backend.open('/dev/udmabuf', uapi.O_RDWR);
    const memfd = backend.memfdCreate('m', uapi.MFD_ALLOW_SEALING);
    backend.ftruncate(memfd, BigInt(4 * PAGE));
    backend.addSeals(memfd, uapi.F_SEAL_SHRINK);
    const items = [2, 0].map((page) => ({ memfd, offset: BigInt(page * PAGE), size: BigInt(PAGE) }));
    const buf = backend.udmabufCreateList(dev, items, 0);
    const file = backend.mmap(memfd, 4 * PAGE, uapi.PROT_READ | uapi.PROT_WRITE, uapi.MAP_SHARED, 0n);
    const dma = backend.mmap(buf, 2 * PAGE, uapi.PROT_READ | uapi.PROT_WRITE, uapi.MAP_SHARED, 0n);
    file[2 * PAGE] = 1;
    expect(dma[0]).toBe(0);
    backend.dmaBufSync(buf, uapi.DMA_BUF_SYNC_START | uapi.DMA_BUF_SYNC_RW);
    expect(dma[0]).toBe(1);
    dma[PAGE] = 2;
    expect(file[0]).toBe(0);
    backend.dmaBufSync(buf, uapi.DMA_BUF_SYNC_END | uapi.DMA_BUF_SYNC_READ);
    expect(file[0]).toBe(0);
    backend.dmaBufSync(buf, uapi.DMA_BUF_SYNC_END | uapi.DMA_BUF_SYNC_WRITE);
    expect(file[0]).toBe(2);
  });

  it('belongs to emulator backends only', () => {
    const native = { ...createEmulator(), name: 'native' } as Backend;
    expect(() => controls(native)).toThrow(TypeError);
  });
});
