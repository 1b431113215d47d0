import { afterEach, beforeEach, expect } from 'vitest';
import { DEVICES, describeEachBackend, itWith, openOn } from '../support/backends';
import type { DmaBridge } from '../../src';

describeEachBackend('udmabuf through the API', (b) => {
  const it = itWith(b, DEVICES.udmabuf);
  let dmb: DmaBridge;
  beforeEach(() => {
    dmb = openOn(b);
  });
  afterEach(() => dmb.close());

  it('makes a dma-buf over a sealed memfd it creates, and keeps the memfd', () => {
    using buf = dmb.createUdmabuf(1 << 20);
    expect(buf.size).toBe(1n << 20n);
    expect(buf.exporter).toBe('udmabuf');
    expect(buf.memfdRanges).toHaveLength(1);
    expect(buf.memfdRanges![0]!.memfd.seals).toContain('shrink');
  });

  it('shows CPU writes through the dma-buf in the memfd pages, and back', () => {
    using buf = dmb.createUdmabuf(64 << 10);
    using map = buf.map('rw');
    {
      using _ = map.begin('write');
      map.view.set([1, 2, 3], 4096);
    }
    using mem = buf.memfdRanges![0]!.memfd.map('rw');
    expect([...mem.view.subarray(4096, 4099)]).toEqual([1, 2, 3]);
    mem.view[0] = 42;
    using _ = map.begin('read');
    expect(map.view[0]).toBe(42);
  });

  it('names a buffer, and refuses a name of 32 bytes or more', () => {
    using buf = dmb.createUdmabuf(4096);
    buf.setName('frames-0');
    expect(buf.name).toBe('frames-0');
    expect(() => buf.setName('x'.repeat(32))).toThrow(expect.objectContaining({ code: 'EINVAL', syscall: 'DMA_BUF_SET_NAME', message: expect.stringMatching(/shorter than 32/) }));
  });

  it('rejects a size that is not a multiple of the page size with EINVAL and advice', () => {
    expect(() => dmb.createUdmabuf(1000)).toThrow(expect.objectContaining({ code: 'EINVAL', errno: -22, syscall: 'UDMABUF_CREATE', message: expect.stringMatching(/page-aligned/) }));
  });

  it('rejects a memfd that is not sealed against shrinking', () => {
    using mem = dmb.createMemfd(8192);
    expect(() => dmb.udmabufFromMemfd(mem)).toThrow(expect.objectContaining({ code: 'EINVAL', syscall: 'UDMABUF_CREATE' }));
  });

  it('concatenates memfd ranges into one buffer (UDMABUF_CREATE_LIST)', () => {
    using mem = dmb.createMemfd(16 * 4096);
    mem.seal('shrink');
    {
      using m = mem.map('rw');
      for (let p = 0; p < 16; p++) m.view.fill(p, p * 4096, (p + 1) * 4096);
    }
    using buf = dmb.udmabufFromRanges([
      { memfd: mem, offset: 8 * 4096, size: 4096 },
      { memfd: mem, offset: 2 * 4096, size: 2 * 4096 },
    ]);
    expect(buf.size).toBe(3n * 4096n);
    using map = buf.map('read');
    using _ = map.begin('read');
    expect([map.view[0], map.view[4096], map.view[2 * 4096]]).toEqual([8, 2, 3]);
  });

  it('refuses use after close with EBADF, and a mapping of a closed buffer is gone', () => {
    const buf = dmb.createUdmabuf(4096);
    const map = buf.map('rw');
    buf.close();
    expect(map.closed).toBe(true);
    expect(() => map.view).toThrow(expect.objectContaining({ code: 'EBADF' }));
    expect(() => buf.info()).toThrow(expect.objectContaining({ code: 'EBADF', message: expect.stringMatching(/closed/) }));
    expect(() => buf.close()).not.toThrow();
  });

  it('closing the entry object closes everything made through it', () => {
    const before = dmb.seam.openFds();
    const buf = dmb.createUdmabuf(4096);
    const map = buf.map('rw');
    dmb.close();
    expect(buf.closed && map.closed).toBe(true);
    expect(dmb.seam.openFds()).toEqual(before);
  });
});
