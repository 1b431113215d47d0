// Exercises every native method on the kernel's real devices (udmabuf, the
// system dma-heap, vgem, sync_file) and prints the errno of each failure case
// next to the one kernel-semantics.md predicts. Plain JS, so it starts fast in
// the real-kernel VM:
//
//   scripts/vm/run.sh -- node test/native/devices.js [--slow]
//
// --slow also waits out vgem's 10 s fence timeout.
// Exits 1 if any check failed or any errno differed.
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const addon = require(process.env.DMABRIDGE_NATIVE_PATH ?? path.join(__dirname, '../../build/Release/dmabridge.node'));

const O_RDONLY = 0, O_RDWR = 2, O_CLOEXEC = 0o2000000, O_NONBLOCK = 0o4000;
const SEEK_SET = 0, SEEK_CUR = 1, SEEK_END = 2;
const MFD_CLOEXEC = 1, MFD_ALLOW_SEALING = 2;
const F_SEAL_SEAL = 1, F_SEAL_SHRINK = 2, F_SEAL_GROW = 4, F_SEAL_WRITE = 8;
const PROT_READ = 1, PROT_WRITE = 2, MAP_SHARED = 1, MAP_PRIVATE = 2;
const POLLIN = 1, POLLOUT = 4;
const SYNC_READ = 1, SYNC_WRITE = 2, SYNC_RW = 3, SYNC_START = 0, SYNC_END = 4;
const UDMABUF_FLAGS_CLOEXEC = 1, DRM_CLOEXEC = O_CLOEXEC, DRM_RDWR = O_RDWR, VGEM_FENCE_WRITE = 1;
const PAGE = 4096;

let failures = 0;
const fds = [];
const track = (fd) => (fds.push(fd), fd);

function ok(name, cond, detail = '') {
  if (!cond) failures++;
  console.log(`${cond ? 'ok  ' : 'FAIL'} ${name}${detail ? ` (${detail})` : ''}`);
}

function value(name, fn) {
  try {
    return fn();
  } catch (e) {
    ok(name, false, `threw ${e.code ?? e.name}: ${e.message}`);
    return undefined;
  }
}

// A call that must fail: prints the errno seen and the one predicted.
function errno(name, fn, expected, syscall) {
  try {
    fn();
    ok(name, false, `succeeded, expected ${expected}`);
  } catch (e) {
    const same = e.code === expected && (!syscall || e.syscall === syscall) && e.errno < 0;
    if (!same) failures++;
    console.log(`${same ? 'ok  ' : 'DIFF'} ${name}: ${e.code} (errno ${e.errno}, ${e.syscall})${same ? '' : `, expected ${expected}`}`);
  }
}

function sealedMemfd(pages, seals = F_SEAL_SHRINK) {
  const fd = track(addon.memfdCreate('devices', MFD_CLOEXEC | MFD_ALLOW_SEALING));
  addon.ftruncate(fd, BigInt(pages * PAGE));
  if (seals) addon.addSeals(fd, seals);
  return fd;
}

const fdinfo = (fd) => Object.fromEntries(addon.readFdinfo(fd).trim().split('\n').map((l) => l.split(/:\s*/, 2)));

// Resolves with the first revents of a watch, or 0 after `ms`.
function nextEvent(fd, events, ms) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => (w.stop(), resolve(0)), ms);
    const w = addon.watch(fd, events, (revents) => {
      w.stop();
      clearTimeout(timer);
      resolve(revents);
    });
  });
}

function udmabuf() {
  console.log('# udmabuf');
  const dev = track(addon.open('/dev/udmabuf', O_RDWR | O_CLOEXEC));
  const memfd = sealedMemfd(16);
  const buf = track(addon.udmabufCreate(dev, { memfd, offset: 0n, size: 4n * BigInt(PAGE) }, UDMABUF_FLAGS_CLOEXEC));
  ok('UDMABUF_CREATE size by lseek', addon.lseek(buf, 0n, SEEK_END) === 16384n);
  ok('lseek SEEK_SET 0', addon.lseek(buf, 0n, SEEK_SET) === 0n);
  errno('lseek SEEK_CUR', () => addon.lseek(buf, 0n, SEEK_CUR), 'EINVAL', 'lseek');
  errno('lseek SEEK_END+1', () => addon.lseek(buf, 1n, SEEK_END), 'EINVAL', 'lseek');
  const info = fdinfo(buf);
  ok('fdinfo exp_name udmabuf', info.exp_name === 'udmabuf', JSON.stringify(info));
  ok('fdinfo size', info.size === '16384');
  ok('fdinfo flags O_RDWR|O_CLOEXEC', (parseInt(info.flags, 8) & (O_CLOEXEC | 3)) === (O_CLOEXEC | O_RDWR), info.flags);
  ok('readlink unnamed', addon.readlinkFd(buf) === '/dmabuf:', addon.readlinkFd(buf));
  addon.dmaBufSetName(buf, 'hello');
  ok('SET_NAME shows in readlink', addon.readlinkFd(buf) === '/dmabuf:hello', addon.readlinkFd(buf));
  ok('SET_NAME shows in fdinfo', fdinfo(buf).name === 'hello');
  value('SET_NAME 31 chars', () => addon.dmaBufSetName(buf, 'n'.repeat(31)));
  errno('SET_NAME 32 chars', () => addon.dmaBufSetName(buf, 'n'.repeat(32)), 'EINVAL', 'DMA_BUF_SET_NAME');
  ok('openFds lists it', addon.openFds().includes(buf));

  const fresh = track(addon.udmabufCreate(dev, { memfd, offset: 0n, size: BigInt(PAGE) }, 0));
  errno('SYNC END before any START', () => addon.dmaBufSync(fresh, SYNC_END | SYNC_RW), 'EINVAL', 'DMA_BUF_IOCTL_SYNC');
  ok('no CLOEXEC without the flag', (parseInt(fdinfo(fresh).flags, 8) & O_CLOEXEC) === 0);

  const view = addon.mmap(buf, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, 0n);
  const mview = addon.mmap(memfd, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, 0n);
  addon.dmaBufSync(buf, SYNC_START | SYNC_RW);
  view[100] = 0xab;
  addon.dmaBufSync(buf, SYNC_END | SYNC_RW);
  ok('udmabuf mapping aliases the memfd', mview[100] === 0xab);
  mview[5000] = 0x5a;
  ok('memfd writes show through', view[5000] === 0x5a);
  ok('fdinfo count counts the mmap', Number(fdinfo(buf).count) >= 2, fdinfo(buf).count);
  addon.munmap(view);
  addon.munmap(mview);
  ok('munmap detaches', view.length === 0 && mview.length === 0);
  errno('mmap MAP_PRIVATE', () => addon.mmap(buf, PAGE, PROT_READ, MAP_PRIVATE, 0n), 'EINVAL', 'mmap');
  errno('SYNC flags 8', () => addon.dmaBufSync(buf, 8), 'EINVAL', 'DMA_BUF_IOCTL_SYNC');
  errno('SYNC no direction', () => addon.dmaBufSync(buf, SYNC_START), 'EINVAL', 'DMA_BUF_IOCTL_SYNC');
  ok('poll idle dma-buf', addon.poll(buf, POLLIN | POLLOUT) === (POLLIN | POLLOUT));

  const item = (o) => ({ memfd, offset: 0n, size: BigInt(PAGE), ...o });
  errno('offset half a page', () => addon.udmabufCreate(dev, item({ offset: 2048n }), 0), 'EINVAL', 'UDMABUF_CREATE');
  errno('size half a page', () => addon.udmabufCreate(dev, item({ size: 2048n }), 0), 'EINVAL', 'UDMABUF_CREATE');
  errno('size 0', () => addon.udmabufCreate(dev, item({ size: 0n }), 0), 'EINVAL', 'UDMABUF_CREATE');
  errno('size past 64 MiB', () => addon.udmabufCreate(dev, item({ size: 65n << 20n }), 0), 'EINVAL', 'UDMABUF_CREATE');
  errno('memfd = the udmabuf device', () => addon.udmabufCreate(dev, item({ memfd: dev }), 0), 'EBADFD', 'UDMABUF_CREATE');
  errno('memfd = -1', () => addon.udmabufCreate(dev, item({ memfd: -1 }), 0), 'EBADFD', 'UDMABUF_CREATE');
  errno('memfd = stdin', () => addon.udmabufCreate(dev, item({ memfd: 0 }), 0), 'EBADFD', 'UDMABUF_CREATE');
  const unsealed = sealedMemfd(4, 0);
  errno('memfd without SHRINK seal', () => addon.udmabufCreate(dev, item({ memfd: unsealed }), 0), 'EINVAL', 'UDMABUF_CREATE');
  const noSealing = track(addon.memfdCreate('nosealing', MFD_CLOEXEC));
  addon.ftruncate(noSealing, BigInt(PAGE));
  errno('memfd without MFD_ALLOW_SEALING', () => addon.udmabufCreate(dev, item({ memfd: noSealing }), 0), 'EINVAL', 'UDMABUF_CREATE');
  const writeSealed = sealedMemfd(4, F_SEAL_SHRINK | F_SEAL_WRITE);
  errno('memfd with F_SEAL_WRITE', () => addon.udmabufCreate(dev, item({ memfd: writeSealed }), 0), 'EINVAL', 'UDMABUF_CREATE');
  const growSealed = sealedMemfd(4, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
  value('memfd with GROW|SEAL seals', () => addon.close(addon.udmabufCreate(dev, item({ memfd: growSealed }), 0)));
  value('unknown flag bits ignored', () => addon.close(addon.udmabufCreate(dev, item({}), 0xfe)));
  errno('range past EOF', () => addon.udmabufCreate(dev, item({ offset: 16n * BigInt(PAGE) }), 0), 'EINVAL', 'UDMABUF_CREATE');

  const list = track(addon.udmabufCreateList(dev, [0, 2, 4, 6].map((p) => item({ offset: BigInt(p * PAGE) })), UDMABUF_FLAGS_CLOEXEC));
  ok('CREATE_LIST size', addon.lseek(list, 0n, SEEK_END) === 16384n);
  const lview = addon.mmap(list, 4 * PAGE, PROT_READ, MAP_SHARED, 0n);
  const mv = addon.mmap(memfd, 8 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, 0n);
  mv[2 * PAGE] = 0x22;
  ok('CREATE_LIST maps the items in order', lview[PAGE] === 0x22);
  addon.munmap(lview);
  addon.munmap(mv);
  errno('CREATE_LIST count 0', () => addon.udmabufCreateList(dev, [], 0), 'EINVAL', 'UDMABUF_CREATE_LIST');
  errno('CREATE_LIST 1025 items', () => addon.udmabufCreateList(dev, Array.from({ length: 1025 }, () => item({})), 0), 'EINVAL', 'UDMABUF_CREATE_LIST');
  errno('CREATE_LIST one bad item', () => addon.udmabufCreateList(dev, [item({}), item({ memfd: -1 })], 0), 'EBADFD', 'UDMABUF_CREATE_LIST');
  value('CREATE_LIST 1024 items', () => addon.close(addon.udmabufCreateList(dev, Array.from({ length: 1024 }, () => item({})), 0)));

  const stub = track(addon.dmaBufExportSyncFile(buf, SYNC_READ));
  const stubInfo = addon.syncFileInfo(stub);
  console.log(`     stub sync_file info: ${JSON.stringify(stubInfo, (k, v) => (typeof v === 'bigint' ? `${v}n` : v))}`);
  ok('EXPORT_SYNC_FILE with no fences is signalled', stubInfo.status === 1);
  ok('exported sync_file is O_CLOEXEC', (parseInt(fdinfo(stub).flags, 8) & O_CLOEXEC) !== 0);
  ok('poll signalled sync_file', addon.poll(stub, POLLIN | POLLOUT) === POLLIN);
  errno('EXPORT_SYNC_FILE flags 0', () => addon.dmaBufExportSyncFile(buf, 0), 'EINVAL', 'DMA_BUF_IOCTL_EXPORT_SYNC_FILE');
  errno('EXPORT_SYNC_FILE flags 4', () => addon.dmaBufExportSyncFile(buf, 4), 'EINVAL', 'DMA_BUF_IOCTL_EXPORT_SYNC_FILE');
  value('IMPORT_SYNC_FILE stub', () => addon.dmaBufImportSyncFile(buf, SYNC_WRITE, stub));
  errno('IMPORT_SYNC_FILE of a memfd', () => addon.dmaBufImportSyncFile(buf, SYNC_WRITE, memfd), 'EINVAL', 'DMA_BUF_IOCTL_IMPORT_SYNC_FILE');
  errno('IMPORT_SYNC_FILE flags 0', () => addon.dmaBufImportSyncFile(buf, 0, stub), 'EINVAL', 'DMA_BUF_IOCTL_IMPORT_SYNC_FILE');
  errno('unknown udmabuf ioctl (heap alloc)', () => addon.dmaHeapAlloc(dev, 4096n, O_RDWR, 0n), 'ENOTTY', 'DMA_HEAP_IOCTL_ALLOC');
  return { dev, buf };
}

function heap() {
  console.log('# dma-heap system');
  const heapFd = track(addon.open('/dev/dma_heap/system', O_RDONLY | O_CLOEXEC));
  const buf = track(addon.dmaHeapAlloc(heapFd, 1n << 20n, O_RDWR | O_CLOEXEC, 0n));
  ok('heap buffer size', addon.lseek(buf, 0n, SEEK_END) === 1n << 20n);
  ok('heap exp_name system', fdinfo(buf).exp_name === 'system', fdinfo(buf).exp_name);
  const view = addon.mmap(buf, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, 0n);
  addon.dmaBufSync(buf, SYNC_START | SYNC_RW);
  ok('heap buffer zeroed', view.every((b) => b === 0));
  view.fill(0xff);
  addon.dmaBufSync(buf, SYNC_END | SYNC_RW);
  addon.munmap(view);
  const odd = track(addon.dmaHeapAlloc(heapFd, 5000n, O_RDWR, 0n));
  ok('len rounded up to pages', addon.lseek(odd, 0n, SEEK_END) === 8192n);
  errno('len 0', () => addon.dmaHeapAlloc(heapFd, 0n, O_RDWR, 0n), 'EINVAL', 'DMA_HEAP_IOCTL_ALLOC');
  errno('len 2^64-1', () => addon.dmaHeapAlloc(heapFd, (1n << 64n) - 1n, O_RDWR, 0n), 'EINVAL', 'DMA_HEAP_IOCTL_ALLOC');
  errno('heap_flags 0x111111', () => addon.dmaHeapAlloc(heapFd, 4096n, O_RDWR, 0x111111n), 'EINVAL', 'DMA_HEAP_IOCTL_ALLOC');
  errno('fd_flags ~(O_RDWR|O_CLOEXEC)', () => addon.dmaHeapAlloc(heapFd, 4096n, ~(O_RDWR | O_CLOEXEC), 0n), 'EINVAL', 'DMA_HEAP_IOCTL_ALLOC');
  const ro = track(addon.dmaHeapAlloc(heapFd, 4096n, O_RDONLY, 0n));
  errno('PROT_WRITE shared map of an O_RDONLY buffer', () => addon.mmap(ro, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, 0n), 'EACCES', 'mmap');
  addon.munmap(addon.mmap(ro, 4096, PROT_READ, MAP_SHARED, 0n));
  errno('multi-page MAP_PRIVATE', () => addon.mmap(buf, 8192, PROT_READ, MAP_PRIVATE, 0n), 'EINVAL', 'mmap');
  errno('mmap past the end', () => addon.mmap(odd, 4096, PROT_READ, MAP_SHARED, 8192n), 'EINVAL', 'mmap');
  // The heap checks the ioctl's number, not its magic: DMA_BUF_SET_NAME is
  // number 1, past the heap's only ioctl.
  errno('ioctl number 1 on the heap', () => addon.dmaBufSetName(heapFd, 'x'), 'EINVAL', 'DMA_BUF_SET_NAME');
}

async function vgem(udmabufFd) {
  console.log('# DRM vgem');
  const cards = addon.readdir('/dev/dri');
  console.log(`     /dev/dri: ${cards.join(' ')}`);
  const card = cards.filter((n) => n.startsWith('card')).map((n) => `/dev/dri/${n}`)
    .find((p) => { const fd = addon.open(p, O_RDWR | O_CLOEXEC); const v = addon.drmVersion(fd); addon.close(fd); return v.name === 'vgem'; });
  if (!card) return ok('a vgem card exists', false);
  const drm = track(addon.open(card, O_RDWR | O_CLOEXEC));
  const version = addon.drmVersion(drm);
  console.log(`     version: ${JSON.stringify(version)}`);
  ok('DRM_IOCTL_VERSION', version.name === 'vgem' && typeof version.desc === 'string' && version.desc.length > 0);

  const dumb = addon.drmCreateDumb(drm, 64, 64, 32, 0);
  ok('CREATE_DUMB pitch and size', dumb.pitch === 256 && dumb.size === 16384n, JSON.stringify({ ...dumb, size: `${dumb.size}` }));
  errno('CREATE_DUMB width 0', () => addon.drmCreateDumb(drm, 0, 64, 32, 0), 'EINVAL', 'DRM_IOCTL_MODE_CREATE_DUMB');
  const render = cards.filter((n) => n.startsWith('renderD')).map((n) => `/dev/dri/${n}`)
    .find((p) => { const fd = addon.open(p, O_RDWR | O_CLOEXEC); const v = addon.drmVersion(fd); addon.close(fd); return v.name === 'vgem'; });
  if (render) {
    const rfd = track(addon.open(render, O_RDWR | O_CLOEXEC));
    errno('CREATE_DUMB on the render node', () => addon.drmCreateDumb(rfd, 64, 64, 32, 0), 'EACCES', 'DRM_IOCTL_MODE_CREATE_DUMB');
  }

  const buf = track(addon.drmPrimeHandleToFd(drm, dumb.handle, DRM_CLOEXEC | DRM_RDWR));
  ok('PRIME export size', addon.lseek(buf, 0n, SEEK_END) === 16384n);
  console.log(`     prime fdinfo exp_name: ${fdinfo(buf).exp_name}`);
  const view = addon.mmap(buf, 16384, PROT_READ | PROT_WRITE, MAP_SHARED, 0n);
  addon.dmaBufSync(buf, SYNC_START | SYNC_WRITE);
  view[1] = 9;
  addon.dmaBufSync(buf, SYNC_END | SYNC_WRITE);
  addon.munmap(view);
  ok('FD_TO_HANDLE of its own export gives the same handle', addon.drmPrimeFdToHandle(drm, buf) === dumb.handle);
  const roDumb = addon.drmCreateDumb(drm, 32, 32, 32, 0);
  const ro = track(addon.drmPrimeHandleToFd(drm, roDumb.handle, DRM_CLOEXEC));
  errno('writable map of a first export without DRM_RDWR', () => addon.mmap(ro, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, 0n), 'EACCES', 'mmap');
  const roAgain = track(addon.drmPrimeHandleToFd(drm, roDumb.handle, DRM_CLOEXEC | DRM_RDWR));
  ok('a re-export keeps the first export\'s O_RDONLY', (parseInt(fdinfo(roAgain).flags, 8) & 3) === O_RDONLY, fdinfo(roAgain).flags);
  const again = track(addon.drmPrimeHandleToFd(drm, dumb.handle, DRM_CLOEXEC));
  ok('a re-export without DRM_RDWR keeps the first export\'s O_RDWR', (parseInt(fdinfo(again).flags, 8) & 3) === O_RDWR, fdinfo(again).flags);
  ok('re-exports share one dma-buf', addon.readFdinfo(again).match(/^ino:.*$/m)[0] === addon.readFdinfo(buf).match(/^ino:.*$/m)[0]);
  errno('HANDLE_TO_FD bad handle', () => addon.drmPrimeHandleToFd(drm, 9999, DRM_CLOEXEC), 'ENOENT', 'DRM_IOCTL_PRIME_HANDLE_TO_FD');
  errno('HANDLE_TO_FD bad flags', () => addon.drmPrimeHandleToFd(drm, dumb.handle, 0x10), 'EINVAL', 'DRM_IOCTL_PRIME_HANDLE_TO_FD');
  errno('FD_TO_HANDLE of a memfd', () => addon.drmPrimeFdToHandle(drm, sealedMemfd(1)), 'EINVAL', 'DRM_IOCTL_PRIME_FD_TO_HANDLE');
  errno('FD_TO_HANDLE of -1', () => addon.drmPrimeFdToHandle(drm, -1), 'EBADF', 'DRM_IOCTL_PRIME_FD_TO_HANDLE');
  const imported = value('FD_TO_HANDLE of a udmabuf', () => addon.drmPrimeFdToHandle(drm, udmabufFd));
  if (imported !== undefined) value('GEM_CLOSE the import', () => addon.drmGemClose(drm, imported));

  console.log('# vgem fences and sync_file');
  const fence = addon.vgemFenceAttach(drm, dumb.handle, VGEM_FENCE_WRITE);
  ok('FENCE_ATTACH id', fence >= 1, String(fence));
  ok('poll dma-buf busy', addon.poll(buf, POLLIN | POLLOUT) === 0);
  errno('second WRITE attach', () => addon.vgemFenceAttach(drm, dumb.handle, VGEM_FENCE_WRITE), 'EBUSY', 'DRM_IOCTL_VGEM_FENCE_ATTACH');
  errno('READ attach under a WRITE fence', () => addon.vgemFenceAttach(drm, dumb.handle, 0), 'EBUSY', 'DRM_IOCTL_VGEM_FENCE_ATTACH');
  errno('attach flags 2', () => addon.vgemFenceAttach(drm, dumb.handle, 2), 'EINVAL', 'DRM_IOCTL_VGEM_FENCE_ATTACH');
  errno('attach bad handle', () => addon.vgemFenceAttach(drm, 9999, 0), 'ENOENT', 'DRM_IOCTL_VGEM_FENCE_ATTACH');
  errno('signal unknown id', () => addon.vgemFenceSignal(drm, 9999), 'ENOENT', 'DRM_IOCTL_VGEM_FENCE_SIGNAL');

  const sync = track(addon.dmaBufExportSyncFile(buf, SYNC_RW));
  const info = addon.syncFileInfo(sync);
  console.log(`     unsignalled: ${JSON.stringify(info, (k, v) => (typeof v === 'bigint' ? `${v}n` : v))}`);
  ok('sync_file active', info.status === 0 && info.fences.length === 1 && info.fences[0].status === 0);
  ok('fence names', info.fences[0].driverName === 'vgem' && info.fences[0].objName === 'unbound');
  ok('timestamp 0 until signalled', info.fences[0].timestampNs === 0n);
  ok('poll active sync_file', addon.poll(sync, POLLIN | POLLOUT) === 0);

  // A second fence on a second buffer, to merge.
  const dumb2 = addon.drmCreateDumb(drm, 16, 16, 32, 0);
  const buf2 = track(addon.drmPrimeHandleToFd(drm, dumb2.handle, DRM_CLOEXEC | DRM_RDWR));
  const fence2 = addon.vgemFenceAttach(drm, dumb2.handle, 0);
  const sync2 = track(addon.dmaBufExportSyncFile(buf2, SYNC_WRITE));
  const merged = track(addon.syncFileMerge(sync, sync2, 'merged'));
  const minfo = addon.syncFileInfo(merged);
  ok('merge keeps both fences and the name', minfo.name === 'merged' && minfo.fences.length === 2, JSON.stringify({ name: minfo.name, n: minfo.fences.length }));
  ok('merged sync_file is O_CLOEXEC', (parseInt(fdinfo(merged).flags, 8) & O_CLOEXEC) !== 0);
  value('merge with itself', () => addon.close(addon.syncFileMerge(sync, sync, 'self')));
  errno('merge with a memfd', () => addon.syncFileMerge(sync, sealedMemfd(1), 'x'), 'ENOENT', 'SYNC_IOC_MERGE');
  const long = track(addon.syncFileMerge(sync, sync2, 'x'.repeat(40)));
  ok('merge name cut to 31 bytes', addon.syncFileInfo(long).name === 'x'.repeat(31));

  // The fence also blocks a udmabuf it is imported into.
  addon.dmaBufImportSyncFile(udmabufFd, SYNC_WRITE, sync);
  ok('imported fence makes the udmabuf busy', addon.poll(udmabufFd, POLLIN | POLLOUT) === 0);

  const writable = nextEvent(buf, POLLOUT, 5000);
  const woken = nextEvent(sync, POLLIN, 5000);
  const notYet = await Promise.race([woken, new Promise((r) => setTimeout(() => r('pending'), 50))]);
  ok('watch waits while unsignalled', notYet === 'pending');
  addon.vgemFenceSignal(drm, fence);
  ok('watch wakes on signal with POLLIN', (await woken) === POLLIN);
  ok('dma-buf watch wakes with POLLOUT', (await writable) === POLLOUT);
  const sinfo = addon.syncFileInfo(sync);
  ok('signalled info', sinfo.status === 1 && sinfo.fences[0].status === 1 && sinfo.fences[0].timestampNs > 0n);
  ok('poll signalled dma-buf', addon.poll(buf, POLLIN | POLLOUT) === (POLLIN | POLLOUT));
  ok('poll udmabuf after signal', addon.poll(udmabufFd, POLLIN | POLLOUT) === (POLLIN | POLLOUT));
  ok('merged still active (second fence)', addon.syncFileInfo(merged).status === 0 && addon.poll(merged, POLLIN) === 0);
  errno('signal twice', () => addon.vgemFenceSignal(drm, fence), 'ENOENT', 'DRM_IOCTL_VGEM_FENCE_SIGNAL');
  const woken2 = nextEvent(merged, POLLIN, 5000);
  addon.vgemFenceSignal(drm, fence2);
  ok('merged wakes when both signalled', (await woken2) === POLLIN);
  ok('re-attach after signal', addon.vgemFenceAttach(drm, dumb.handle, VGEM_FENCE_WRITE) > fence2);

  errno('DESTROY_DUMB bad handle', () => addon.drmDestroyDumb(drm, 9999), 'EINVAL', 'DRM_IOCTL_MODE_DESTROY_DUMB');
  value('DESTROY_DUMB', () => addon.drmDestroyDumb(drm, dumb2.handle));
  value('GEM_CLOSE', () => addon.drmGemClose(drm, dumb.handle));
  errno('GEM_CLOSE twice', () => addon.drmGemClose(drm, dumb.handle), 'EINVAL', 'DRM_IOCTL_GEM_CLOSE');
  errno('SYNC_IOC_FILE_INFO on a dma-buf', () => addon.syncFileInfo(buf), 'ENOTTY', 'SYNC_IOC_FILE_INFO');

  if (process.argv.includes('--slow')) {
    console.log('# vgem fence timeout (10 s)');
    const dumb3 = addon.drmCreateDumb(drm, 16, 16, 32, 0);
    const buf3 = track(addon.drmPrimeHandleToFd(drm, dumb3.handle, DRM_CLOEXEC | DRM_RDWR));
    const fence3 = addon.vgemFenceAttach(drm, dumb3.handle, VGEM_FENCE_WRITE);
    const sync3 = track(addon.dmaBufExportSyncFile(buf3, SYNC_WRITE));
    const start = Date.now();
    ok('unsignalled fence signals itself', (await nextEvent(sync3, POLLIN, 20000)) === POLLIN, `${Date.now() - start} ms`);
    ok('force-signalled without an error', addon.syncFileInfo(sync3).fences[0].status === 1);
    errno('signal after the timeout', () => addon.vgemFenceSignal(drm, fence3), 'ETIMEDOUT', 'DRM_IOCTL_VGEM_FENCE_SIGNAL');
  }
}

async function main() {
  const { buf } = udmabuf();
  heap();
  await vgem(buf);
  const before = fds.length;
  for (const fd of fds.splice(0)) addon.close(fd);
  ok(`closed ${before} fds`, true);
  console.log(failures ? `${failures} check(s) failed or differed` : 'all checks passed');
  process.exit(failures ? 1 : 0);
}

main().catch((e) => {
  console.log(`FAIL uncaught: ${e.stack}`);
  process.exit(1);
});
