// /dev/udmabuf: the kernel selftest's cases and the checks around them.
import { expect } from 'vitest';
import type { UdmabufItem } from '../../seam/backend';
import * as uapi from '../../seam/uapi';
import { describeEachBackend, DEVICES, itWith } from '../support/backends';
import { CLOSED_FD, expectErrno, PAGE, Session } from '../support/seam-session';

const MiB = 1n << 20n;

describeEachBackend('udmabuf', (b) => {
  const s = new Session(b);
  const it = itWith(b, DEVICES.udmabuf);
  const item = (memfd: number, offset: number | bigint, size: number | bigint): UdmabufItem =>
    ({ memfd, offset: BigInt(offset), size: BigInt(size) });

  it('refuses a half-page offset or size (selftest 1, 2)', () => {
    const dev = s.udmabufDevice();
    const memfd = s.memfd(4);
    expectErrno(() => s.backend.udmabufCreate(dev, item(memfd, PAGE / 2, PAGE), 0), 'EINVAL', 'UDMABUF_CREATE');
    expectErrno(() => s.backend.udmabufCreate(dev, item(memfd, 0, PAGE / 2), 0), 'EINVAL', 'UDMABUF_CREATE');
  });

  it('answers EBADFD, not EBADF, for an fd that is no memfd (selftest 3)', () => {
    const dev = s.udmabufDevice();
    expectErrno(() => s.backend.udmabufCreate(dev, item(dev, 0, PAGE), 0), 'EBADFD', 'UDMABUF_CREATE');
    expectErrno(() => s.backend.udmabufCreate(dev, item(CLOSED_FD, 0, PAGE), 0), 'EBADFD', 'UDMABUF_CREATE');
    expectErrno(() => s.backend.udmabufCreate(dev, item(-1, 0, PAGE), 0), 'EBADFD', 'UDMABUF_CREATE');
  });

  it('checks sizes against the 64 MiB limit before it looks at any fd', () => {
    const dev = s.udmabufDevice();
    expectErrno(() => s.backend.udmabufCreate(dev, item(-1, 0, 64n * MiB + BigInt(PAGE)), 0), 'EINVAL', 'UDMABUF_CREATE');
    // 64 MiB itself is allowed, so the fd decides.
    expectErrno(() => s.backend.udmabufCreate(dev, item(-1, 0, 64n * MiB), 0), 'EBADFD', 'UDMABUF_CREATE');
    const halves = [item(-1, 0, 32n * MiB), item(-1, 0, 32n * MiB + BigInt(PAGE))];
    expectErrno(() => s.backend.udmabufCreateList(dev, halves, 0), 'EINVAL', 'UDMABUF_CREATE_LIST');
    expectErrno(() => s.backend.udmabufCreate(dev, item(-1, 0, 0), 0), 'EINVAL', 'UDMABUF_CREATE');
  });

  it('refuses an empty list and one over the 1024-item limit', () => {
    const dev = s.udmabufDevice();
    expectErrno(() => s.backend.udmabufCreateList(dev, [], 0), 'EINVAL', 'UDMABUF_CREATE_LIST');
    const memfd = s.memfd(1);
    const many = Array.from({ length: 1025 }, () => item(memfd, 0, PAGE));
    expectErrno(() => s.backend.udmabufCreateList(dev, many, 0), 'EINVAL', 'UDMABUF_CREATE_LIST');
  });

  it('wants F_SEAL_SHRINK and refuses F_SEAL_WRITE and F_SEAL_FUTURE_WRITE', () => {
    const dev = s.udmabufDevice();
    const create = (memfd: number) => () => s.backend.udmabufCreate(dev, item(memfd, 0, PAGE), 0);
    expectErrno(create(s.memfd(1, 0)), 'EINVAL', 'UDMABUF_CREATE');
    const unsealable = s.fd(s.backend.memfdCreate('dmabridge', 0));
    s.backend.ftruncate(unsealable, BigInt(PAGE));
    expectErrno(create(unsealable), 'EINVAL', 'UDMABUF_CREATE');
    expectErrno(create(s.memfd(1, uapi.F_SEAL_SHRINK | uapi.F_SEAL_WRITE)), 'EINVAL', 'UDMABUF_CREATE');
    // FUTURE_WRITE is refused since a fix backported to 6.12.y; 6.12.0 allowed it.
    expectErrno(create(s.memfd(1, uapi.F_SEAL_SHRINK | uapi.F_SEAL_FUTURE_WRITE)), 'EINVAL', 'UDMABUF_CREATE');
    s.fd(create(s.memfd(1, uapi.F_SEAL_SHRINK | uapi.F_SEAL_GROW | uapi.F_SEAL_SEAL))());
  });

  // memfd_pin_folios pins no folio past EOF and udmabuf answers EINVAL for 0 folios; seen on 6.12.107.
  it('refuses a range past the end of the memfd', () => {
    const dev = s.udmabufDevice();
    const memfd = s.memfd(4);
    expectErrno(() => s.backend.udmabufCreate(dev, item(memfd, 2 * PAGE, 3 * PAGE), 0), 'EINVAL', 'UDMABUF_CREATE');
    expectErrno(() => s.backend.udmabufCreateList(dev, [item(memfd, 0, PAGE), item(memfd, 0, 0)], 0), 'EINVAL', 'UDMABUF_CREATE_LIST');
  });

  it('makes a 4-page dma-buf from a sealed memfd (selftest 4)', () => {
    const dev = s.udmabufDevice();
    const buf = s.fd(s.backend.udmabufCreate(dev, item(s.memfd(4), 0, 4 * PAGE), 0));
    expect(s.size(buf)).toBe(BigInt(4 * PAGE));
    expect(s.backend.readlinkFd(buf)).toBe('/dmabuf:');
    const info = s.fdinfo(buf);
    expect(info.get('flags')).toBe('02');
    expect(info.get('size')).toBe(String(4 * PAGE));
    expect(info.get('count')).toBe('1');
    expect(info.get('exp_name')).toBe('udmabuf');
    expect(info.has('name')).toBe(false);
    const cloexec = s.fd(s.backend.udmabufCreate(dev, item(s.memfd(1), 0, PAGE), uapi.UDMABUF_FLAGS_CLOEXEC));
    expect(s.fdinfo(cloexec).get('flags')).toBe('02000002');
  });

  it('aliases the memfd pages live, both ways', () => {
    const dev = s.udmabufDevice();
    const memfd = s.memfd(4);
    const buf = s.fd(s.backend.udmabufCreate(dev, item(memfd, PAGE, 2 * PAGE), 0));
    const file = s.map(memfd, 4 * PAGE);
    const dma = s.map(buf, 2 * PAGE);
    file[PAGE + 7] = 0xa5;
    expect(dma[7]).toBe(0xa5);
    dma[PAGE] = 0x3c;
    expect(file[2 * PAGE]).toBe(0x3c);
  });

  it('keeps the pages after the memfd is closed', () => {
    const dev = s.udmabufDevice();
    const memfd = s.memfd(1);
    const file = s.map(memfd, PAGE);
    file[0] = 0x42;
    s.unmap(file);
    const buf = s.fd(s.backend.udmabufCreate(dev, item(memfd, 0, PAGE), 0));
    s.close(memfd);
    expect(s.map(buf, PAGE, uapi.PROT_READ)[0]).toBe(0x42);
  });

  it('gathers a list of ranges of a 1024-page memfd, rewritten through the memfd (selftest 5)', () => {
    const dev = s.udmabufDevice();
    const memfd = s.memfd(1024);
    const items = [0, 256, 512, 768].map((page) => item(memfd, page * PAGE, 4 * PAGE));
    const buf = s.fd(s.backend.udmabufCreateList(dev, items, uapi.UDMABUF_FLAGS_CLOEXEC));
    expect(s.size(buf)).toBe(BigInt(16 * PAGE));
    const file = s.map(memfd, 1024 * PAGE);
    const dma = s.map(buf, 16 * PAGE);
    for (let i = 0; i < 4; i++) file[(i * 256 + 1) * PAGE + 3] = 0x10 + i;
    // The kernel aliases these pages live; the emulator copies them at SYNC (see emulator/udmabuf.ts).
    s.backend.dmaBufSync(buf, uapi.DMA_BUF_SYNC_START | uapi.DMA_BUF_SYNC_RW);
    for (let i = 0; i < 4; i++) expect(dma[(i * 4 + 1) * PAGE + 3]).toBe(0x10 + i);
    dma[12 * PAGE] = 0x99;
    s.backend.dmaBufSync(buf, uapi.DMA_BUF_SYNC_END | uapi.DMA_BUF_SYNC_RW);
    expect(file[768 * PAGE]).toBe(0x99);
  });

  it('refuses MAP_PRIVATE and a mapping past its size', () => {
    const dev = s.udmabufDevice();
    const buf = s.fd(s.backend.udmabufCreate(dev, item(s.memfd(2), 0, 2 * PAGE), 0));
    expectErrno(() => s.backend.mmap(buf, PAGE, uapi.PROT_READ, uapi.MAP_PRIVATE, 0n), 'EINVAL', 'mmap');
    expectErrno(() => s.backend.mmap(buf, 2 * PAGE, uapi.PROT_READ, uapi.MAP_SHARED, BigInt(PAGE)), 'EINVAL', 'mmap');
    s.map(buf, PAGE, uapi.PROT_READ, uapi.MAP_SHARED, BigInt(PAGE));
  });

  it('answers SYNC END before any SYNC START with EINVAL', () => {
    const dev = s.udmabufDevice();
    const buf = s.fd(s.backend.udmabufCreate(dev, item(s.memfd(1), 0, PAGE), 0));
    expectErrno(() => s.backend.dmaBufSync(buf, uapi.DMA_BUF_SYNC_END | uapi.DMA_BUF_SYNC_READ), 'EINVAL', 'DMA_BUF_IOCTL_SYNC');
    s.backend.dmaBufSync(buf, uapi.DMA_BUF_SYNC_START | uapi.DMA_BUF_SYNC_READ);
    s.backend.dmaBufSync(buf, uapi.DMA_BUF_SYNC_END | uapi.DMA_BUF_SYNC_READ);
    s.backend.dmaBufSync(buf, uapi.DMA_BUF_SYNC_END | uapi.DMA_BUF_SYNC_WRITE);
  });

  // memfd_wait_for_pins gives up on pages a udmabuf pins (read from the code; seen on 6.12.107).
  it('keeps a pinned memfd from F_SEAL_WRITE', () => {
    const dev = s.udmabufDevice();
    const memfd = s.memfd(1);
    const buf = s.fd(s.backend.udmabufCreate(dev, item(memfd, 0, PAGE), 0));
    expectErrno(() => s.backend.addSeals(memfd, uapi.F_SEAL_WRITE), 'EBUSY', 'fcntl');
    s.close(buf);
    s.backend.addSeals(memfd, uapi.F_SEAL_WRITE);
  });

  it('gives /dev/udmabuf itself no lseek, mmap or poll', () => {
    const dev = s.udmabufDevice();
    expect(s.backend.readlinkFd(dev)).toBe('/dev/udmabuf');
    expectErrno(() => s.backend.readdir('/dev/udmabuf'), 'ENOTDIR', 'scandir');
    expectErrno(() => s.backend.lseek(dev, 0n, uapi.SEEK_SET), 'ESPIPE', 'lseek');
    expectErrno(() => s.backend.mmap(dev, PAGE, uapi.PROT_READ, uapi.MAP_SHARED, 0n), 'ENODEV', 'mmap');
    expect(s.backend.poll(dev, uapi.POLLIN | uapi.POLLOUT)).toBe(uapi.POLLIN | uapi.POLLOUT);
    expectErrno(() => s.backend.watch(dev, uapi.POLLIN, () => {}), 'EPERM', 'uv_poll_start');
  });

  it('answers ENOTTY to UDMABUF_CREATE on anything but /dev/udmabuf', () => {
    const memfd = s.memfd(1);
    expectErrno(() => s.backend.udmabufCreate(memfd, item(memfd, 0, PAGE), 0), 'ENOTTY', 'UDMABUF_CREATE');
  });
});
