// /dev/udmabuf: the kernel selftest's cases and the rules around them.
import * as uapi from '../../seam/uapi';
import { CLOSED_FD, fdinfo, heapBuffer, item, memfd, MiB, PAGE, poll, RW, udmabuf, udmabufDevice } from '../fixtures';
import { area, type Device } from '../scenario';
import type { Trial } from '../trial';

const { list, add } = area('udmabuf');
export default list;
const needs: Device[] = ['udmabuf'];

/** UDMABUF_CREATE of one item on a fresh device fd. */
function create(t: Trial, label: string, memfdFd: number, offset: number | bigint, size: number | bigint, flags = 0): number | undefined {
  const dev = udmabufDevice(t);
  return t.tryFd(label, (k) => k.udmabufCreate(dev, item(memfdFd, offset, size), flags));
}

add('a half-page offset is EINVAL (selftest 1)', needs, (t) => {
  create(t, 'create at offset page/2', memfd(t, 4), PAGE / 2, PAGE);
});

add('a half-page size is EINVAL (selftest 2)', needs, (t) => {
  create(t, 'create of page/2 bytes', memfd(t, 4), 0, PAGE / 2);
});

add('an fd that is no memfd is EBADFD (selftest 3)', needs, (t) => {
  const dev = udmabufDevice(t);
  t.tryFd('create over /dev/udmabuf itself', (k) => k.udmabufCreate(dev, item(dev, 0, PAGE), 0));
});

add('a closed fd is EBADFD, not EBADF', needs, (t) => {
  create(t, 'create over a closed fd', CLOSED_FD, 0, PAGE);
  create(t, 'create over fd -1', -1, 0, PAGE);
});

add('a dma-buf is no memfd: EBADFD', ['udmabuf', 'heap'], (t) => {
  const buf = heapBuffer(t, PAGE);
  create(t, 'create over a heap dma-buf', buf, 0, PAGE);
});

add('a udmabuf is no memfd either: EBADFD', needs, (t) => {
  const [buf] = udmabuf(t, 1);
  create(t, 'create over a udmabuf', buf, 0, PAGE);
});

add('sizes over 64 MiB are EINVAL before any fd is looked at', needs, (t) => {
  create(t, '64 MiB + a page over fd -1', -1, 0, 64n * MiB + BigInt(PAGE));
  create(t, '64 MiB over fd -1: the fd decides', -1, 0, 64n * MiB);
});

add('the 64 MiB limit counts the whole list', needs, (t) => {
  const dev = udmabufDevice(t);
  t.tryFd('32 MiB + 32 MiB and a page', (k) => k.udmabufCreateList(dev, [item(-1, 0, 32n * MiB), item(-1, 0, 32n * MiB + BigInt(PAGE))], 0));
  t.tryFd('32 MiB + 32 MiB: the fd decides', (k) => k.udmabufCreateList(dev, [item(-1, 0, 32n * MiB), item(-1, 0, 32n * MiB)], 0));
});

add('a 64 MiB udmabuf is allowed', needs, (t) => {
  const mem = memfd(t, 16384);
  const buf = create(t, 'create 64 MiB', mem, 0, 64n * MiB);
  if (buf !== undefined) t.step('size', (k) => k.lseek(buf, 0n, uapi.SEEK_END));
});

add('size 0 is EINVAL', needs, (t) => {
  create(t, 'create of 0 bytes over fd -1', -1, 0, 0);
  create(t, 'create of 0 bytes over a memfd', memfd(t, 1), 0, 0);
});

add('an empty list is EINVAL', needs, (t) => {
  const dev = udmabufDevice(t);
  t.tryFd('create list of none', (k) => k.udmabufCreateList(dev, [], 0));
});

add('a list of 1025 items is EINVAL', needs, (t) => {
  const dev = udmabufDevice(t);
  const mem = memfd(t, 1);
  t.tryFd('create list of 1025', (k) => k.udmabufCreateList(dev, Array.from({ length: 1025 }, () => item(mem, 0, PAGE)), 0));
});

add('a list of 1024 items is allowed', needs, (t) => {
  const dev = udmabufDevice(t);
  const mem = memfd(t, 1024);
  const buf = t.tryFd('create list of 1024', (k) => k.udmabufCreateList(dev, Array.from({ length: 1024 }, (_, i) => item(mem, i * PAGE, PAGE)), 0));
  if (buf !== undefined) t.step('size', (k) => k.lseek(buf, 0n, uapi.SEEK_END));
});

add('a memfd without F_SEAL_SHRINK is EINVAL', needs, (t) => {
  create(t, 'create over an unsealed memfd', memfd(t, 1, 0), 0, PAGE);
});

add('a memfd made without MFD_ALLOW_SEALING is EINVAL', needs, (t) => {
  create(t, 'create over an unsealable memfd', memfd(t, 1, 0, 0), 0, PAGE);
});

add('F_SEAL_WRITE is EINVAL', needs, (t) => {
  create(t, 'create over a write-sealed memfd', memfd(t, 1, uapi.F_SEAL_SHRINK | uapi.F_SEAL_WRITE), 0, PAGE);
});

add('F_SEAL_FUTURE_WRITE is EINVAL (6.12.y)', needs, (t) => {
  create(t, 'create over a future-write-sealed memfd', memfd(t, 1, uapi.F_SEAL_SHRINK | uapi.F_SEAL_FUTURE_WRITE), 0, PAGE);
});

add('F_SEAL_GROW and F_SEAL_SEAL are allowed', needs, (t) => {
  create(t, 'create', memfd(t, 1, uapi.F_SEAL_SHRINK | uapi.F_SEAL_GROW | uapi.F_SEAL_SEAL), 0, PAGE);
});

add('a range past the end of the memfd is EINVAL', needs, (t) => {
  create(t, 'create pages 2-4 of 4', memfd(t, 4), 2 * PAGE, 3 * PAGE);
  create(t, 'create at the end', memfd(t, 4), 4 * PAGE, PAGE);
});

add('a zero-sized item in a list is EINVAL', needs, (t) => {
  const dev = udmabufDevice(t);
  const mem = memfd(t, 4);
  t.tryFd('create list', (k) => k.udmabufCreateList(dev, [item(mem, 0, PAGE), item(mem, 0, 0)], 0));
});

add('a 4-page udmabuf: size, name, fdinfo (selftest 4)', needs, (t) => {
  const [buf] = udmabuf(t, 4);
  t.step('SEEK_END', (k) => k.lseek(buf, 0n, uapi.SEEK_END));
  t.step('readlink', (k) => k.readlinkFd(buf));
  fdinfo(t, 'fdinfo', buf);
});

add('UDMABUF_FLAGS_CLOEXEC sets close-on-exec', needs, (t) => {
  const [buf] = udmabuf(t, 1, uapi.UDMABUF_FLAGS_CLOEXEC);
  fdinfo(t, 'fdinfo', buf);
});

add('unknown flags are ignored', needs, (t) => {
  const mem = memfd(t, 1);
  const buf = create(t, 'create with flags 0x6', mem, 0, PAGE, 0x6);
  if (buf !== undefined) fdinfo(t, 'fdinfo', buf);
});

add('an offset range is its own size', needs, (t) => {
  const buf = create(t, 'create pages 1-2 of 4', memfd(t, 4), PAGE, 2 * PAGE);
  if (buf !== undefined) t.step('size', (k) => k.lseek(buf, 0n, uapi.SEEK_END));
});

add('the memfd pages are aliased live, both ways', needs, (t) => {
  const mem = memfd(t, 4);
  const buf = create(t, 'create pages 1-2 of 4', mem, PAGE, 2 * PAGE)!;
  const file = t.map('map the memfd', mem, 4 * PAGE, RW, uapi.MAP_SHARED);
  const dma = t.map('map the udmabuf', buf, 2 * PAGE, RW, uapi.MAP_SHARED);
  file[PAGE + 7] = 0xa5;
  t.note('udmabuf sees the memfd write', dma[7]);
  dma[PAGE] = 0x3c;
  t.note('memfd sees the udmabuf write', file[2 * PAGE]);
});

add('the pages stay after the memfd is closed', needs, (t) => {
  const mem = memfd(t, 1);
  const file = t.map('map the memfd', mem, PAGE, RW, uapi.MAP_SHARED);
  file[0] = 0x42;
  t.unmap('unmap', file);
  const buf = create(t, 'create', mem, 0, PAGE)!;
  t.close('close the memfd', mem);
  t.note('byte 0', t.map('map the udmabuf', buf, PAGE, uapi.PROT_READ, uapi.MAP_SHARED)[0]);
  fdinfo(t, 'fdinfo', buf);
});

add('a list of ranges of a 1024-page memfd, rewritten through the memfd (selftest 5)', needs, (t) => {
  const dev = udmabufDevice(t);
  const mem = memfd(t, 1024);
  const items = [0, 256, 512, 768].map((page) => item(mem, page * PAGE, 4 * PAGE));
  const buf = t.fd('create list of 4', (k) => k.udmabufCreateList(dev, items, uapi.UDMABUF_FLAGS_CLOEXEC));
  t.step('size', (k) => k.lseek(buf, 0n, uapi.SEEK_END));
  const file = t.map('map the memfd', mem, 1024 * PAGE, RW, uapi.MAP_SHARED);
  const dma = t.map('map the udmabuf', buf, 16 * PAGE, RW, uapi.MAP_SHARED);
  for (let i = 0; i < 4; i++) file[(i * 256 + 1) * PAGE + 3] = 0x10 + i;
  t.step('SYNC_START rw', (k) => k.dmaBufSync(buf, uapi.DMA_BUF_SYNC_START | uapi.DMA_BUF_SYNC_RW));
  t.note('bytes seen through the udmabuf', [0, 1, 2, 3].map((i) => dma[(i * 4 + 1) * PAGE + 3]));
  dma[12 * PAGE] = 0x99;
  t.step('SYNC_END rw', (k) => k.dmaBufSync(buf, uapi.DMA_BUF_SYNC_END | uapi.DMA_BUF_SYNC_RW));
  t.note('byte seen through the memfd', file[768 * PAGE]);
});

add('MAP_PRIVATE is EINVAL', needs, (t) => {
  const [buf] = udmabuf(t, 2);
  t.step('map private', (k) => k.mmap(buf, PAGE, uapi.PROT_READ, uapi.MAP_PRIVATE, 0n));
});

add('a mapping past its size is EINVAL; one inside it at an offset works', needs, (t) => {
  const [buf] = udmabuf(t, 2);
  t.step('map 2 pages at page 1', (k) => k.mmap(buf, 2 * PAGE, uapi.PROT_READ, uapi.MAP_SHARED, BigInt(PAGE)));
  t.map('map 1 page at page 1', buf, PAGE, uapi.PROT_READ, uapi.MAP_SHARED, BigInt(PAGE));
});

add('SYNC_END before any SYNC_START is EINVAL', needs, (t) => {
  const [buf] = udmabuf(t, 1);
  t.step('END read', (k) => k.dmaBufSync(buf, uapi.DMA_BUF_SYNC_END | uapi.DMA_BUF_SYNC_READ));
  t.step('START read', (k) => k.dmaBufSync(buf, uapi.DMA_BUF_SYNC_START | uapi.DMA_BUF_SYNC_READ));
  t.step('END read', (k) => k.dmaBufSync(buf, uapi.DMA_BUF_SYNC_END | uapi.DMA_BUF_SYNC_READ));
  t.step('END write, unpaired', (k) => k.dmaBufSync(buf, uapi.DMA_BUF_SYNC_END | uapi.DMA_BUF_SYNC_WRITE));
});

add('a pinned memfd refuses F_SEAL_WRITE with EBUSY until the udmabuf closes', needs, (t) => {
  const mem = memfd(t, 1);
  const buf = create(t, 'create', mem, 0, PAGE)!;
  t.step('seal write', (k) => k.addSeals(mem, uapi.F_SEAL_WRITE));
  t.close('close the udmabuf', buf);
  t.step('seal write', (k) => k.addSeals(mem, uapi.F_SEAL_WRITE));
});

add('/dev/udmabuf itself has no lseek, mmap or poll', needs, (t) => {
  const dev = udmabufDevice(t);
  t.step('readlink', (k) => k.readlinkFd(dev));
  t.step('readdir', (k) => k.readdir('/dev/udmabuf'));
  t.step('lseek', (k) => k.lseek(dev, 0n, uapi.SEEK_SET));
  t.step('mmap', (k) => k.mmap(dev, PAGE, uapi.PROT_READ, uapi.MAP_SHARED, 0n));
  poll(t, 'poll', dev);
});

add('UDMABUF_CREATE on a memfd is ENOTTY', needs, (t) => {
  const mem = memfd(t, 1);
  t.tryFd('create', (k) => k.udmabufCreate(mem, item(mem, 0, PAGE), 0));
  t.tryFd('create list', (k) => k.udmabufCreateList(mem, [item(mem, 0, PAGE)], 0));
});

add('a udmabuf counts its fds and mappings', needs, (t) => {
  const [buf] = udmabuf(t, 1);
  const copy = t.fd('dup', (k) => k.dup(buf));
  const view = t.map('map', buf, PAGE, uapi.PROT_READ, uapi.MAP_SHARED);
  fdinfo(t, 'fdinfo', buf);
  t.close('close the copy', copy);
  t.unmap('unmap', view);
  fdinfo(t, 'fdinfo', buf);
});

add('a memfd written before the udmabuf is made shows through it', needs, (t) => {
  const mem = memfd(t, 2);
  const file = t.map('map the memfd', mem, 2 * PAGE, RW, uapi.MAP_SHARED);
  file.fill(0x11, 0, PAGE);
  file.fill(0x22, PAGE);
  const buf = create(t, 'create', mem, 0, 2 * PAGE)!;
  const dma = t.map('map the udmabuf', buf, 2 * PAGE, uapi.PROT_READ, uapi.MAP_SHARED);
  t.note('bytes', dma);
});

add('a udmabuf polls ready both ways and exports a stub fence', needs, (t) => {
  const [buf] = udmabuf(t, 1);
  poll(t, 'poll', buf);
  t.tryFd('EXPORT_SYNC_FILE read', (k) => k.dmaBufExportSyncFile(buf, uapi.DMA_BUF_SYNC_READ));
});

add('a udmabuf keeps its size when the memfd grows', needs, (t) => {
  const mem = memfd(t, 2);
  const buf = create(t, 'create', mem, 0, 2 * PAGE)!;
  t.step('grow the memfd', (k) => k.ftruncate(mem, BigInt(8 * PAGE)));
  t.step('size', (k) => k.lseek(buf, 0n, uapi.SEEK_END));
  t.step('shrink the memfd', (k) => k.ftruncate(mem, BigInt(PAGE)));
});

add('two udmabufs over one memfd share its pages', needs, (t) => {
  const mem = memfd(t, 2);
  const a = create(t, 'create over page 0-1', mem, 0, 2 * PAGE)!;
  const b = create(t, 'create over page 1', mem, PAGE, PAGE)!;
  const va = t.map('map a', a, 2 * PAGE, RW, uapi.MAP_SHARED);
  const vb = t.map('map b', b, PAGE, uapi.PROT_READ, uapi.MAP_SHARED);
  va[PAGE + 3] = 0x7e;
  t.note('b sees it', vb[3]);
});
