// Files, fds and memfds: what every other area stands on.
import * as uapi from '../../seam/uapi';
import { CLOSED_FD, fdinfo, inode, memfd, PAGE, poll, RW } from '../fixtures';
import { area } from '../scenario';

const { list, add } = area('files');
export default list;

add('open of a missing path is ENOENT', [], (t) => {
  t.step('open', (k) => k.open('/dev/dmabridge-no-such-device', uapi.O_RDWR));
  t.step('readdir', (k) => k.readdir('/dev/dmabridge-no-such-dir'));
});

add('calls on a closed fd are EBADF', [], (t) => {
  t.step('close', (k) => k.close(CLOSED_FD));
  t.step('dup', (k) => k.dup(CLOSED_FD));
  t.step('lseek', (k) => k.lseek(CLOSED_FD, 0n, uapi.SEEK_SET));
  t.step('mmap', (k) => k.mmap(CLOSED_FD, PAGE, uapi.PROT_READ, uapi.MAP_SHARED, 0n));
  t.step('ftruncate', (k) => k.ftruncate(CLOSED_FD, 0n));
  t.step('getSeals', (k) => k.getSeals(CLOSED_FD));
});

add('a closed fd has no /proc entries and polls POLLNVAL', [], (t) => {
  t.step('fdinfo', (k) => k.readFdinfo(CLOSED_FD));
  t.step('readlink', (k) => k.readlinkFd(CLOSED_FD));
  poll(t, 'poll', CLOSED_FD, uapi.POLLIN);
});

add('a memfd is named /memfd:<name> (deleted) with O_LARGEFILE in its flags', [], (t) => {
  const fd = t.fd('memfd_create cloexec', (k) => k.memfdCreate('dmabridge-name', uapi.MFD_CLOEXEC));
  t.step('readlink', (k) => k.readlinkFd(fd));
  fdinfo(t, 'fdinfo', fd);
  const plain = t.fd('memfd_create', (k) => k.memfdCreate('dmabridge-name', 0));
  fdinfo(t, 'fdinfo without cloexec', plain);
});

add('dup shares the open file description and sets close-on-exec', [], (t) => {
  const fd = t.fd('memfd_create', (k) => k.memfdCreate('dmabridge-dup', 0));
  t.step('ftruncate', (k) => k.ftruncate(fd, BigInt(PAGE)));
  const copy = t.fd('dup', (k) => k.dup(fd));
  t.note('new number', copy !== fd);
  fdinfo(t, 'fdinfo of the copy', copy);
  t.step('seek the original', (k) => k.lseek(fd, 100n, uapi.SEEK_SET));
  fdinfo(t, 'the copy sees the position', copy);
  t.note('same inode', inode(t, copy) === inode(t, fd));
});

add('a memfd seeks from start, current and end, never below 0', [], (t) => {
  const fd = t.fd('memfd_create', (k) => k.memfdCreate('dmabridge-seek', 0));
  t.step('ftruncate 10000', (k) => k.ftruncate(fd, 10_000n));
  t.step('SEEK_END 0', (k) => k.lseek(fd, 0n, uapi.SEEK_END));
  t.step('SEEK_CUR -1', (k) => k.lseek(fd, -1n, uapi.SEEK_CUR));
  t.step('SEEK_SET 5', (k) => k.lseek(fd, 5n, uapi.SEEK_SET));
  t.step('SEEK_CUR -6', (k) => k.lseek(fd, -6n, uapi.SEEK_CUR));
  t.step('SEEK_END past the end', (k) => k.lseek(fd, 100n, uapi.SEEK_END));
  t.step('bad whence', (k) => k.lseek(fd, 0n, 7));
});

add('memfd names are limited to 249 bytes', [], (t) => {
  t.tryFd('249 bytes', (k) => k.memfdCreate('m'.repeat(249), 0));
  t.tryFd('250 bytes', (k) => k.memfdCreate('m'.repeat(250), 0));
});

add('memfd_create refuses unknown flags', [], (t) => {
  t.tryFd('flag 0x1000', (k) => k.memfdCreate('dmabridge', 0x1000));
  t.tryFd('NOEXEC_SEAL with EXEC', (k) => k.memfdCreate('dmabridge', 0x8 | 0x10));
});

add('a memfd without MFD_ALLOW_SEALING carries F_SEAL_SEAL and takes no seals', [], (t) => {
  const fd = t.fd('memfd_create', (k) => k.memfdCreate('dmabridge', 0));
  t.step('F_GET_SEALS', (k) => k.getSeals(fd));
  t.step('F_ADD_SEALS shrink', (k) => k.addSeals(fd, uapi.F_SEAL_SHRINK));
});

add('seals SHRINK, GROW and SEAL are enforced', [], (t) => {
  const fd = t.fd('memfd_create', (k) => k.memfdCreate('dmabridge', uapi.MFD_ALLOW_SEALING));
  t.step('F_GET_SEALS', (k) => k.getSeals(fd));
  t.step('ftruncate 2 pages', (k) => k.ftruncate(fd, BigInt(2 * PAGE)));
  t.step('seal shrink', (k) => k.addSeals(fd, uapi.F_SEAL_SHRINK));
  t.step('shrink', (k) => k.ftruncate(fd, BigInt(PAGE)));
  t.step('grow', (k) => k.ftruncate(fd, BigInt(3 * PAGE)));
  t.step('seal grow and seal', (k) => k.addSeals(fd, uapi.F_SEAL_GROW | uapi.F_SEAL_SEAL));
  t.step('F_GET_SEALS', (k) => k.getSeals(fd));
  t.step('grow again', (k) => k.ftruncate(fd, BigInt(4 * PAGE)));
  t.step('seal write after SEAL', (k) => k.addSeals(fd, uapi.F_SEAL_WRITE));
  t.step('size', (k) => k.lseek(fd, 0n, uapi.SEEK_END));
});

add('F_ADD_SEALS refuses unknown seals', [], (t) => {
  const fd = t.fd('memfd_create', (k) => k.memfdCreate('dmabridge', uapi.MFD_ALLOW_SEALING));
  t.step('seal 0x1000', (k) => k.addSeals(fd, 0x1000));
  t.step('seals unchanged', (k) => k.getSeals(fd));
});

add('a directory opens read-only and seeks forward only', [], (t) => {
  t.tryFd('open /dev O_RDWR', (k) => k.open('/dev', uapi.O_RDWR));
  const dir = t.fd('open /dev', (k) => k.open('/dev', uapi.O_RDONLY | uapi.O_CLOEXEC));
  t.step('SEEK_SET 0', (k) => k.lseek(dir, 0n, uapi.SEEK_SET));
  t.step('SEEK_CUR -1', (k) => k.lseek(dir, -1n, uapi.SEEK_CUR));
  t.step('SEEK_END', (k) => k.lseek(dir, 0n, uapi.SEEK_END));
  t.step('readlink', (k) => k.readlinkFd(dir));
  t.step('ftruncate', (k) => k.ftruncate(dir, 0n));
  t.step('F_GET_SEALS', (k) => k.getSeals(dir));
  t.step('mmap', (k) => k.mmap(dir, PAGE, uapi.PROT_READ, uapi.MAP_SHARED, 0n));
});

add('MFD_NOEXEC_SEAL starts with F_SEAL_EXEC; F_SEAL_EXEC adds the write seals', [], (t) => {
  const noexec = t.fd('memfd_create NOEXEC_SEAL', (k) => k.memfdCreate('dmabridge', 0x8));
  t.step('F_GET_SEALS', (k) => k.getSeals(noexec));
  const exec = t.fd('memfd_create ALLOW_SEALING', (k) => k.memfdCreate('dmabridge', uapi.MFD_ALLOW_SEALING));
  t.step('seal exec', (k) => k.addSeals(exec, 0x20));
  t.step('F_GET_SEALS', (k) => k.getSeals(exec));
});

add('ftruncate checks a negative length before the fd', [], (t) => {
  t.step('-1 on a closed fd', (k) => k.ftruncate(CLOSED_FD, -1n));
  t.step('0 on a closed fd', (k) => k.ftruncate(CLOSED_FD, 0n));
});

add('a memfd maps shared as one memory and private as a copy', [], (t) => {
  const fd = memfd(t, 2, 0);
  const a = t.map('map 2 pages shared', fd, 2 * PAGE, RW, uapi.MAP_SHARED);
  const b = t.map('map page 1 shared', fd, PAGE, RW, uapi.MAP_SHARED, BigInt(PAGE));
  a[PAGE + 1] = 0x5a;
  t.note('second mapping sees the write', b[1]);
  const priv = t.map('map page 0 private', fd, PAGE, RW, uapi.MAP_PRIVATE);
  priv[0] = 0x77;
  t.note('shared mapping does not see the private write', a[0]);
  t.note('a fresh memfd reads as zero', a.subarray(2).every((x) => x === 0));
});

add('mmap checks its arguments in the kernel order', [], (t) => {
  const fd = memfd(t, 1, 0);
  t.step('unaligned offset on a closed fd', (k) => k.mmap(CLOSED_FD, PAGE, RW, uapi.MAP_SHARED, 1n));
  t.step('length 0', (k) => k.mmap(fd, 0, RW, uapi.MAP_SHARED, 0n));
  t.step('neither shared nor private', (k) => k.mmap(fd, PAGE, RW, 0, 0n));
});

add('a writable shared mapping keeps F_SEAL_WRITE off; the seal then refuses one', [], (t) => {
  const fd = memfd(t, 1, 0);
  const view = t.map('map shared rw', fd, PAGE, RW, uapi.MAP_SHARED);
  t.step('seal write while mapped', (k) => k.addSeals(fd, uapi.F_SEAL_WRITE));
  t.unmap('unmap', view);
  t.step('seal write', (k) => k.addSeals(fd, uapi.F_SEAL_WRITE));
  t.step('map shared rw', (k) => k.mmap(fd, PAGE, RW, uapi.MAP_SHARED, 0n));
  t.map('map shared read-only', fd, PAGE, uapi.PROT_READ, uapi.MAP_SHARED);
});

add('F_SEAL_FUTURE_WRITE refuses new writable shared mappings', [], (t) => {
  const fd = memfd(t, 1, uapi.F_SEAL_FUTURE_WRITE);
  t.step('map shared rw', (k) => k.mmap(fd, PAGE, RW, uapi.MAP_SHARED, 0n));
  t.map('map shared read-only', fd, PAGE, uapi.PROT_READ, uapi.MAP_SHARED);
});

add('a memfd answers ENOTTY to other drivers\' ioctls', [], (t) => {
  const fd = memfd(t, 1, 0);
  t.step('DMA_BUF_IOCTL_SYNC', (k) => k.dmaBufSync(fd, uapi.DMA_BUF_SYNC_READ));
  t.step('DMA_BUF_SET_NAME', (k) => k.dmaBufSetName(fd, 'x'));
  t.tryFd('EXPORT_SYNC_FILE', (k) => k.dmaBufExportSyncFile(fd, uapi.DMA_BUF_SYNC_READ));
  t.step('SYNC_IOC_FILE_INFO', (k) => k.syncFileInfo(fd));
  t.step('DRM_IOCTL_VERSION', (k) => k.drmVersion(fd));
});

add('a memfd polls ready both ways and cannot be watched', [], (t) => {
  const fd = memfd(t, 1, 0);
  poll(t, 'poll', fd);
  t.step('watch', (k) => k.watch(fd, uapi.POLLIN, () => {}), (w) => { w.stop(); return 'watching'; });
  t.step('watch a closed fd', (k) => k.watch(CLOSED_FD, uapi.POLLIN, () => {}), (w) => { w.stop(); return 'watching'; });
});
