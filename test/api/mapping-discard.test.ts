import { afterEach, beforeEach, expect, it } from 'vitest';
import { describeEachBackend, openOn } from '../support/backends';
import type { DmaBridge } from '../../src';

const PAGE = 4096;

describeEachBackend('Mapping.discard (MADV_DONTNEED)', (b) => {
  let dmb: DmaBridge;
  beforeEach(() => {
    dmb = openOn(b);
  });
  afterEach(() => dmb.close());

  it('drops the process\'s pages of a shared mapping, and the file gives the same bytes back', () => {
    using memfd = dmb.createMemfd(4 * PAGE);
    using map = memfd.map('rw');
    map.view.fill(0x5a);
    map.discard({ offset: PAGE, length: 2 * PAGE });
    map.discard();
    expect(map.view.every((x) => x === 0x5a)).toBe(true);
    using other = memfd.map('read');
    expect(other.view.every((x) => x === 0x5a)).toBe(true);
  });

  it('takes a range inside the mapping, starting on a page, and nothing once unmapped', () => {
    using memfd = dmb.createMemfd(2 * PAGE);
    const map = memfd.map('rw');
    expect(() => map.discard({ offset: 1 })).toThrow(expect.objectContaining({ code: 'EINVAL', syscall: 'madvise' }));
    expect(() => map.discard({ offset: -1 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => map.discard({ offset: PAGE, length: 2 * PAGE })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => map.discard({ length: '4096' as unknown as number })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => map.discard(42 as unknown as object)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    map.unmap();
    expect(() => map.discard()).toThrow(expect.objectContaining({ code: 'EBADF' }));
  });
});
