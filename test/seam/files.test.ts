// Files, fds and memfds: what every other test stands on.
import { expect, it } from 'vitest';
import * as uapi from '../../seam/uapi';
import { describeEachBackend } from '../support/backends';
import { CLOSED_FD, PAGE, Session } from '../support/seam-session';
import { expectErrno } from '../support/errno';

describeEachBackend('files', (b) => {
  const s = new Session(b);

  it('answers ENOENT for a path that does not exist, in open and in readdir', () => {
    expectErrno(() => s.backend.open('/dev/dmabridge-no-such-device', uapi.O_RDWR), 'ENOENT', 'open');
    expectErrno(() => s.backend.readdir('/dev/dmabridge-no-such-dir'), 'ENOENT', 'scandir');
  });

  it('answers EBADF for an fd that is not open, ENOENT for its /proc entries, POLLNVAL from poll', () => {
    const { backend } = s;
    expectErrno(() => backend.close(CLOSED_FD), 'EBADF', 'close');
    expectErrno(() => backend.dup(CLOSED_FD), 'EBADF', 'fcntl');
    expectErrno(() => backend.lseek(CLOSED_FD, 0n, uapi.SEEK_SET), 'EBADF', 'lseek');
    expectErrno(() => backend.mmap(CLOSED_FD, PAGE, uapi.PROT_READ, uapi.MAP_SHARED, 0n), 'EBADF', 'mmap');
    // /proc/self/fdinfo/<fd> and /proc/self/fd/<fd> simply do not exist.
    expectErrno(() => backend.readFdinfo(CLOSED_FD), 'ENOENT', 'open');
    expectErrno(() => backend.readlinkFd(CLOSED_FD), 'ENOENT', 'readlink');
    expect(backend.poll(CLOSED_FD, uapi.POLLIN)).toBe(uapi.POLLNVAL);
  });

  it('names a memfd "/memfd:<name> (deleted)" and shows its flags in fdinfo', () => {
    const fd = s.fd(s.backend.memfdCreate('dmabridge-name', uapi.MFD_CLOEXEC));
    expect(s.backend.readlinkFd(fd)).toBe('/memfd:dmabridge-name (deleted)');
    const info = s.fdinfo(fd);
    expect(info.get('pos')).toBe('0');
    // O_RDWR | O_LARGEFILE, and O_CLOEXEC from the fd.
    expect(info.get('flags')).toBe('02100002');
    expect(info.has('mnt_id') && info.has('ino')).toBe(true);
  });

  it('dup shares the open file description and sets close-on-exec', () => {
    const fd = s.fd(s.backend.memfdCreate('dmabridge-dup', 0));
    s.backend.ftruncate(fd, BigInt(PAGE));
    const copy = s.fd(s.backend.dup(fd));
    expect(copy).not.toBe(fd);
    expect(s.fdinfo(fd).get('flags')).toBe('0100002');
    expect(s.fdinfo(copy).get('flags')).toBe('02100002');
    expect(s.backend.lseek(fd, 100n, uapi.SEEK_SET)).toBe(100n);
    expect(s.fdinfo(copy).get('pos')).toBe('100');
    expect(s.fdinfo(copy).get('ino')).toBe(s.fdinfo(fd).get('ino'));
  });

  it('seeks a memfd from start, current position and end, and refuses a negative position', () => {
    const fd = s.fd(s.backend.memfdCreate('dmabridge-seek', 0));
    s.backend.ftruncate(fd, 10_000n);
    expect(s.backend.lseek(fd, 0n, uapi.SEEK_END)).toBe(10_000n);
    expect(s.backend.lseek(fd, -1n, uapi.SEEK_CUR)).toBe(9_999n);
    expect(s.backend.lseek(fd, 5n, uapi.SEEK_SET)).toBe(5n);
    expectErrno(() => s.backend.lseek(fd, -6n, uapi.SEEK_CUR), 'EINVAL', 'lseek');
  });

  it('limits memfd names to 249 bytes and refuses unknown flags', () => {
    s.fd(s.backend.memfdCreate('m'.repeat(249), 0));
    expectErrno(() => s.backend.memfdCreate('m'.repeat(250), 0), 'EINVAL', 'memfd_create');
    expectErrno(() => s.backend.memfdCreate('dmabridge', 0x1000), 'EINVAL', 'memfd_create');
  });

  it('seals only with MFD_ALLOW_SEALING, and enforces SHRINK, GROW and SEAL', () => {
    const { backend } = s;
    const unsealable = s.fd(backend.memfdCreate('dmabridge', 0));
    expect(backend.getSeals(unsealable)).toBe(uapi.F_SEAL_SEAL);
    expectErrno(() => backend.addSeals(unsealable, uapi.F_SEAL_SHRINK), 'EPERM', 'fcntl');

    const fd = s.fd(backend.memfdCreate('dmabridge', uapi.MFD_ALLOW_SEALING));
    expect(backend.getSeals(fd)).toBe(0);
    backend.ftruncate(fd, BigInt(2 * PAGE));
    backend.addSeals(fd, uapi.F_SEAL_SHRINK);
    expectErrno(() => backend.ftruncate(fd, BigInt(PAGE)), 'EPERM', 'ftruncate');
    backend.ftruncate(fd, BigInt(3 * PAGE));
    backend.addSeals(fd, uapi.F_SEAL_GROW | uapi.F_SEAL_SEAL);
    expect(backend.getSeals(fd)).toBe(uapi.F_SEAL_SHRINK | uapi.F_SEAL_GROW | uapi.F_SEAL_SEAL);
    expectErrno(() => backend.ftruncate(fd, BigInt(4 * PAGE)), 'EPERM', 'ftruncate');
    expectErrno(() => backend.addSeals(fd, uapi.F_SEAL_WRITE), 'EPERM', 'fcntl');
    expectErrno(() => backend.addSeals(fd, 0x1000), 'EINVAL', 'fcntl');
    expect(s.size(fd)).toBe(BigInt(3 * PAGE));
  });

  it('opens a directory read-only only, and seeks it forward only', () => {
    expectErrno(() => s.backend.open('/dev', uapi.O_RDWR), 'EISDIR', 'open');
    const dir = s.fd(s.backend.open('/dev', uapi.O_RDONLY | uapi.O_CLOEXEC));
    expect(s.backend.lseek(dir, 0n, uapi.SEEK_SET)).toBe(0n);
    expectErrno(() => s.backend.lseek(dir, -1n, uapi.SEEK_CUR), 'EINVAL', 'lseek');
    expectErrno(() => s.backend.lseek(dir, 0n, uapi.SEEK_END), 'EINVAL', 'lseek');
    expect(s.backend.readlinkFd(dir)).toBe('/dev');
  });

  it('seals against exec: MFD_NOEXEC_SEAL starts with F_SEAL_EXEC, and F_SEAL_EXEC on an executable memfd adds the write seals', () => {
    const MFD_NOEXEC_SEAL = 0x8;
    const F_SEAL_EXEC = 0x20;
    const noexec = s.fd(s.backend.memfdCreate('dmabridge', MFD_NOEXEC_SEAL));
    expect(s.backend.getSeals(noexec)).toBe(F_SEAL_EXEC);
    const exec = s.fd(s.backend.memfdCreate('dmabridge', uapi.MFD_ALLOW_SEALING));
    s.backend.addSeals(exec, F_SEAL_EXEC);
    expect(s.backend.getSeals(exec)).toBe(F_SEAL_EXEC | uapi.F_SEAL_SHRINK | uapi.F_SEAL_GROW | uapi.F_SEAL_WRITE | uapi.F_SEAL_FUTURE_WRITE);
    expectErrno(() => s.backend.memfdCreate('dmabridge', MFD_NOEXEC_SEAL | 0x10), 'EINVAL', 'memfd_create');
  });

  it('refuses a negative length before looking at the fd, and ftruncate of a non-regular file', () => {
    expectErrno(() => s.backend.ftruncate(CLOSED_FD, -1n), 'EINVAL', 'ftruncate');
    expectErrno(() => s.backend.ftruncate(CLOSED_FD, 0n), 'EBADF', 'ftruncate');
    const dir = s.fd(s.backend.open('/dev', uapi.O_RDONLY | uapi.O_CLOEXEC));
    expectErrno(() => s.backend.ftruncate(dir, 0n), 'EINVAL', 'ftruncate');
    expectErrno(() => s.backend.getSeals(dir), 'EINVAL', 'fcntl');
  });

  it('maps a memfd shared (one memory) and private (a copy)', () => {
    const fd = s.memfd(2, 0);
    const a = s.map(fd, 2 * PAGE);
    const b2 = s.map(fd, PAGE, uapi.PROT_READ | uapi.PROT_WRITE, uapi.MAP_SHARED, BigInt(PAGE));
    a[PAGE + 1] = 0x5a;
    expect(b2[1]).toBe(0x5a);
    const priv = s.map(fd, PAGE, uapi.PROT_READ | uapi.PROT_WRITE, uapi.MAP_PRIVATE);
    priv[0] = 0x77;
    expect(a[0]).toBe(0);
  });

  it('madvise(MADV_DONTNEED) keeps a shared mapping\'s bytes and gives a private one the file\'s again', () => {
    const fd = s.memfd(2, 0);
    const rw = uapi.PROT_READ | uapi.PROT_WRITE;
    const file = s.map(fd, 2 * PAGE);
    file.fill(0x11);
    const priv = s.map(fd, 2 * PAGE, rw, uapi.MAP_PRIVATE);
    priv.fill(0x77);
    s.backend.madvise(file, uapi.MADV_DONTNEED);
    expect(file.every((x) => x === 0x11)).toBe(true);
    // The length rounds up to the page: one byte drops the whole first page.
    s.backend.madvise(priv.subarray(0, 1), uapi.MADV_DONTNEED);
    expect([priv[0], priv[PAGE - 1], priv[PAGE]]).toEqual([0x11, 0x11, 0x77]);
  });

  it('madvise takes MADV_DONTNEED only, from a page boundary inside a mapping mmap made', () => {
    const fd = s.memfd(1, 0);
    const view = s.map(fd, PAGE);
    expect(() => s.backend.madvise(view, 9)).toThrow(TypeError);
    expect(() => s.backend.madvise(new Uint8Array(PAGE), uapi.MADV_DONTNEED)).toThrow(TypeError);
    expectErrno(() => s.backend.madvise(view.subarray(1), uapi.MADV_DONTNEED), 'EINVAL', 'madvise');
    s.unmap(view);
    expect(() => s.backend.madvise(view, uapi.MADV_DONTNEED)).toThrow(TypeError);
  });

  it('checks mmap arguments in the kernel order', () => {
    const fd = s.memfd(1, 0);
    const rw = uapi.PROT_READ | uapi.PROT_WRITE;
    expectErrno(() => s.backend.mmap(CLOSED_FD, PAGE, rw, uapi.MAP_SHARED, 1n), 'EINVAL', 'mmap');
    expectErrno(() => s.backend.mmap(fd, 0, rw, uapi.MAP_SHARED, 0n), 'EINVAL', 'mmap');
    expectErrno(() => s.backend.mmap(fd, PAGE, rw, 0, 0n), 'EINVAL', 'mmap');
    const dev = s.fd(s.backend.open('/dev', uapi.O_RDONLY | uapi.O_CLOEXEC));
    expectErrno(() => s.backend.mmap(dev, PAGE, uapi.PROT_READ, uapi.MAP_SHARED, 0n), 'ENODEV', 'mmap');
  });

  it('keeps write-sealed memfds from writable shared mappings, and sealing from live ones', () => {
    const rw = uapi.PROT_READ | uapi.PROT_WRITE;
    const busy = s.memfd(1, 0);
    const view = s.map(busy, PAGE, rw);
    expectErrno(() => s.backend.addSeals(busy, uapi.F_SEAL_WRITE), 'EBUSY', 'fcntl');
    s.unmap(view);
    s.backend.addSeals(busy, uapi.F_SEAL_WRITE);
    expectErrno(() => s.backend.mmap(busy, PAGE, rw, uapi.MAP_SHARED, 0n), 'EPERM', 'mmap');
    s.map(busy, PAGE, uapi.PROT_READ);

    const future = s.memfd(1, uapi.F_SEAL_FUTURE_WRITE);
    expectErrno(() => s.backend.mmap(future, PAGE, rw, uapi.MAP_SHARED, 0n), 'EPERM', 'mmap');
  });

  it('answers ENOTTY to another driver\'s ioctl', () => {
    const fd = s.memfd(1, 0);
    expectErrno(() => s.backend.dmaBufSync(fd, uapi.DMA_BUF_SYNC_READ), 'ENOTTY', 'DMA_BUF_IOCTL_SYNC');
    expectErrno(() => s.backend.syncFileInfo(fd), 'ENOTTY', 'SYNC_IOC_FILE_INFO');
    expectErrno(() => s.backend.drmVersion(fd), 'ENOTTY', 'DRM_IOCTL_VERSION');
  });

  it('polls a file without a poll operation as ready both ways, and will not watch it', () => {
    const fd = s.memfd(1, 0);
    expect(s.backend.poll(fd, uapi.POLLIN | uapi.POLLOUT)).toBe(uapi.POLLIN | uapi.POLLOUT);
    // epoll refuses regular files, so libuv's uv_poll_init does.
    expectErrno(() => s.backend.watch(fd, uapi.POLLIN, () => {}), 'EPERM', 'uv_poll_init');
    expectErrno(() => s.backend.watch(CLOSED_FD, uapi.POLLIN, () => {}), 'EBADF', 'uv_poll_init');
  });
});
