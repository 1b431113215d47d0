// Readiness watches: asynchronous, level-triggered, and silent once stopped.
import { expect } from 'vitest';
import * as uapi from '../../seam/uapi';
import { describeEachBackend, DEVICES, itWith } from '../support/backends';
import { Session, turns, VGEM } from '../support/seam-session';

describeEachBackend('watch', (b) => {
  const s = new Session(b);

  itWith(b, DEVICES.heap)('calls back on the event loop while ready, and never after stop()', async () => {
    const buf = s.heapBuffer(4096);
    const calls: number[] = [];
    const watch = s.backend.watch(buf, uapi.POLLIN, (revents) => calls.push(revents));
    expect(calls).toEqual([]);
    await turns(10);
    expect(calls.length).toBeGreaterThan(1);
    expect(calls.every((r) => r === uapi.POLLIN)).toBe(true);
    watch.stop();
    const seen = calls.length;
    await turns(10);
    expect(calls.length).toBe(seen);
    watch.stop();
  });

  itWith(b, DEVICES.heap)('stops from inside its own callback', async () => {
    const buf = s.heapBuffer(4096);
    let calls = 0;
    const watch = s.backend.watch(buf, uapi.POLLOUT, () => {
      calls++;
      watch.stop();
    });
    await turns(10);
    expect(calls).toBe(1);
  });

  itWith(b, VGEM)('fires once a fence signals, not inside the call that signals it', async () => {
    const drm = s.vgem();
    const handle = s.dumb(drm);
    const buf = s.fd(s.backend.drmPrimeHandleToFd(drm, handle, uapi.DRM_RDWR | uapi.DRM_CLOEXEC));
    const fence = s.backend.vgemFenceAttach(drm, handle, uapi.VGEM_FENCE_WRITE);
    const sync = s.fd(s.backend.dmaBufExportSyncFile(buf, uapi.DMA_BUF_SYNC_RW));
    const onBuf: number[] = [];
    const onSync: number[] = [];
    const watches = [
      s.backend.watch(buf, uapi.POLLIN, (r) => onBuf.push(r)),
      s.backend.watch(sync, uapi.POLLIN, (r) => onSync.push(r)),
    ];
    await turns(10);
    expect([onBuf, onSync]).toEqual([[], []]);
    const ready = new Promise<void>((resolve) => {
      const done = s.backend.watch(sync, uapi.POLLIN, () => {
        done.stop();
        resolve();
      });
      watches.push(done);
    });
    s.backend.vgemFenceSignal(drm, fence);
    expect([onBuf, onSync]).toEqual([[], []]);
    await ready;
    await turns(5);
    for (const w of watches) w.stop();
    expect(onSync[0]).toBe(uapi.POLLIN);
    expect(onBuf[0]).toBe(uapi.POLLIN);
  });
});
