import { afterEach, beforeEach, expect } from 'vitest';
import { DEVICES, describeEachBackend, itWith, openOn } from '../support/backends';
import type { DmaBridge, DrmDevice } from '../../src';

describeEachBackend('vgem fences, sync_files and async waits through the API', (b) => {
  const it = itWith(b, DEVICES.vgem);
  let dmb: DmaBridge;
  let dev: DrmDevice;
  beforeEach(() => {
    dmb = openOn(b);
    dev = dmb.openDrm({ driver: 'vgem' });
  });
  afterEach(() => dmb.close());

  it('finds vgem among the DRM nodes', () => {
    expect(dmb.drmNodes()).toContainEqual(expect.objectContaining({ driver: 'vgem' }));
    expect(dev.driver).toBe('vgem');
  });

  it('exports a dumb buffer whose size follows pitch x height', () => {
    using dumb = dev.createDumb({ width: 100, height: 10, bpp: 32 });
    expect(dumb.pitch).toBe(400);
    expect(dumb.size).toBe(4096n);
    using buf = dumb.export();
    expect(buf.size).toBe(4096n);
    expect(dev.importDmaBuf(buf)).toBe(dumb.handle);
  });

  it('a write fence makes the buffer busy until it is signalled, and waitIdle resolves then', async () => {
    using dumb = dev.createDumb({ width: 64, height: 64, bpp: 32 });
    using buf = dumb.export();
    expect(buf.idle('read')).toBe(true);
    const fence = dumb.attachFence('write');
    expect(buf.idle('read')).toBe(false);
    expect(buf.idle('write')).toBe(false);
    const idle = buf.waitIdle('write', { timeout: 5000 });
    fence.signal();
    await expect(idle).resolves.toBeUndefined();
    expect(buf.idle('read')).toBe(true);
  });

  it('a read fence blocks writers but not readers', () => {
    using dumb = dev.createDumb({ width: 64, height: 64, bpp: 32 });
    using buf = dumb.export();
    const fence = dumb.attachFence('read');
    expect(buf.idle('read')).toBe(true);
    expect(buf.idle('write')).toBe(false);
    fence.signal();
    expect(buf.idle('write')).toBe(true);
  });

  it('exports the pending fence as a sync_file that reports and awaits it', async () => {
    using dumb = dev.createDumb({ width: 64, height: 64, bpp: 32 });
    using buf = dumb.export();
    const fence = dumb.attachFence('write');
    using sync = buf.exportSyncFile('read');
    const info = sync.info();
    expect(info.status).toBe('active');
    expect(info.fences).toEqual([expect.objectContaining({ driver: 'vgem', timeline: 'unbound', status: 'active', timestampNs: 0n })]);
    expect(sync.signaled).toBe(false);
    const done = sync.wait({ timeout: 5000 });
    fence.signal();
    await done;
    expect(sync.info().fences[0]!.status).toBe('signaled');
    expect(sync.info().fences[0]!.timestampNs).toBeGreaterThan(0n);
  });

  it('a wait times out with ETIMEDOUT, and aborts with the signal\'s reason', async () => {
    using dumb = dev.createDumb({ width: 64, height: 64, bpp: 32 });
    using buf = dumb.export();
    const fence = dumb.attachFence('write');
    await expect(buf.waitIdle('read', { timeout: 20 })).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    const ac = new AbortController();
    const waiting = buf.waitIdle('read', { signal: ac.signal });
    ac.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
    fence.signal();
  });

  it('closing a buffer cancels its pending wait before the fd goes', async () => {
    using dumb = dev.createDumb({ width: 64, height: 64, bpp: 32 });
    const buf = dumb.export();
    const fence = dumb.attachFence('write');
    const waiting = buf.waitIdle('read');
    buf.close();
    await expect(waiting).rejects.toMatchObject({ code: 'ECANCELED' });
    fence.signal();
  });

  it('imports a sync_file into another buffer as a writer, and merges sync_files', async () => {
    using d1 = dev.createDumb({ width: 64, height: 64, bpp: 32 });
    using d2 = dev.createDumb({ width: 64, height: 64, bpp: 32 });
    using b1 = d1.export();
    using b2 = d2.export();
    const f1 = d1.attachFence('write');
    const f2 = d2.attachFence('write');
    using s1 = b1.exportSyncFile('write');
    using s2 = b2.exportSyncFile('write');
    using merged = s1.merge(s2, 'both');
    expect(merged.info()).toMatchObject({ name: 'both', status: 'active' });
    expect(merged.info().fences).toHaveLength(2);
    using target = dmb.createUdmabuf(4096);
    target.importSyncFile(merged, 'write');
    expect(target.idle('read')).toBe(false);
    f1.signal();
    expect(target.idle('read')).toBe(false);
    f2.signal();
    await target.waitIdle('read', { timeout: 5000 });
    expect(merged.signaled).toBe(true);
  });

  it('signalling a fence twice is ENOENT with advice', () => {
    using dumb = dev.createDumb({ width: 64, height: 64, bpp: 32 });
    const fence = dumb.attachFence('write');
    fence.signal();
    expect(() => fence.signal()).toThrow(expect.objectContaining({ code: 'ENOENT', syscall: 'DRM_IOCTL_VGEM_FENCE_SIGNAL', message: expect.stringMatching(/signalled already/) }));
  });
});
