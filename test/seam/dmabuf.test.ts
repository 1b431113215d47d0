// The dma-buf core's ioctls and file operations, on system-heap buffers.
import { expect } from 'vitest';
import * as uapi from '../../seam/uapi';
import { describeEachBackend, DEVICES, itWith } from '../support/backends';
import { CLOSED_FD, expectErrno, PAGE, Session } from '../support/seam-session';

const { DMA_BUF_SYNC_READ: READ, DMA_BUF_SYNC_WRITE: WRITE, DMA_BUF_SYNC_RW: RW, DMA_BUF_SYNC_END: END } = uapi;

describeEachBackend('dma-buf', (b) => {
  const s = new Session(b);
  const it = itWith(b, DEVICES.heap);

  it('takes SYNC with a direction and no unknown flags', () => {
    const buf = s.heapBuffer(PAGE);
    for (const flags of [0, END, 8, READ | 8, 1 << 20]) {
      expectErrno(() => s.backend.dmaBufSync(buf, flags), 'EINVAL', 'DMA_BUF_IOCTL_SYNC');
    }
    for (const dir of [READ, WRITE, RW]) {
      s.backend.dmaBufSync(buf, dir);
      s.backend.dmaBufSync(buf, dir | END);
    }
  });

  it('takes names of up to 31 bytes, at any time, and shows them', () => {
    const buf = s.heapBuffer(PAGE);
    s.backend.dmaBufSetName(buf, 'n'.repeat(31));
    expect(s.fdinfo(buf).get('name')).toBe('n'.repeat(31));
    expectErrno(() => s.backend.dmaBufSetName(buf, 'n'.repeat(32)), 'EINVAL', 'DMA_BUF_SET_NAME');
    s.map(buf, PAGE);
    s.backend.dmaBufSetName(buf, 'frame');
    expect(s.backend.readlinkFd(buf)).toBe('/dmabuf:frame');
    expect(s.fdinfo(buf).get('name')).toBe('frame');
    s.backend.dmaBufSetName(buf, '');
    expect(s.backend.readlinkFd(buf)).toBe('/dmabuf:');
    expect(s.fdinfo(buf).get('name')).toBe('');
  });

  it('counts every reference to the file in fdinfo: fds and mappings', () => {
    const buf = s.heapBuffer(PAGE);
    const count = () => s.fdinfo(buf).get('count');
    expect(count()).toBe('1');
    const copy = s.fd(s.backend.dup(buf));
    expect(count()).toBe('2');
    const view = s.map(buf, PAGE);
    expect(count()).toBe('3');
    s.close(copy);
    expect(count()).toBe('2');
    s.unmap(view);
    expect(count()).toBe('1');
  });

  it('seeks only to learn its size: SEEK_END or SEEK_SET, offset 0', () => {
    const buf = s.heapBuffer(3 * PAGE);
    expect(s.backend.lseek(buf, 0n, uapi.SEEK_END)).toBe(BigInt(3 * PAGE));
    expect(s.backend.lseek(buf, 0n, uapi.SEEK_SET)).toBe(0n);
    expectErrno(() => s.backend.lseek(buf, 0n, uapi.SEEK_CUR), 'EINVAL', 'lseek');
    expectErrno(() => s.backend.lseek(buf, 1n, uapi.SEEK_END), 'EINVAL', 'lseek');
    expectErrno(() => s.backend.lseek(buf, BigInt(PAGE), uapi.SEEK_SET), 'EINVAL', 'lseek');
    expect(s.fdinfo(buf).get('pos')).toBe('0');
  });

  it('shares its memory between mappings, and refuses mappings past its end', () => {
    const buf = s.heapBuffer(2 * PAGE);
    const whole = s.map(buf, 2 * PAGE);
    const second = s.map(buf, PAGE, uapi.PROT_READ, uapi.MAP_SHARED, BigInt(PAGE));
    whole[PAGE + 9] = 0xee;
    expect(second[9]).toBe(0xee);
    expectErrno(() => s.backend.mmap(buf, PAGE, uapi.PROT_READ, uapi.MAP_SHARED, BigInt(2 * PAGE)), 'EINVAL', 'mmap');
    expectErrno(() => s.backend.mmap(buf, 3 * PAGE, uapi.PROT_READ, uapi.MAP_SHARED, 0n), 'EINVAL', 'mmap');
  });

  it('is ready both ways while it has no fences', () => {
    const buf = s.heapBuffer(PAGE);
    expect(s.backend.poll(buf, uapi.POLLIN | uapi.POLLOUT)).toBe(uapi.POLLIN | uapi.POLLOUT);
    expect(s.backend.poll(buf, uapi.POLLIN)).toBe(uapi.POLLIN);
  });

  it('exports a signalled stub sync_file when it has no fences', () => {
    const buf = s.heapBuffer(PAGE);
    for (const flags of [0, END, RW | END]) {
      expectErrno(() => s.backend.dmaBufExportSyncFile(buf, flags), 'EINVAL', 'DMA_BUF_IOCTL_EXPORT_SYNC_FILE');
    }
    for (const flags of [READ, WRITE, RW]) {
      const sync = s.fd(s.backend.dmaBufExportSyncFile(buf, flags));
      expect(s.backend.readlinkFd(sync)).toBe('anon_inode:sync_file');
      expect(s.fdinfo(sync).get('flags')).toBe('02000000');
      const info = s.backend.syncFileInfo(sync);
      expect(info.status).toBe(1);
      expect(info.name).toBe('stub-stub0-0');
      expect(info.fences).toHaveLength(1);
      expect(info.fences[0]).toMatchObject({ driverName: 'stub', objName: 'stub', status: 1, flags: 0 });
      expect(s.backend.poll(sync, uapi.POLLIN | uapi.POLLOUT)).toBe(uapi.POLLIN);
    }
  });

  it('gives a sync_file no lseek or mmap', () => {
    const sync = s.fd(s.backend.dmaBufExportSyncFile(s.heapBuffer(PAGE), READ));
    expectErrno(() => s.backend.lseek(sync, 0n, uapi.SEEK_SET), 'ESPIPE', 'lseek');
    expectErrno(() => s.backend.mmap(sync, PAGE, uapi.PROT_READ, uapi.MAP_SHARED, 0n), 'ENODEV', 'mmap');
  });

  it('imports sync_files only, with a direction', () => {
    const buf = s.heapBuffer(PAGE);
    const sync = s.fd(s.backend.dmaBufExportSyncFile(buf, RW));
    const syscall = 'DMA_BUF_IOCTL_IMPORT_SYNC_FILE';
    expectErrno(() => s.backend.dmaBufImportSyncFile(buf, 0, sync), 'EINVAL', syscall);
    expectErrno(() => s.backend.dmaBufImportSyncFile(buf, RW | END, sync), 'EINVAL', syscall);
    expectErrno(() => s.backend.dmaBufImportSyncFile(buf, RW, CLOSED_FD), 'EINVAL', syscall);
    expectErrno(() => s.backend.dmaBufImportSyncFile(buf, RW, buf), 'EINVAL', syscall);
    s.backend.dmaBufImportSyncFile(buf, WRITE, sync);
    s.backend.dmaBufImportSyncFile(buf, READ, sync);
    expect(s.backend.poll(buf, uapi.POLLIN | uapi.POLLOUT)).toBe(uapi.POLLIN | uapi.POLLOUT);
  });

  it('answers ENOTTY to the sync_file ioctls', () => {
    const buf = s.heapBuffer(PAGE);
    expectErrno(() => s.backend.syncFileInfo(buf), 'ENOTTY', 'SYNC_IOC_FILE_INFO');
    expectErrno(() => s.backend.syncFileMerge(buf, buf, 'x'), 'ENOTTY', 'SYNC_IOC_MERGE');
  });
});
