// sync_file: info, merge and poll, with vgem fences as the timelines.
import { expect } from 'vitest';
import * as uapi from '../../seam/uapi';
import { describeEachBackend, itWith } from '../support/backends';
import { CLOSED_FD, expectErrno, Session, VGEM } from '../support/seam-session';

describeEachBackend('sync_file', (b) => {
  const s = new Session(b);
  const it = itWith(b, VGEM);

  /** A pending vgem fence as a sync_file, with what signals it. */
  function fence(drm: number, write = true): { sync: number; signal: () => void } {
    const handle = s.dumb(drm);
    const buf = s.backend.drmPrimeHandleToFd(drm, handle, uapi.DRM_RDWR | uapi.DRM_CLOEXEC);
    const id = s.backend.vgemFenceAttach(drm, handle, write ? uapi.VGEM_FENCE_WRITE : 0);
    const sync = s.fd(s.backend.dmaBufExportSyncFile(buf, uapi.DMA_BUF_SYNC_RW));
    s.backend.close(buf);
    return { sync, signal: () => s.backend.vgemFenceSignal(drm, id) };
  }

  it('reports a pending fence, then its signal with a timestamp', () => {
    const drm = s.vgem();
    const f = fence(drm);
    const pending = s.backend.syncFileInfo(f.sync);
    expect(pending.name).toMatch(/^vgem-unbound\d+-1$/);
    expect(pending.status).toBe(0);
    expect(pending.fences).toEqual([{ objName: 'unbound', driverName: 'vgem', status: 0, flags: 0, timestampNs: 0n }]);
    expect(s.backend.poll(f.sync, uapi.POLLIN)).toBe(0);
    f.signal();
    const done = s.backend.syncFileInfo(f.sync);
    expect(done.status).toBe(1);
    expect(done.fences[0].status).toBe(1);
    expect(done.fences[0].timestampNs).toBeGreaterThan(0n);
    expect(s.backend.poll(f.sync, uapi.POLLIN | uapi.POLLOUT)).toBe(uapi.POLLIN);
  });

  it('merges two pending fences into one file that waits for both', () => {
    const drm = s.vgem();
    const [a, c] = [fence(drm), fence(drm)];
    const merged = s.fd(s.backend.syncFileMerge(a.sync, c.sync, 'both'));
    expect(s.fdinfo(merged).get('flags')).toBe('02000000');
    const info = s.backend.syncFileInfo(merged);
    expect(info.name).toBe('both');
    expect(info.status).toBe(0);
    expect(info.fences.map((f) => f.driverName)).toEqual(['vgem', 'vgem']);
    a.signal();
    expect(s.backend.poll(merged, uapi.POLLIN)).toBe(0);
    expect(s.backend.syncFileInfo(merged).fences.map((f) => f.status).sort()).toEqual([0, 1]);
    c.signal();
    expect(s.backend.poll(merged, uapi.POLLIN)).toBe(uapi.POLLIN);
    expect(s.backend.syncFileInfo(merged).status).toBe(1);
  });

  it('drops signalled fences and keeps one per context when merging', () => {
    const drm = s.vgem();
    const [a, c] = [fence(drm), fence(drm)];
    const self = s.fd(s.backend.syncFileMerge(a.sync, a.sync, 'self'));
    expect(s.backend.syncFileInfo(self).fences).toHaveLength(1);
    a.signal();
    const one = s.fd(s.backend.syncFileMerge(a.sync, c.sync, 'one'));
    expect(s.backend.syncFileInfo(one).fences).toMatchObject([{ driverName: 'vgem', status: 0 }]);
    c.signal();
    const none = s.fd(s.backend.syncFileMerge(a.sync, c.sync, 'none'));
    const stub = s.backend.syncFileInfo(none);
    expect(stub).toMatchObject({ name: 'none', status: 1 });
    expect(stub.fences).toMatchObject([{ driverName: 'stub', objName: 'stub', status: 1 }]);
  });

  it('keeps the first 31 bytes of a merge name, and wants a sync_file to merge with', () => {
    const drm = s.vgem();
    const a = fence(drm);
    const merged = s.fd(s.backend.syncFileMerge(a.sync, a.sync, 'x'.repeat(40)));
    expect(s.backend.syncFileInfo(merged).name).toBe('x'.repeat(31));
    const memfd = s.memfd(1, 0);
    expectErrno(() => s.backend.syncFileMerge(a.sync, memfd, 'm'), 'ENOENT', 'SYNC_IOC_MERGE');
    expectErrno(() => s.backend.syncFileMerge(a.sync, CLOSED_FD, 'm'), 'ENOENT', 'SYNC_IOC_MERGE');
    a.signal();
  });

  it('exports only the writers to a reader, and everyone to a writer', () => {
    const drm = s.vgem();
    const handle = s.dumb(drm);
    const buf = s.fd(s.backend.drmPrimeHandleToFd(drm, handle, uapi.DRM_RDWR | uapi.DRM_CLOEXEC));
    const r1 = s.backend.vgemFenceAttach(drm, handle, 0);
    s.backend.vgemFenceAttach(drm, handle, 0);
    const forReader = s.fd(s.backend.dmaBufExportSyncFile(buf, uapi.DMA_BUF_SYNC_READ));
    expect(s.backend.syncFileInfo(forReader).fences[0].driverName).toBe('stub');
    const forWriter = s.fd(s.backend.dmaBufExportSyncFile(buf, uapi.DMA_BUF_SYNC_WRITE));
    const info = s.backend.syncFileInfo(forWriter);
    expect(info.name).toMatch(/^dma_fence_array-unbound\d+-1$/);
    expect(info.fences.map((f) => f.driverName)).toEqual(['vgem', 'vgem']);
    s.backend.vgemFenceSignal(drm, r1);
    const later = s.fd(s.backend.dmaBufExportSyncFile(buf, uapi.DMA_BUF_SYNC_WRITE));
    expect(s.backend.syncFileInfo(later).fences).toHaveLength(1);
  });

  it('carries a fence into another buffer with IMPORT_SYNC_FILE', () => {
    const drm = s.vgem();
    const f = fence(drm);
    const buf = s.heapBuffer(4096);
    s.backend.dmaBufImportSyncFile(buf, uapi.DMA_BUF_SYNC_WRITE, f.sync);
    expect(s.backend.poll(buf, uapi.POLLIN | uapi.POLLOUT)).toBe(0);
    const out = s.fd(s.backend.dmaBufExportSyncFile(buf, uapi.DMA_BUF_SYNC_READ));
    expect(s.backend.syncFileInfo(out).name).toBe(s.backend.syncFileInfo(f.sync).name);
    f.signal();
    expect(s.backend.poll(buf, uapi.POLLIN | uapi.POLLOUT)).toBe(uapi.POLLIN | uapi.POLLOUT);

    const reader = fence(drm);
    s.backend.dmaBufImportSyncFile(buf, uapi.DMA_BUF_SYNC_READ, reader.sync);
    expect(s.backend.poll(buf, uapi.POLLIN | uapi.POLLOUT)).toBe(uapi.POLLIN);
    reader.signal();
  });
});
