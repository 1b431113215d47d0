// /dev/dma_heap/system: the kernel selftest's cases and the rules around them.
import * as uapi from '../../seam/uapi';
import { fdinfo, heap, heapBuffer, item, memfd, PAGE, RW, udmabufDevice } from '../fixtures';
import { area, type Device } from '../scenario';

const { list, add } = area('heap');
export default list;
const needs: Device[] = ['heap'];

add('the system heap is listed', needs, (t) => {
  t.step('readdir /dev/dma_heap', (k) => k.readdir('/dev/dma_heap'), (names) => names.includes('system'));
});

add('a 1 MiB buffer: size, exporter, flags, name', needs, (t) => {
  const buf = heapBuffer(t, 1 << 20);
  t.step('SEEK_END', (k) => k.lseek(buf, 0n, uapi.SEEK_END));
  fdinfo(t, 'fdinfo', buf);
  t.step('readlink', (k) => k.readlinkFd(buf));
});

add('the length is rounded up to pages, not written back', needs, (t) => {
  const h = heap(t);
  for (const len of [1, 100, PAGE - 1, PAGE, PAGE + 1]) {
    const buf = t.fd(`alloc ${len}`, (k) => k.dmaHeapAlloc(h, BigInt(len), uapi.O_RDWR | uapi.O_CLOEXEC, 0n));
    t.step('size', (k) => k.lseek(buf, 0n, uapi.SEEK_END));
    t.close('close', buf);
  }
});

add('buffers are zeroed, also after one was filled and freed', needs, (t) => {
  const h = heap(t);
  const zeroes: boolean[] = [];
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < 16; i++) {
      const buf = t.k.dmaHeapAlloc(h, BigInt(4 * PAGE), uapi.O_RDWR | uapi.O_CLOEXEC, 0n);
      const view = t.k.mmap(buf, 4 * PAGE, RW, uapi.MAP_SHARED, 0n);
      zeroes.push(view.every((x) => x === 0));
      view.fill(0xff);
      t.k.munmap(view);
      t.k.close(buf);
    }
  }
  t.note('every buffer read as zero', zeroes.every(Boolean));
  t.note('buffers', zeroes.length);
});

add('length 0 is EINVAL', needs, (t) => {
  const h = heap(t);
  t.tryFd('alloc 0', (k) => k.dmaHeapAlloc(h, 0n, uapi.O_RDWR, 0n));
});

add('a length that wraps when page-aligned is EINVAL', needs, (t) => {
  const h = heap(t);
  t.tryFd('alloc 2^64-1', (k) => k.dmaHeapAlloc(h, 2n ** 64n - 1n, uapi.O_RDWR, 0n));
  t.tryFd('alloc 2^64-4095', (k) => k.dmaHeapAlloc(h, 2n ** 64n - 4095n, uapi.O_RDWR, 0n));
});

add('heap flags are EINVAL', needs, (t) => {
  const h = heap(t);
  t.tryFd('heap flags 0x111111', (k) => k.dmaHeapAlloc(h, BigInt(PAGE), uapi.O_RDWR, 0x111111n));
  t.tryFd('heap flags 1', (k) => k.dmaHeapAlloc(h, BigInt(PAGE), uapi.O_RDWR, 1n));
});

add('fd flags beyond O_CLOEXEC and O_ACCMODE are EINVAL', needs, (t) => {
  const h = heap(t);
  t.tryFd('fd flags ~(O_RDWR|O_CLOEXEC)', (k) => k.dmaHeapAlloc(h, BigInt(PAGE), ~(uapi.O_RDWR | uapi.O_CLOEXEC), 0n));
  t.tryFd('fd flags O_NONBLOCK', (k) => k.dmaHeapAlloc(h, BigInt(PAGE), uapi.O_RDWR | 0o4000, 0n));
});

add('an O_RDONLY buffer maps read-only only: EACCES', needs, (t) => {
  const buf = heapBuffer(t, PAGE, uapi.O_RDONLY | uapi.O_CLOEXEC);
  fdinfo(t, 'fdinfo', buf);
  t.step('map shared rw', (k) => k.mmap(buf, PAGE, RW, uapi.MAP_SHARED, 0n));
  t.map('map shared read-only', buf, PAGE, uapi.PROT_READ, uapi.MAP_SHARED);
});

add('an O_WRONLY buffer cannot be mapped: EACCES', needs, (t) => {
  const buf = heapBuffer(t, PAGE, uapi.O_WRONLY | uapi.O_CLOEXEC);
  fdinfo(t, 'fdinfo', buf);
  t.step('map shared read-only', (k) => k.mmap(buf, PAGE, uapi.PROT_READ, uapi.MAP_SHARED, 0n));
});

add('a buffer without O_CLOEXEC', needs, (t) => {
  const buf = heapBuffer(t, PAGE, uapi.O_RDWR);
  fdinfo(t, 'fdinfo', buf);
});

add('MAP_PRIVATE maps one page only', needs, (t) => {
  const buf = heapBuffer(t, 2 * PAGE);
  t.step('map 2 pages private', (k) => k.mmap(buf, 2 * PAGE, uapi.PROT_READ, uapi.MAP_PRIVATE, 0n));
  t.map('map 1 page private', buf, PAGE, uapi.PROT_READ, uapi.MAP_PRIVATE);
});

add('SYNC never fails, in any order', needs, (t) => {
  const buf = heapBuffer(t, PAGE);
  t.step('END rw', (k) => k.dmaBufSync(buf, uapi.DMA_BUF_SYNC_END | uapi.DMA_BUF_SYNC_RW));
  t.step('START write', (k) => k.dmaBufSync(buf, uapi.DMA_BUF_SYNC_START | uapi.DMA_BUF_SYNC_WRITE));
  t.step('START read', (k) => k.dmaBufSync(buf, uapi.DMA_BUF_SYNC_START | uapi.DMA_BUF_SYNC_READ));
});

add('the heap ioctl on another device is ENOTTY', ['heap', 'udmabuf'], (t) => {
  const dev = udmabufDevice(t);
  t.tryFd('alloc on /dev/udmabuf', (k) => k.dmaHeapAlloc(dev, BigInt(PAGE), uapi.O_RDWR, 0n));
  const mem = memfd(t, 1, 0);
  t.tryFd('alloc on a memfd', (k) => k.dmaHeapAlloc(mem, BigInt(PAGE), uapi.O_RDWR, 0n));
});

add('other drivers\' ioctls on the heap are EINVAL: only the number is decoded', needs, (t) => {
  const h = heap(t);
  const mem = memfd(t, 1);
  t.tryFd('UDMABUF_CREATE', (k) => k.udmabufCreate(h, item(mem, 0, PAGE), 0));
  t.step('DRM_IOCTL_VERSION', (k) => k.drmVersion(h));
  t.step('SYNC_IOC_FILE_INFO', (k) => k.syncFileInfo(h));
  t.step('DMA_BUF_IOCTL_SYNC', (k) => k.dmaBufSync(h, uapi.DMA_BUF_SYNC_READ));
});

add('the heap device itself: readlink, mmap, poll', needs, (t) => {
  const h = heap(t);
  t.step('readlink', (k) => k.readlinkFd(h));
  t.step('mmap', (k) => k.mmap(h, PAGE, uapi.PROT_READ, uapi.MAP_SHARED, 0n));
});

add('two buffers are separate memory', needs, (t) => {
  const a = heapBuffer(t, PAGE);
  const b = heapBuffer(t, PAGE);
  const va = t.map('map a', a, PAGE, RW, uapi.MAP_SHARED);
  const vb = t.map('map b', b, PAGE, RW, uapi.MAP_SHARED);
  va.fill(0xab);
  t.note('b is untouched', vb.every((x) => x === 0));
  t.note('a holds its bytes', va);
});

add('DMA_BUF_IOCTL_SYNC on the heap allocates `flags` bytes under an fd it never reports', needs, (t) => {
  const h = heap(t);
  const before = new Set(t.k.openFds());
  t.step('SYNC READ on the heap', (k) => k.dmaBufSync(h, uapi.DMA_BUF_SYNC_READ));
  const born = t.k.openFds().filter((fd) => !before.has(fd));
  t.note('new fds', born.length);
  for (const fd of born) {
    fdinfo(t, 'fdinfo of the unreported buffer', fd);
    t.close('close it', fd);
  }
  t.step('SYNC 0 on the heap', (k) => k.dmaBufSync(h, 0));
});
