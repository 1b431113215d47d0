// DRM on vgem: dumb buffers, GEM handles, PRIME, and vgem's test fences.
import { expect } from 'vitest';
import * as uapi from '../../seam/uapi';
import { describeEachBackend, itWith } from '../support/backends';
import { CLOSED_FD, expectErrno, PAGE, Session, VGEM } from '../support/seam-session';

const RDWR_CLOEXEC = uapi.DRM_RDWR | uapi.DRM_CLOEXEC;
const ATTACH = 'DRM_IOCTL_VGEM_FENCE_ATTACH';
const SIGNAL = 'DRM_IOCTL_VGEM_FENCE_SIGNAL';

describeEachBackend('vgem', (b) => {
  const s = new Session(b);
  const it = itWith(b, VGEM);

  it('has a primary and a render node that both say vgem', () => {
    const names = s.backend.readdir('/dev/dri');
    expect(names.some((n) => n.startsWith('card'))).toBe(true);
    expect(names.some((n) => n.startsWith('renderD'))).toBe(true);
    for (const fd of [s.vgem('card'), s.vgem('renderD')]) {
      // Seen on 6.12.107: the driver date is gone, and DRM answers "0".
      expect(s.backend.drmVersion(fd)).toEqual({
        name: 'vgem', date: '0', desc: 'Virtual GEM provider', major: 1, minor: 0, patch: 0,
      });
      expect(s.backend.readlinkFd(fd)).toMatch(/^\/dev\/dri\/(card|renderD)\d+$/);
    }
  });

  it('computes dumb buffer pitch and size, and refuses zero or overflowing sizes', () => {
    const drm = s.vgem();
    expect(s.backend.drmCreateDumb(drm, 1024, 768, 32, 0)).toEqual({ handle: 1, pitch: 4096, size: 3n << 20n });
    expect(s.backend.drmCreateDumb(drm, 100, 100, 24, 0)).toEqual({ handle: 2, pitch: 300, size: 32768n });
    const syscall = 'DRM_IOCTL_MODE_CREATE_DUMB';
    for (const [w, h, bpp] of [[0, 1, 32], [1, 0, 32], [1, 1, 0], [0x10000, 0x10000, 32], [1, 1, 0xffffffff]]) {
      expectErrno(() => s.backend.drmCreateDumb(drm, w, h, bpp, 0), 'EINVAL', syscall);
    }
  });

  it('hands out the lowest free GEM handle, and refuses unknown ones with EINVAL', () => {
    const drm = s.vgem();
    const [h1, h2] = [s.dumb(drm), s.dumb(drm)];
    expect([h1, h2]).toEqual([1, 2]);
    s.backend.drmGemClose(drm, h1);
    expect(s.dumb(drm)).toBe(1);
    s.backend.drmDestroyDumb(drm, h2);
    expectErrno(() => s.backend.drmGemClose(drm, h2), 'EINVAL', 'DRM_IOCTL_GEM_CLOSE');
    expectErrno(() => s.backend.drmDestroyDumb(drm, 77), 'EINVAL', 'DRM_IOCTL_MODE_DESTROY_DUMB');
  });

  it('keeps dumb buffers off the render node (EACCES), but not PRIME or fences', () => {
    const render = s.vgem('renderD');
    expectErrno(() => s.backend.drmCreateDumb(render, 64, 64, 32, 0), 'EACCES', 'DRM_IOCTL_MODE_CREATE_DUMB');
    expectErrno(() => s.backend.drmDestroyDumb(render, 1), 'EACCES', 'DRM_IOCTL_MODE_DESTROY_DUMB');
    expectErrno(() => s.backend.vgemFenceAttach(render, 1, 0), 'ENOENT', ATTACH);
    expectErrno(() => s.backend.drmPrimeHandleToFd(render, 1, 0), 'ENOENT', 'DRM_IOCTL_PRIME_HANDLE_TO_FD');
  });

  it('exports a GEM object as one dma-buf, and imports it back as the same handle', () => {
    const drm = s.vgem();
    const handle = s.dumb(drm, 2);
    expectErrno(() => s.backend.drmPrimeHandleToFd(drm, handle, 0x4), 'EINVAL', 'DRM_IOCTL_PRIME_HANDLE_TO_FD');
    expectErrno(() => s.backend.drmPrimeHandleToFd(drm, 99, 0), 'ENOENT', 'DRM_IOCTL_PRIME_HANDLE_TO_FD');
    const buf = s.fd(s.backend.drmPrimeHandleToFd(drm, handle, RDWR_CLOEXEC));
    expect(s.size(buf)).toBe(BigInt(2 * PAGE));
    const info = s.fdinfo(buf);
    expect(info.get('exp_name')).toBe('drm');
    expect(info.get('flags')).toBe('02000002');
    // The fd, obj->dma_buf and this file's PRIME cache each hold a reference (drm_prime.c; seen on 6.12.107).
    expect(info.get('count')).toBe('3');
    const again = s.fd(s.backend.drmPrimeHandleToFd(drm, handle, 0));
    expect(s.fdinfo(again).get('ino')).toBe(info.get('ino'));
    expect(s.fdinfo(again).get('flags')).toBe('02');
    expect(s.backend.drmPrimeFdToHandle(drm, buf)).toBe(handle);
    s.backend.drmGemClose(drm, handle);
    expect(s.fdinfo(buf).get('count')).toBe('2');
    expect(s.size(buf)).toBe(BigInt(2 * PAGE));
  });

  it('refuses to import what is not a dma-buf', () => {
    const drm = s.vgem();
    const memfd = s.memfd(1, 0);
    expectErrno(() => s.backend.drmPrimeFdToHandle(drm, CLOSED_FD), 'EBADF', 'DRM_IOCTL_PRIME_FD_TO_HANDLE');
    expectErrno(() => s.backend.drmPrimeFdToHandle(drm, memfd), 'EINVAL', 'DRM_IOCTL_PRIME_FD_TO_HANDLE');
  });

  it('maps an export shared only, and writably only with DRM_RDWR', () => {
    const drm = s.vgem();
    const ro = s.fd(s.backend.drmPrimeHandleToFd(drm, s.dumb(drm), uapi.DRM_CLOEXEC));
    const rw = uapi.PROT_READ | uapi.PROT_WRITE;
    expectErrno(() => s.backend.mmap(ro, PAGE, rw, uapi.MAP_SHARED, 0n), 'EACCES', 'mmap');
    const buf = s.fd(s.backend.drmPrimeHandleToFd(drm, s.dumb(drm), RDWR_CLOEXEC));
    expectErrno(() => s.backend.mmap(buf, PAGE, uapi.PROT_READ, uapi.MAP_PRIVATE, 0n), 'EINVAL', 'mmap');
    const a = s.map(buf, PAGE);
    const c = s.map(buf, PAGE, uapi.PROT_READ);
    a[5] = 0x6b;
    expect(c[5]).toBe(0x6b);
  });

  it('imports a dma-buf of another exporter once per file, holding references until the handle closes', () => {
    const drm = s.vgem();
    const buf = s.heapBuffer(PAGE);
    const handle = s.backend.drmPrimeFdToHandle(drm, buf);
    expect(s.backend.drmPrimeFdToHandle(drm, buf)).toBe(handle);
    expect(Number(s.fdinfo(buf).get('count'))).toBeGreaterThan(1);
    const back = s.fd(s.backend.drmPrimeHandleToFd(drm, handle, uapi.DRM_CLOEXEC));
    expect(s.fdinfo(back).get('ino')).toBe(s.fdinfo(buf).get('ino'));
    s.close(back);
    s.backend.drmGemClose(drm, handle);
    expect(s.fdinfo(buf).get('count')).toBe('1');
  });

  it('numbers fences from 1, never reuses an id, and refuses conflicting attaches with EBUSY', () => {
    const drm = s.vgem();
    const handle = s.dumb(drm);
    expectErrno(() => s.backend.vgemFenceAttach(drm, handle, 2), 'EINVAL', ATTACH);
    expectErrno(() => s.backend.vgemFenceAttach(drm, 99, 0), 'ENOENT', ATTACH);
    const writer = s.backend.vgemFenceAttach(drm, handle, uapi.VGEM_FENCE_WRITE);
    expect(writer).toBe(1);
    expectErrno(() => s.backend.vgemFenceAttach(drm, handle, 0), 'EBUSY', ATTACH);
    expectErrno(() => s.backend.vgemFenceAttach(drm, handle, uapi.VGEM_FENCE_WRITE), 'EBUSY', ATTACH);
    s.backend.vgemFenceSignal(drm, writer);
    expectErrno(() => s.backend.vgemFenceSignal(drm, writer), 'ENOENT', SIGNAL);
    expectErrno(() => s.backend.vgemFenceSignal(drm, 99), 'ENOENT', SIGNAL);
    expectErrno(() => s.backend.vgemFenceSignal(drm, 0), 'ENOENT', SIGNAL);
    const readers = [s.backend.vgemFenceAttach(drm, handle, 0), s.backend.vgemFenceAttach(drm, handle, 0)];
    expect(readers).toEqual([2, 3]);
    expectErrno(() => s.backend.vgemFenceAttach(drm, handle, uapi.VGEM_FENCE_WRITE), 'EBUSY', ATTACH);
    for (const id of readers) s.backend.vgemFenceSignal(drm, id);
    expect(s.backend.vgemFenceAttach(drm, handle, uapi.VGEM_FENCE_WRITE)).toBe(4);
  });

  it('shows fences through the exported dma-buf: poll and EXPORT_SYNC_FILE', () => {
    const drm = s.vgem();
    const handle = s.dumb(drm);
    const buf = s.fd(s.backend.drmPrimeHandleToFd(drm, handle, RDWR_CLOEXEC));
    const reader = s.backend.vgemFenceAttach(drm, handle, 0);
    // A reader blocks writers (POLLOUT) but not other readers (POLLIN).
    expect(s.backend.poll(buf, uapi.POLLIN | uapi.POLLOUT)).toBe(uapi.POLLIN);
    const forWriters = s.fd(s.backend.dmaBufExportSyncFile(buf, uapi.DMA_BUF_SYNC_WRITE));
    const forReaders = s.fd(s.backend.dmaBufExportSyncFile(buf, uapi.DMA_BUF_SYNC_READ));
    expect(s.backend.syncFileInfo(forWriters).fences[0]).toMatchObject({ driverName: 'vgem', objName: 'unbound', status: 0 });
    expect(s.backend.syncFileInfo(forReaders).fences[0].driverName).toBe('stub');
    s.backend.vgemFenceSignal(drm, reader);
    expect(s.backend.poll(buf, uapi.POLLIN | uapi.POLLOUT)).toBe(uapi.POLLIN | uapi.POLLOUT);

    const writer = s.backend.vgemFenceAttach(drm, handle, uapi.VGEM_FENCE_WRITE);
    expect(s.backend.poll(buf, uapi.POLLIN | uapi.POLLOUT)).toBe(0);
    s.backend.vgemFenceSignal(drm, writer);
    expect(s.backend.poll(buf, uapi.POLLIN | uapi.POLLOUT)).toBe(uapi.POLLIN | uapi.POLLOUT);
  });

  it('puts fences attached through an imported handle on the exporter\'s buffer', () => {
    const card = s.vgem('card');
    const render = s.vgem('renderD');
    const buf = s.fd(s.backend.drmPrimeHandleToFd(card, s.dumb(card), RDWR_CLOEXEC));
    const imported = s.backend.drmPrimeFdToHandle(render, buf);
    const fence = s.backend.vgemFenceAttach(render, imported, uapi.VGEM_FENCE_WRITE);
    expect(s.backend.poll(buf, uapi.POLLIN)).toBe(0);
    s.backend.vgemFenceSignal(render, fence);
    expect(s.backend.poll(buf, uapi.POLLIN)).toBe(uapi.POLLIN);

    const heapBuf = s.heapBuffer(PAGE);
    const onHeap = s.backend.drmPrimeFdToHandle(render, heapBuf);
    s.backend.vgemFenceAttach(render, onHeap, uapi.VGEM_FENCE_WRITE);
    expect(s.backend.poll(heapBuf, uapi.POLLIN | uapi.POLLOUT)).toBe(0);
    s.close(render);
    expect(s.backend.poll(heapBuf, uapi.POLLIN | uapi.POLLOUT)).toBe(uapi.POLLIN | uapi.POLLOUT);
  });

  it('holds a reference to the dma-buf while a poll waits on one of its fences', () => {
    const drm = s.vgem();
    const handle = s.dumb(drm);
    const buf = s.fd(s.backend.drmPrimeHandleToFd(drm, handle, RDWR_CLOEXEC));
    s.backend.drmGemClose(drm, handle);
    const count = () => s.fdinfo(buf).get('count');
    const fence = s.backend.vgemFenceAttach(drm, s.backend.drmPrimeFdToHandle(drm, buf), uapi.VGEM_FENCE_WRITE);
    const before = Number(count());
    expect(s.backend.poll(buf, uapi.POLLIN)).toBe(0);
    expect(Number(count())).toBe(before + 1);
    // A second poll finds the callback armed and arms nothing more.
    expect(s.backend.poll(buf, uapi.POLLIN)).toBe(0);
    expect(Number(count())).toBe(before + 1);
    s.backend.vgemFenceSignal(drm, fence);
    expect(Number(count())).toBe(before);
  });

  it('lseeks a DRM file as a no-op, polls it as never ready, and maps nothing at offset 0', () => {
    const drm = s.vgem();
    expect(s.backend.lseek(drm, 100n, uapi.SEEK_SET)).toBe(0n);
    expect(s.backend.poll(drm, uapi.POLLIN | uapi.POLLOUT)).toBe(0);
    expectErrno(() => s.backend.mmap(drm, PAGE, uapi.PROT_READ, uapi.MAP_SHARED, 0n), 'EINVAL', 'mmap');
  });

  it('signals a file\'s pending fences, without error, when the file closes', () => {
    const drm = s.vgem();
    const handle = s.dumb(drm);
    const buf = s.fd(s.backend.drmPrimeHandleToFd(drm, handle, RDWR_CLOEXEC));
    s.backend.vgemFenceAttach(drm, handle, uapi.VGEM_FENCE_WRITE);
    const sync = s.fd(s.backend.dmaBufExportSyncFile(buf, uapi.DMA_BUF_SYNC_RW));
    expect(s.backend.poll(sync, uapi.POLLIN)).toBe(0);
    s.close(drm);
    expect(s.backend.poll(sync, uapi.POLLIN)).toBe(uapi.POLLIN);
    const info = s.backend.syncFileInfo(sync);
    expect(info.status).toBe(1);
    expect(info.fences[0].status).toBe(1);
    expect(info.fences[0].timestampNs).toBeGreaterThan(0n);
  });

  it('signals a fence itself after 10 s, without error; signalling it then answers ETIMEDOUT', { timeout: 30_000 }, async () => {
    const drm = s.vgem();
    const handle = s.dumb(drm);
    const buf = s.fd(s.backend.drmPrimeHandleToFd(drm, handle, RDWR_CLOEXEC));
    const fence = s.backend.vgemFenceAttach(drm, handle, uapi.VGEM_FENCE_WRITE);
    const sync = s.fd(s.backend.dmaBufExportSyncFile(buf, uapi.DMA_BUF_SYNC_RW));
    await s.elapse(10_500);
    expect(s.backend.syncFileInfo(sync).status).toBe(1);
    expect(s.backend.poll(buf, uapi.POLLIN | uapi.POLLOUT)).toBe(uapi.POLLIN | uapi.POLLOUT);
    expectErrno(() => s.backend.vgemFenceSignal(drm, fence), 'ETIMEDOUT', SIGNAL);
    expectErrno(() => s.backend.vgemFenceSignal(drm, fence), 'ENOENT', SIGNAL);
  });
});
