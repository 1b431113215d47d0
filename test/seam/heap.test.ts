// /dev/dma_heap/system: the kernel selftest's cases and the checks around them.
import { expect } from 'vitest';
import * as uapi from '../../seam/uapi';
import { describeEachBackend, DEVICES, itWith } from '../support/backends';
import { PAGE, Session } from '../support/seam-session';
import { expectErrno } from '../support/errno';

const SYSCALL = 'DMA_HEAP_IOCTL_ALLOC';

describeEachBackend('dma-heap', (b) => {
  const s = new Session(b);
  const it = itWith(b, DEVICES.heap);
  const heap = () => s.fd(s.backend.open(DEVICES.heap, uapi.O_RDONLY | uapi.O_CLOEXEC));

  it('lists the system heap', () => {
    expect(s.backend.readdir('/dev/dma_heap')).toContain('system');
  });

  it('allocates a 1 MiB buffer whose size, name and flags read back', () => {
    const buf = s.heapBuffer(1 << 20);
    expect(s.size(buf)).toBe(1n << 20n);
    const info = s.fdinfo(buf);
    expect(info.get('exp_name')).toBe('system');
    expect(info.get('size')).toBe(String(1 << 20));
    expect(info.get('count')).toBe('1');
    expect(info.get('flags')).toBe('02000002');
    expect(s.backend.readlinkFd(buf)).toBe('/dmabuf:');
  });

  it('rounds the length up to whole pages, without writing it back', () => {
    expect(s.size(s.heapBuffer(100))).toBe(BigInt(PAGE));
    expect(s.size(s.heapBuffer(PAGE + 1))).toBe(BigInt(2 * PAGE));
  });

  it('hands out zeroed memory, also after a buffer was filled and freed', () => {
    for (let round = 0; round < 2; round++) {
      const bufs = Array.from({ length: 32 }, () => s.heapBuffer(PAGE));
      for (const buf of bufs) {
        const view = s.map(buf, PAGE);
        expect(view.every((byte) => byte === 0)).toBe(true);
        view.fill(0xff);
        s.unmap(view);
        s.close(buf);
      }
    }
  });

  it('refuses length 0, heap flags, and fd flags beyond O_CLOEXEC and O_ACCMODE', () => {
    const fd = heap();
    expectErrno(() => s.backend.dmaHeapAlloc(fd, 0n, uapi.O_RDWR, 0n), 'EINVAL', SYSCALL);
    expectErrno(() => s.backend.dmaHeapAlloc(fd, 2n ** 64n - 1n, uapi.O_RDWR, 0n), 'EINVAL', SYSCALL);
    expectErrno(() => s.backend.dmaHeapAlloc(fd, BigInt(PAGE), uapi.O_RDWR, 0x111111n), 'EINVAL', SYSCALL);
    expectErrno(() => s.backend.dmaHeapAlloc(fd, BigInt(PAGE), ~(uapi.O_RDWR | uapi.O_CLOEXEC), 0n), 'EINVAL', SYSCALL);
  });

  it('gives an O_RDONLY buffer read-only shared mappings only', () => {
    const buf = s.heapBuffer(PAGE, uapi.O_RDONLY | uapi.O_CLOEXEC);
    expect(s.fdinfo(buf).get('flags')).toBe('02000000');
    expectErrno(() => s.backend.mmap(buf, PAGE, uapi.PROT_READ | uapi.PROT_WRITE, uapi.MAP_SHARED, 0n), 'EACCES', 'mmap');
    s.map(buf, PAGE, uapi.PROT_READ);
  });

  // remap_pfn_range's COW check refuses a private mapping of more than one page (the heap maps all pages at once); seen on 6.12.107.
  it('maps MAP_PRIVATE one page only', () => {
    const buf = s.heapBuffer(2 * PAGE);
    expectErrno(() => s.backend.mmap(buf, 2 * PAGE, uapi.PROT_READ, uapi.MAP_PRIVATE, 0n), 'EINVAL', 'mmap');
    s.map(buf, PAGE, uapi.PROT_READ, uapi.MAP_PRIVATE);
  });

  // The heap maps its pages by PFN (remap_pfn_range), and madvise refuses such mappings.
  it('refuses madvise(MADV_DONTNEED) of a mapping, shared or private', () => {
    const buf = s.heapBuffer(PAGE);
    expectErrno(() => s.backend.madvise(s.map(buf, PAGE), uapi.MADV_DONTNEED), 'EINVAL', 'madvise');
    expectErrno(() => s.backend.madvise(s.map(buf, PAGE, uapi.PROT_READ, uapi.MAP_PRIVATE), uapi.MADV_DONTNEED), 'EINVAL', 'madvise');
  });

  it('never fails SYNC, in any order (udmabuf refuses an END before any START)', () => {
    const buf = s.heapBuffer(PAGE);
    for (const flags of [uapi.DMA_BUF_SYNC_END | uapi.DMA_BUF_SYNC_RW, uapi.DMA_BUF_SYNC_START | uapi.DMA_BUF_SYNC_WRITE, uapi.DMA_BUF_SYNC_START | uapi.DMA_BUF_SYNC_READ]) {
      expect(s.backend.dmaBufSync(buf, flags)).toBeUndefined();
    }
  });

  it('answers ENOTTY when the heap ioctl goes to another device', () => {
    const dev = s.udmabufDevice();
    expectErrno(() => s.backend.dmaHeapAlloc(dev, BigInt(PAGE), uapi.O_RDWR, 0n), 'ENOTTY', SYSCALL);
  });

  it('answers EINVAL to other drivers\' ioctls: the heap decodes only the ioctl number', () => {
    const fd = heap();
    const memfd = s.memfd(1);
    expectErrno(() => s.backend.udmabufCreate(fd, { memfd, offset: 0n, size: BigInt(PAGE) }, 0), 'EINVAL', 'UDMABUF_CREATE');
    expectErrno(() => s.backend.drmVersion(fd), 'EINVAL', 'DRM_IOCTL_VERSION');
    expectErrno(() => s.backend.syncFileInfo(fd), 'EINVAL', 'SYNC_IOC_FILE_INFO');
  });
});
