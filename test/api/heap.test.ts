import { afterEach, beforeEach, expect } from 'vitest';
import { DEVICES, describeEachBackend, itWith, openOn } from '../support/backends';
import type { DmaBridge } from '../../src';

describeEachBackend('dma-heaps through the API', (b) => {
  const it = itWith(b, DEVICES.heap);
  let dmb: DmaBridge;
  beforeEach(() => {
    dmb = openOn(b);
  });
  afterEach(() => dmb.close());

  it('lists the system heap', () => {
    expect(dmb.heaps()).toContain('system');
  });

  it('allocates zeroed buffers rounded up to whole pages', () => {
    using buf = dmb.allocHeap(5000);
    expect(buf.size).toBe(8192n);
    expect(buf.exporter).toBe('system');
    using map = buf.map('read');
    using _ = map.begin('read');
    expect(map.view.every((x) => x === 0)).toBe(true);
  });

  it('refuses a zero length with EINVAL', () => {
    expect(() => dmb.allocHeap(0)).toThrow(expect.objectContaining({ code: 'EINVAL', syscall: 'DMA_HEAP_IOCTL_ALLOC' }));
  });

  it('gives a read-only buffer, which it will not map: a JS store into the view would crash the process', () => {
    using buf = dmb.allocHeap(4096, { access: 'read' });
    expect(buf.info().writable).toBe(false);
    expect(() => buf.map('read')).toThrow(expect.objectContaining({ code: 'EACCES', syscall: 'mmap', message: expect.stringMatching(/read-only/) }));
    expect(() => dmb.seam.mmap(buf.fd, 4096, 3, 1, 0n)).toThrow(expect.objectContaining({ code: 'EACCES', syscall: 'mmap' }));
  });

  it('says which heap is missing', () => {
    expect(() => dmb.allocHeap(4096, { heap: 'no-such-heap' })).toThrow(expect.objectContaining({ code: 'ENOENT', syscall: 'open', message: expect.stringMatching(/dma_heap\/no-such-heap/) }));
  });
});
