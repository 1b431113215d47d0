import { expect } from 'vitest';
import { collectGarbage, DEVICES, describeEachBackend, itWith, openOn } from '../support/backends';

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
