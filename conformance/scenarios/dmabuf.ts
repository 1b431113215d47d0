// The dma-buf core's ioctls and file operations, on system-heap buffers and
// udmabufs.
import * as uapi from '../../seam/uapi';
import { CLOSED_FD, fdinfo, heapBuffer, memfd, PAGE, poll, RW, syncInfo, udmabuf } from '../fixtures';
import { area, type Device } from '../scenario';

const { list, add } = area('dma-buf');
export default list;
const needs: Device[] = ['heap'];
const { DMA_BUF_SYNC_READ: READ, DMA_BUF_SYNC_WRITE: WRITE, DMA_BUF_SYNC_RW: BOTH, DMA_BUF_SYNC_END: END } = uapi;

for (const [flags, why] of [[0, 'no direction'], [END, 'END with no direction'], [8, 'bit 3'], [READ | 8, 'READ and bit 3'], [1 << 20, 'bit 20'], [BOTH | END | 16, 'RW|END and bit 4']] as const) {
  add(`SYNC with ${why} is EINVAL`, needs, (t) => {
    const buf = heapBuffer(t, PAGE);
    t.step(`SYNC ${flags}`, (k) => k.dmaBufSync(buf, flags));
  });
}

add('SYNC takes READ, WRITE and RW, START and END', needs, (t) => {
  const buf = heapBuffer(t, PAGE);
  for (const dir of [READ, WRITE, BOTH]) {
    t.step(`START ${dir}`, (k) => k.dmaBufSync(buf, dir));
    t.step(`END ${dir}`, (k) => k.dmaBufSync(buf, dir | END));
  }
});

add('SET_NAME takes 31 bytes', needs, (t) => {
  const buf = heapBuffer(t, PAGE);
  t.step('name of 31', (k) => k.dmaBufSetName(buf, 'n'.repeat(31)));
  fdinfo(t, 'fdinfo', buf);
  t.step('readlink', (k) => k.readlinkFd(buf));
});

add('SET_NAME of 32 bytes is EINVAL and keeps the old name', needs, (t) => {
  const buf = heapBuffer(t, PAGE);
  t.step('name', (k) => k.dmaBufSetName(buf, 'old'));
  t.step('name of 32', (k) => k.dmaBufSetName(buf, 'n'.repeat(32)));
  t.step('name of 100', (k) => k.dmaBufSetName(buf, 'n'.repeat(100)));
  t.step('readlink', (k) => k.readlinkFd(buf));
});

add('SET_NAME works while mapped, and an empty name clears it', needs, (t) => {
  const buf = heapBuffer(t, PAGE);
  t.map('map', buf, PAGE, RW, uapi.MAP_SHARED);
  t.step('name frame', (k) => k.dmaBufSetName(buf, 'frame'));
  t.step('readlink', (k) => k.readlinkFd(buf));
  fdinfo(t, 'fdinfo', buf);
  t.step('name empty', (k) => k.dmaBufSetName(buf, ''));
  t.step('readlink', (k) => k.readlinkFd(buf));
  fdinfo(t, 'fdinfo', buf);
});

add('a name is the buffer\'s, seen through every fd', needs, (t) => {
  const buf = heapBuffer(t, PAGE);
  const copy = t.fd('dup', (k) => k.dup(buf));
  t.step('name through the copy', (k) => k.dmaBufSetName(copy, 'shared'));
  t.step('readlink of the original', (k) => k.readlinkFd(buf));
});

add('fdinfo count follows fds and mappings', needs, (t) => {
  const buf = heapBuffer(t, PAGE);
  fdinfo(t, 'fdinfo', buf);
  const copy = t.fd('dup', (k) => k.dup(buf));
  fdinfo(t, 'after dup', buf);
  const view = t.map('map', buf, PAGE, RW, uapi.MAP_SHARED);
  fdinfo(t, 'after map', buf);
  t.close('close the copy', copy);
  fdinfo(t, 'after close', buf);
  t.unmap('unmap', view);
  fdinfo(t, 'after unmap', buf);
});

add('llseek: SEEK_END 0 gives the size, SEEK_SET 0 gives 0', needs, (t) => {
  const buf = heapBuffer(t, 3 * PAGE);
  t.step('SEEK_END 0', (k) => k.lseek(buf, 0n, uapi.SEEK_END));
  t.step('SEEK_SET 0', (k) => k.lseek(buf, 0n, uapi.SEEK_SET));
  fdinfo(t, 'fdinfo', buf);
});

for (const [offset, whence, name] of [[0n, uapi.SEEK_CUR, 'SEEK_CUR 0'], [1n, uapi.SEEK_END, 'SEEK_END 1'], [-1n, uapi.SEEK_END, 'SEEK_END -1'], [4096n, uapi.SEEK_SET, 'SEEK_SET 4096'], [0n, 3, 'SEEK_DATA 0'], [0n, 9, 'whence 9']] as const) {
  add(`llseek ${name} is EINVAL`, needs, (t) => {
    const buf = heapBuffer(t, 3 * PAGE);
    t.step(name, (k) => k.lseek(buf, offset, whence));
  });
}

add('mappings share the memory; past the end is EINVAL', needs, (t) => {
  const buf = heapBuffer(t, 2 * PAGE);
  const whole = t.map('map 2 pages', buf, 2 * PAGE, RW, uapi.MAP_SHARED);
  const second = t.map('map page 1', buf, PAGE, uapi.PROT_READ, uapi.MAP_SHARED, BigInt(PAGE));
  whole[PAGE + 9] = 0xee;
  t.note('byte 9 of page 1', second[9]);
  t.step('map at page 2', (k) => k.mmap(buf, PAGE, uapi.PROT_READ, uapi.MAP_SHARED, BigInt(2 * PAGE)));
  t.step('map 3 pages', (k) => k.mmap(buf, 3 * PAGE, uapi.PROT_READ, uapi.MAP_SHARED, 0n));
});

add('with no fences it polls ready both ways', needs, (t) => {
  const buf = heapBuffer(t, PAGE);
  poll(t, 'poll in|out', buf);
  poll(t, 'poll in', buf, uapi.POLLIN);
  poll(t, 'poll out', buf, uapi.POLLOUT);
});

for (const [flags, name] of [[READ, 'READ'], [WRITE, 'WRITE'], [BOTH, 'RW']] as const) {
  add(`EXPORT_SYNC_FILE ${name} with no fences gives the signalled stub`, needs, (t) => {
    const buf = heapBuffer(t, PAGE);
    const sync = t.fd('export', (k) => k.dmaBufExportSyncFile(buf, flags));
    t.step('readlink', (k) => k.readlinkFd(sync));
    fdinfo(t, 'fdinfo', sync);
    syncInfo(t, 'info', sync);
    poll(t, 'poll', sync);
  });
}

add('EXPORT_SYNC_FILE wants a direction and nothing else', needs, (t) => {
  const buf = heapBuffer(t, PAGE);
  for (const flags of [0, END, BOTH | END, 8]) t.tryFd(`export ${flags}`, (k) => k.dmaBufExportSyncFile(buf, flags));
});

add('a sync_file has no lseek or mmap', needs, (t) => {
  const buf = heapBuffer(t, PAGE);
  const sync = t.fd('export', (k) => k.dmaBufExportSyncFile(buf, READ));
  t.step('lseek', (k) => k.lseek(sync, 0n, uapi.SEEK_SET));
  t.step('mmap', (k) => k.mmap(sync, PAGE, uapi.PROT_READ, uapi.MAP_SHARED, 0n));
  t.step('DMA_BUF_IOCTL_SYNC', (k) => k.dmaBufSync(sync, READ));
});

add('IMPORT_SYNC_FILE wants a direction and a sync_file', needs, (t) => {
  const buf = heapBuffer(t, PAGE);
  const sync = t.fd('export', (k) => k.dmaBufExportSyncFile(buf, BOTH));
  t.step('import 0', (k) => k.dmaBufImportSyncFile(buf, 0, sync));
  t.step('import RW|END', (k) => k.dmaBufImportSyncFile(buf, BOTH | END, sync));
  t.step('import a closed fd', (k) => k.dmaBufImportSyncFile(buf, BOTH, CLOSED_FD));
  t.step('import a dma-buf', (k) => k.dmaBufImportSyncFile(buf, BOTH, buf));
  const mem = memfd(t, 1, 0);
  t.step('import a memfd', (k) => k.dmaBufImportSyncFile(buf, BOTH, mem));
  t.step('import WRITE', (k) => k.dmaBufImportSyncFile(buf, WRITE, sync));
  t.step('import READ', (k) => k.dmaBufImportSyncFile(buf, READ, sync));
  poll(t, 'poll', buf);
});

add('the sync_file ioctls on a dma-buf are ENOTTY', needs, (t) => {
  const buf = heapBuffer(t, PAGE);
  t.step('SYNC_IOC_FILE_INFO', (k) => k.syncFileInfo(buf));
  t.tryFd('SYNC_IOC_MERGE', (k) => k.syncFileMerge(buf, buf, 'x'));
  t.step('DRM_IOCTL_VERSION', (k) => k.drmVersion(buf));
});

add('a udmabuf takes names and SYNC as a heap buffer does', ['udmabuf'], (t) => {
  const [buf] = udmabuf(t, 1);
  t.step('name', (k) => k.dmaBufSetName(buf, 'udma'));
  fdinfo(t, 'fdinfo', buf);
  t.step('name of 32', (k) => k.dmaBufSetName(buf, 'n'.repeat(32)));
  t.step('SYNC 0', (k) => k.dmaBufSync(buf, 0));
  t.step('llseek SEEK_CUR', (k) => k.lseek(buf, 0n, uapi.SEEK_CUR));
});

add('a dup of a dma-buf is the same buffer', needs, (t) => {
  const buf = heapBuffer(t, PAGE);
  const copy = t.fd('dup', (k) => k.dup(buf));
  fdinfo(t, 'fdinfo of the copy', copy);
  const a = t.map('map the original', buf, PAGE, RW, uapi.MAP_SHARED);
  const b = t.map('map the copy', copy, PAGE, uapi.PROT_READ, uapi.MAP_SHARED);
  a[100] = 0x17;
  t.note('the copy sees it', b[100]);
});
