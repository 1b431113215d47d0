import { existsSync } from 'node:fs';
import { expect } from 'vitest';
import type { Backend } from '../../seam/backend';
import { bridgeOn, collectGarbage, DEVICES, describeEachBackend, itWith, openOn, type BackendCase } from '../support/backends';
import { itNeeds } from '../support/skip';

describeEachBackend('no fd leaks', (b) => {
  const it = itWith(b, DEVICES.udmabuf);

  it('opening and closing thousands of objects returns the fd table to where it was', () => {
    const dmb = openOn(b);
    const before = dmb.seam.openFds();
    const rounds = b.name === 'native' ? 500 : 1000;
    for (let i = 0; i < rounds; i++) {
      const buf = dmb.createUdmabuf(4096);
      const map = buf.map('rw');
      const sync = buf.exportSyncFile('rw');
      if (i % 2) {
        buf.close();
      } else {
        map.unmap();
        sync.close();
        buf.close();
      }
    }
    dmb.close();
    expect(dmb.seam.openFds()).toEqual(before);
  });

  for (const settle of [false, true]) {
    it(`buffers and mappings dropped unclosed are released ${settle ? 'by their finalizers' : 'when their parent closes first'}`, async () => {
      const dmb = openOn(b);
      const before = dmb.seam.openFds();
      (() => {
        for (let i = 0; i < 50; i++) dmb.createUdmabuf(4096).map('rw').begin('write');
      })();
      await collectGarbage(settle);
      dmb.close();
      expect(dmb.seam.openFds()).toEqual(before);
    });
  }

  it('a failed import leaves no fd behind', () => {
    using dmb = openOn(b);
    using mem = dmb.createMemfd(4096);
    const before = dmb.seam.openFds();
    expect(() => dmb.importDmaBuf(mem.fd)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => dmb.importSyncFile(mem.fd)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(dmb.seam.openFds()).toEqual(before);
  });

  it('an imported dma-buf is a duplicate: closing it leaves the caller\'s fd open', () => {
    using dmb = openOn(b);
    using buf = dmb.createUdmabuf(4096);
    const imported = dmb.importDmaBuf(buf.fd);
    expect(imported.fd).not.toBe(buf.fd);
    expect(imported.exporter).toBe('udmabuf');
    imported.close();
    expect(buf.info().size).toBe(4096n);
  });
});

/**
 * The backend, counting what is made and not yet released by the calls that
 * make and release it: only calls that returned count, so a release the
 * kernel refused leaves its resource counted as live.
 */
function tracking(backend: Backend): { backend: Backend; live: Record<'mr' | 'qp' | 'mapping' | 'udmabuf', Set<unknown>>; deregs: () => number } {
  let deregs = 0;
  const live = { mr: new Set<unknown>(), qp: new Set<unknown>(), mapping: new Set<unknown>(), udmabuf: new Set<unknown>() };
  const made: Record<string, (r: never) => void> = {
    ibvRegMr: (handle: number) => live.mr.add(handle),
    ibvCreateQp: (r: { handle: number }) => live.qp.add(r.handle),
    mmap: (r: Uint8Array) => live.mapping.add(r),
    udmabufCreate: (fd: number) => live.udmabuf.add(fd),
  };
  const released: Record<string, (arg: never) => void> = {
    ibvDeregMr: (h: number) => { deregs++; live.mr.delete(h); },
    ibvDestroyQp: (h: number) => live.qp.delete(h),
    munmap: (view: Uint8Array) => live.mapping.delete(view),
    close: (fd: number) => live.udmabuf.delete(fd),
  };
  const wrapped: Record<string, unknown> = { name: backend.name };
  for (let o: object | null = backend; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const key of Object.getOwnPropertyNames(o)) {
      const fn = (backend as unknown as Record<string, unknown>)[key];
      if (key === 'constructor' || key in wrapped || typeof fn !== 'function') continue;
      wrapped[key] = (...args: unknown[]) => {
        const r = fn.apply(backend, args);
        made[key]?.(r as never);
        released[key]?.(args[0] as never);
        return r;
      };
    }
  }
  return { backend: wrapped as unknown as Backend, live, deregs: () => deregs };
}

function needsRdmaAndUdmabuf(b: BackendCase) {
  const missing = [DEVICES.rxe, DEVICES.udmabuf].filter((d) => !existsSync(d));
  return itNeeds(b.name === 'emulator' || missing.length === 0 ? null : `${missing.join(' and ')} absent on this kernel; npm run test:kernel runs it`);
}

// Resources closed in the turn that made them never reach the finalizer (see
// src/resource.ts); those a program forgets must still reach it.
describeEachBackend('resources a program forgets', (b) => {
  const it = needsRdmaAndUdmabuf(b);

  it('are released by the collector while their parents stay open: MRs, QPs, mappings and buffers', async () => {
    const { backend, live } = tracking(b.create());
    using dmb = bridgeOn(backend, `test on ${b.name}`);
    using dev = dmb.openRdma('rxe0');
    using pd = dev.allocPd();
    using cq = dev.createCq(16);
    using kept = dmb.createUdmabuf(4096);
    const before = dmb.seam.openFds();
    (() => {
      for (let i = 0; i < 20; i++) {
        pd.register(new Uint8Array(new SharedArrayBuffer(4096)));
        pd.createQp(cq);
        kept.map('rw');
        dmb.createUdmabuf(4096).map('rw');
      }
    })();
    expect({ mr: live.mr.size, qp: live.qp.size, mapping: live.mapping.size, udmabuf: live.udmabuf.size }).toEqual({ mr: 20, qp: 20, mapping: 40, udmabuf: 21 });
    await collectGarbage(true);
    expect({ mr: live.mr.size, qp: live.qp.size, mapping: live.mapping.size, udmabuf: live.udmabuf.size }).toEqual({ mr: 0, qp: 0, mapping: 0, udmabuf: 1 });
    expect(dmb.seam.openFds()).toEqual(before);
    expect(pd.closed || cq.closed || kept.closed).toBe(false);
    // The parents close cleanly afterwards: nothing of theirs is left to close twice.
    expect(() => { kept.close(); cq.close(); pd.close(); dev.close(); }).not.toThrow();
  });

  it('made and closed in one turn, or closed turns later, are released once', async () => {
    const { backend, live, deregs } = tracking(b.create());
    using dmb = bridgeOn(backend, `test on ${b.name}`);
    using dev = dmb.openRdma('rxe0');
    using pd = dev.allocPd();
    const mem = new Uint8Array(new SharedArrayBuffer(4096));
    for (let i = 0; i < 10; i++) pd.register(mem).close();
    const later = Array.from({ length: 10 }, () => pd.register(mem));
    await new Promise(setImmediate);
    for (const mr of later) mr.close();
    // A PD closed in the turn that made its MRs closes them first.
    const inTurn = dev.allocPd();
    const open = Array.from({ length: 5 }, () => inTurn.register(mem));
    inTurn.close();
    expect(open.every((mr) => mr.closed)).toBe(true);
    expect([live.mr.size, deregs()]).toEqual([0, 25]);
    await collectGarbage(true);
    expect([live.mr.size, deregs()]).toEqual([0, 25]);
  });
});
