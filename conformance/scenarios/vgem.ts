// DRM on vgem: dumb buffers, GEM handles, PRIME, and vgem's test fences.
import * as uapi from '../../seam/uapi';
import { CLOSED_FD, dumb, dumbExport, fdinfo, heapBuffer, inode, memfd, PAGE, poll, RW, syncInfo, vgem } from '../fixtures';
import { area, type Device } from '../scenario';

const { list, add } = area('vgem');
export default list;
const needs: Device[] = ['vgem'];
const ATTACH_WRITE = uapi.VGEM_FENCE_WRITE;

add('the primary and render nodes both say vgem', needs, (t) => {
  for (const node of ['card', 'renderD'] as const) {
    const fd = vgem(t, node);
    t.step(`DRM_IOCTL_VERSION on ${node}`, (k) => k.drmVersion(fd));
    t.step('readlink is a /dev/dri node', (k) => k.readlinkFd(fd), (path) => /^\/dev\/dri\/(card|renderD)\d+$/.test(path));
  }
});

add('dumb buffer pitch and size', needs, (t) => {
  const drm = vgem(t);
  t.step('1024x768x32', (k) => k.drmCreateDumb(drm, 1024, 768, 32, 0));
  t.step('100x100x24', (k) => k.drmCreateDumb(drm, 100, 100, 24, 0));
  t.step('1x1x8', (k) => k.drmCreateDumb(drm, 1, 1, 8, 0));
  t.step('flags are not checked', (k) => k.drmCreateDumb(drm, 16, 16, 32, 0xff));
});

for (const [w, h, bpp, why] of [[0, 1, 32, 'zero width'], [1, 0, 32, 'zero height'], [1, 1, 0, 'zero bpp'], [0x10000, 0x10000, 32, 'an overflowing size'], [1, 1, 0xffffffff, 'an overflowing pitch']] as const) {
  add(`a dumb buffer of ${why} is EINVAL`, needs, (t) => {
    const drm = vgem(t);
    t.step(`${w}x${h}x${bpp}`, (k) => k.drmCreateDumb(drm, w, h, bpp, 0));
  });
}

add('GEM handles: the lowest free one, and EINVAL for unknown ones', needs, (t) => {
  const drm = vgem(t);
  const h1 = dumb(t, drm);
  const h2 = dumb(t, drm);
  t.step('GEM_CLOSE the first', (k) => k.drmGemClose(drm, h1));
  dumb(t, drm);
  t.step('DESTROY_DUMB the second', (k) => k.drmDestroyDumb(drm, h2));
  t.step('GEM_CLOSE it again', (k) => k.drmGemClose(drm, h2));
  t.step('DESTROY_DUMB 77', (k) => k.drmDestroyDumb(drm, 77));
  t.step('GEM_CLOSE 0', (k) => k.drmGemClose(drm, 0));
});

add('handles are per file', needs, (t) => {
  const a = vgem(t);
  dumb(t, a);
  const b = vgem(t);
  dumb(t, b);
  t.step('GEM_CLOSE 2 on the first file', (k) => k.drmGemClose(a, 2));
});

add('the render node refuses dumb buffers with EACCES, not PRIME or fences', needs, (t) => {
  const render = vgem(t, 'renderD');
  t.step('CREATE_DUMB', (k) => k.drmCreateDumb(render, 64, 64, 32, 0));
  t.step('DESTROY_DUMB', (k) => k.drmDestroyDumb(render, 1));
  t.step('FENCE_ATTACH', (k) => k.vgemFenceAttach(render, 1, 0));
  t.tryFd('PRIME_HANDLE_TO_FD', (k) => k.drmPrimeHandleToFd(render, 1, 0));
});

add('PRIME_HANDLE_TO_FD checks flags and the handle', needs, (t) => {
  const drm = vgem(t);
  const handle = dumb(t, drm, 2);
  t.tryFd('flags 0x4', (k) => k.drmPrimeHandleToFd(drm, handle, 0x4));
  t.tryFd('handle 99', (k) => k.drmPrimeHandleToFd(drm, 99, 0));
});

add('an export: size, exporter, flags, and three references', needs, (t) => {
  const drm = vgem(t);
  const [buf] = dumbExport(t, drm, 2);
  t.step('size', (k) => k.lseek(buf, 0n, uapi.SEEK_END));
  fdinfo(t, 'fdinfo', buf);
  t.step('readlink', (k) => k.readlinkFd(buf));
});

add('a re-export is a new fd for the same dma-buf, read-only without DRM_RDWR', needs, (t) => {
  const drm = vgem(t);
  const [buf, handle] = dumbExport(t, drm);
  const again = t.fd('export again', (k) => k.drmPrimeHandleToFd(drm, handle, 0));
  t.note('same inode', inode(t, again) === inode(t, buf));
  fdinfo(t, 'fdinfo of the re-export', again);
});

add('importing an export gives back its handle; the buffer outlives it', needs, (t) => {
  const drm = vgem(t);
  const [buf, handle] = dumbExport(t, drm, 2);
  t.step('FD_TO_HANDLE', (k) => k.drmPrimeFdToHandle(drm, buf));
  t.step('GEM_CLOSE', (k) => k.drmGemClose(drm, handle));
  fdinfo(t, 'fdinfo', buf);
  t.step('size', (k) => k.lseek(buf, 0n, uapi.SEEK_END));
});

add('FD_TO_HANDLE: EBADF for no fd, EINVAL for no dma-buf', needs, (t) => {
  const drm = vgem(t);
  const mem = memfd(t, 1, 0);
  t.step('closed fd', (k) => k.drmPrimeFdToHandle(drm, CLOSED_FD));
  t.step('memfd', (k) => k.drmPrimeFdToHandle(drm, mem));
  t.step('the DRM file', (k) => k.drmPrimeFdToHandle(drm, drm));
});

add('an export maps shared only, writably only with DRM_RDWR', needs, (t) => {
  const drm = vgem(t);
  const handle = dumb(t, drm);
  const ro = t.fd('export read-only', (k) => k.drmPrimeHandleToFd(drm, handle, uapi.DRM_CLOEXEC));
  t.step('map ro export rw', (k) => k.mmap(ro, PAGE, RW, uapi.MAP_SHARED, 0n));
  const [buf] = dumbExport(t, drm);
  t.step('map private', (k) => k.mmap(buf, PAGE, uapi.PROT_READ, uapi.MAP_PRIVATE, 0n));
  const a = t.map('map rw', buf, PAGE, RW, uapi.MAP_SHARED);
  const c = t.map('map read-only', buf, PAGE, uapi.PROT_READ, uapi.MAP_SHARED);
  a[5] = 0x6b;
  t.note('byte 5 in the other mapping', c[5]);
  t.note('a dumb buffer starts zeroed', c.every((x, i) => i === 5 || x === 0));
});

add('another exporter\'s dma-buf imports once per file and is held until the handle closes', ['vgem', 'heap'], (t) => {
  const drm = vgem(t);
  const buf = heapBuffer(t, PAGE);
  const handle = t.must('FD_TO_HANDLE', (k) => k.drmPrimeFdToHandle(drm, buf));
  t.step('FD_TO_HANDLE again', (k) => k.drmPrimeFdToHandle(drm, buf));
  t.step('count grew', (k) => k.readFdinfo(buf), (text) => /count:\s*1\n/.test(text) === false);
  const back = t.fd('export it back', (k) => k.drmPrimeHandleToFd(drm, handle, uapi.DRM_CLOEXEC));
  t.note('the same dma-buf', inode(t, back) === inode(t, buf));
  fdinfo(t, 'fdinfo of the export', back);
  t.close('close the export', back);
  t.step('GEM_CLOSE', (k) => k.drmGemClose(drm, handle));
  fdinfo(t, 'fdinfo', buf);
});

add('FENCE_ATTACH checks flags and the handle', needs, (t) => {
  const drm = vgem(t);
  const handle = dumb(t, drm);
  t.step('flags 2', (k) => k.vgemFenceAttach(drm, handle, 2));
  t.step('handle 99', (k) => k.vgemFenceAttach(drm, 99, 0));
});

add('fence ids count from 1 and are never reused', needs, (t) => {
  const drm = vgem(t);
  const handle = dumb(t, drm);
  const first = t.must('attach write', (k) => k.vgemFenceAttach(drm, handle, ATTACH_WRITE));
  t.step('signal', (k) => k.vgemFenceSignal(drm, first));
  t.step('attach read', (k) => k.vgemFenceAttach(drm, handle, 0));
  t.step('attach read', (k) => k.vgemFenceAttach(drm, handle, 0));
  const other = vgem(t);
  const h2 = dumb(t, other);
  t.step('ids are per file', (k) => k.vgemFenceAttach(other, h2, 0));
});

add('a write fence blocks every attach with EBUSY', needs, (t) => {
  const drm = vgem(t);
  const handle = dumb(t, drm);
  const writer = t.must('attach write', (k) => k.vgemFenceAttach(drm, handle, ATTACH_WRITE));
  t.step('attach read', (k) => k.vgemFenceAttach(drm, handle, 0));
  t.step('attach write', (k) => k.vgemFenceAttach(drm, handle, ATTACH_WRITE));
  t.step('signal', (k) => k.vgemFenceSignal(drm, writer));
  t.step('attach write', (k) => k.vgemFenceAttach(drm, handle, ATTACH_WRITE));
});

add('read fences block writers, not readers', needs, (t) => {
  const drm = vgem(t);
  const handle = dumb(t, drm);
  const r1 = t.must('attach read', (k) => k.vgemFenceAttach(drm, handle, 0));
  const r2 = t.must('attach read', (k) => k.vgemFenceAttach(drm, handle, 0));
  t.step('attach write', (k) => k.vgemFenceAttach(drm, handle, ATTACH_WRITE));
  t.step('signal one', (k) => k.vgemFenceSignal(drm, r1));
  t.step('attach write', (k) => k.vgemFenceAttach(drm, handle, ATTACH_WRITE));
  t.step('signal the other', (k) => k.vgemFenceSignal(drm, r2));
  t.step('attach write', (k) => k.vgemFenceAttach(drm, handle, ATTACH_WRITE));
});

add('signalling twice, an unknown id or id 0 is ENOENT', needs, (t) => {
  const drm = vgem(t);
  const handle = dumb(t, drm);
  const id = t.must('attach', (k) => k.vgemFenceAttach(drm, handle, ATTACH_WRITE));
  t.step('signal', (k) => k.vgemFenceSignal(drm, id));
  t.step('signal again', (k) => k.vgemFenceSignal(drm, id));
  t.step('signal 99', (k) => k.vgemFenceSignal(drm, 99));
  t.step('signal 0', (k) => k.vgemFenceSignal(drm, 0));
});

add('poll follows the fences: a reader blocks POLLOUT, a writer both', needs, (t) => {
  const drm = vgem(t);
  const [buf, handle] = dumbExport(t, drm);
  const reader = t.must('attach read', (k) => k.vgemFenceAttach(drm, handle, 0));
  poll(t, 'poll with a reader', buf);
  poll(t, 'poll in', buf, uapi.POLLIN);
  poll(t, 'poll out', buf, uapi.POLLOUT);
  t.step('signal', (k) => k.vgemFenceSignal(drm, reader));
  poll(t, 'poll signalled', buf);
  const writer = t.must('attach write', (k) => k.vgemFenceAttach(drm, handle, ATTACH_WRITE));
  poll(t, 'poll with a writer', buf);
  t.step('signal', (k) => k.vgemFenceSignal(drm, writer));
  poll(t, 'poll signalled', buf);
});

add('EXPORT_SYNC_FILE gives a writer the readers, a reader only the writers', needs, (t) => {
  const drm = vgem(t);
  const [buf, handle] = dumbExport(t, drm);
  const reader = t.must('attach read', (k) => k.vgemFenceAttach(drm, handle, 0));
  const forWriters = t.fd('export for writers', (k) => k.dmaBufExportSyncFile(buf, uapi.DMA_BUF_SYNC_WRITE));
  const forReaders = t.fd('export for readers', (k) => k.dmaBufExportSyncFile(buf, uapi.DMA_BUF_SYNC_READ));
  syncInfo(t, 'writers wait for', forWriters);
  syncInfo(t, 'readers wait for', forReaders);
  t.step('signal', (k) => k.vgemFenceSignal(drm, reader));
  syncInfo(t, 'writers wait for', forWriters);
});

add('fences attached through an imported handle land on the exporter\'s buffer', needs, (t) => {
  const card = vgem(t, 'card');
  const render = vgem(t, 'renderD');
  const [buf] = dumbExport(t, card);
  const imported = t.must('import on the render node', (k) => k.drmPrimeFdToHandle(render, buf));
  const fence = t.must('attach write there', (k) => k.vgemFenceAttach(render, imported, ATTACH_WRITE));
  poll(t, 'poll', buf);
  t.step('signal', (k) => k.vgemFenceSignal(render, fence));
  poll(t, 'poll', buf);
});

add('fences on an imported heap buffer show on it, and closing the file signals them', ['vgem', 'heap'], (t) => {
  const render = vgem(t, 'renderD');
  const buf = heapBuffer(t, PAGE);
  const handle = t.must('import', (k) => k.drmPrimeFdToHandle(render, buf));
  t.step('attach write', (k) => k.vgemFenceAttach(render, handle, ATTACH_WRITE));
  poll(t, 'poll', buf);
  t.close('close the DRM file', render);
  poll(t, 'poll', buf);
});

add('a pending poll holds one reference, armed once', needs, (t) => {
  const drm = vgem(t);
  const [buf, handle] = dumbExport(t, drm);
  t.step('GEM_CLOSE', (k) => k.drmGemClose(drm, handle));
  const again = t.must('import', (k) => k.drmPrimeFdToHandle(drm, buf));
  const fence = t.must('attach write', (k) => k.vgemFenceAttach(drm, again, ATTACH_WRITE));
  fdinfo(t, 'fdinfo', buf);
  poll(t, 'poll in', buf, uapi.POLLIN);
  fdinfo(t, 'fdinfo while polled', buf);
  poll(t, 'poll in again', buf, uapi.POLLIN);
  fdinfo(t, 'fdinfo after a second poll', buf);
  t.step('signal', (k) => k.vgemFenceSignal(drm, fence));
  fdinfo(t, 'fdinfo once signalled', buf);
});

add('a DRM file lseeks as a no-op, never polls ready, maps nothing at 0', needs, (t) => {
  const drm = vgem(t);
  t.step('lseek 100', (k) => k.lseek(drm, 100n, uapi.SEEK_SET));
  poll(t, 'poll', drm);
  t.step('mmap 0', (k) => k.mmap(drm, PAGE, uapi.PROT_READ, uapi.MAP_SHARED, 0n));
});

add('closing the file signals its pending fences without error', needs, (t) => {
  const drm = vgem(t);
  const [buf, handle] = dumbExport(t, drm);
  t.step('attach write', (k) => k.vgemFenceAttach(drm, handle, ATTACH_WRITE));
  const sync = t.fd('export', (k) => k.dmaBufExportSyncFile(buf, uapi.DMA_BUF_SYNC_RW));
  poll(t, 'poll the sync_file', sync, uapi.POLLIN);
  t.close('close the DRM file', drm);
  poll(t, 'poll the sync_file', sync, uapi.POLLIN);
  syncInfo(t, 'info', sync);
});

add('an unsignalled fence is signalled after 10 s without error; SIGNAL then is ETIMEDOUT', needs, async (t) => {
  const drm = vgem(t);
  const [buf, handle] = dumbExport(t, drm);
  const fence = t.must('attach write', (k) => k.vgemFenceAttach(drm, handle, ATTACH_WRITE));
  const sync = t.fd('export', (k) => k.dmaBufExportSyncFile(buf, uapi.DMA_BUF_SYNC_RW));
  await t.elapse(10_500);
  syncInfo(t, 'info', sync);
  poll(t, 'poll', buf);
  t.step('signal', (k) => k.vgemFenceSignal(drm, fence));
  t.step('signal again', (k) => k.vgemFenceSignal(drm, fence));
});

add('a dumb buffer\'s mapping through PRIME and through a second export is one memory', needs, (t) => {
  const drm = vgem(t);
  const [buf, handle] = dumbExport(t, drm, 2);
  const other = t.fd('export again rdwr', (k) => k.drmPrimeHandleToFd(drm, handle, uapi.DRM_RDWR));
  const a = t.map('map the first', buf, 2 * PAGE, RW, uapi.MAP_SHARED);
  const b = t.map('map the second at page 1', other, PAGE, uapi.PROT_READ, uapi.MAP_SHARED, BigInt(PAGE));
  a.fill(0x5c, PAGE);
  t.note('bytes', b);
  fdinfo(t, 'fdinfo', other);
});

add('a vgem export mapped at an offset shows the object from page 0', needs, (t) => {
  const drm = vgem(t);
  const [buf] = dumbExport(t, drm, 3);
  const whole = t.map('map 3 pages', buf, 3 * PAGE, RW, uapi.MAP_SHARED);
  whole.fill(0x01, 0, PAGE);
  whole.fill(0x02, PAGE, 2 * PAGE);
  whole.fill(0x03, 2 * PAGE);
  const at1 = t.map('map 1 page at page 1', buf, PAGE, uapi.PROT_READ, uapi.MAP_SHARED, BigInt(PAGE));
  t.note('first byte there', at1[0]);
  const at2 = t.map('map 1 page at page 2', buf, PAGE, uapi.PROT_READ, uapi.MAP_SHARED, BigInt(2 * PAGE));
  t.note('first byte there', at2[0]);
  t.step('map 2 pages at page 2', (k) => k.mmap(buf, 2 * PAGE, uapi.PROT_READ, uapi.MAP_SHARED, BigInt(2 * PAGE)));
});

add('a vgem export takes SYNC in any order, and names', needs, (t) => {
  const drm = vgem(t);
  const [buf] = dumbExport(t, drm);
  t.step('END rw first', (k) => k.dmaBufSync(buf, uapi.DMA_BUF_SYNC_END | uapi.DMA_BUF_SYNC_RW));
  t.step('START read', (k) => k.dmaBufSync(buf, uapi.DMA_BUF_SYNC_READ));
  t.step('SYNC 0', (k) => k.dmaBufSync(buf, 0));
  t.step('name', (k) => k.dmaBufSetName(buf, 'gem'));
  t.step('readlink', (k) => k.readlinkFd(buf));
  t.step('llseek SEEK_END', (k) => k.lseek(buf, 0n, uapi.SEEK_END));
  t.step('llseek SEEK_CUR', (k) => k.lseek(buf, 0n, uapi.SEEK_CUR));
});

add('a heap buffer exported back through PRIME keeps its name', ['vgem', 'heap'], (t) => {
  const drm = vgem(t);
  const buf = heapBuffer(t, PAGE);
  t.step('name', (k) => k.dmaBufSetName(buf, 'theirs'));
  const handle = t.must('import', (k) => k.drmPrimeFdToHandle(drm, buf));
  const back = t.fd('export back', (k) => k.drmPrimeHandleToFd(drm, handle, uapi.DRM_CLOEXEC));
  t.step('readlink', (k) => k.readlinkFd(back));
  fdinfo(t, 'fdinfo', back);
});
