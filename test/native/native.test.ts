// The addon's own checks on any Linux kernel: files, memfds, mappings,
// readiness and the error shape. Device ioctls are tested on both backends in
// test/seam and test/api, natively inside the real-kernel VM.
import { execFileSync } from 'node:child_process';
import { constants } from 'node:buffer';
import { closeSync, mkdtempSync, openSync, readFileSync, readlinkSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import type { Backend } from '../../seam/backend';
import { loadNative } from '../../src/native';
import * as U from '../../seam/uapi';
import { expectErrno } from '../support/errno';
import { describeNeeds } from '../support/skip';

const native = loadNative();


describeNeeds(native.error ?? null)('native addon', () => {
  const b = native.backend as Backend;
  const opened: number[] = [];
  const track = (fd: number) => (opened.push(fd), fd);
  let dir: string | undefined;
  afterEach(() => {
    for (const fd of opened.splice(0)) b.close(fd);
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  function sealedMemfd(size: bigint): number {
    const fd = track(b.memfdCreate('dmabridge-test', U.MFD_CLOEXEC | U.MFD_ALLOW_SEALING));
    b.ftruncate(fd, size);
    b.addSeals(fd, U.F_SEAL_SHRINK);
    return fd;
  }

  it('is the native backend with every method', () => {
    expect(b.name).toBe('native');
    expect(loadNative()).toBe(native);
  });

  it('throws the system-error shape', () => {
    expectErrno(() => b.close(-1), 'EBADF', 'close');
    expectErrno(() => b.dup(-1), 'EBADF', 'fcntl');
    expectErrno(() => b.open('/nonexistent/dmabridge', U.O_RDONLY), 'ENOENT', 'open');
    expectErrno(() => b.readdir('/nonexistent/dmabridge'), 'ENOENT', 'scandir');
    expectErrno(() => b.readFdinfo(-1), 'ENOENT', 'open');
    expectErrno(() => b.readlinkFd(-1), 'ENOENT', 'readlink');
    expectErrno(() => b.lseek(-1, 0n, U.SEEK_SET), 'EBADF', 'lseek');
    expectErrno(() => b.dmaBufSync(-1, U.DMA_BUF_SYNC_READ), 'EBADF', 'DMA_BUF_IOCTL_SYNC');
    expectErrno(() => b.syncFileInfo(-1), 'EBADF', 'SYNC_IOC_FILE_INFO');
    expectErrno(() => b.drmVersion(-1), 'EBADF', 'DRM_IOCTL_VERSION');
  });

  it('answers ENOTTY for a dma-buf ioctl on a memfd', () => {
    const fd = sealedMemfd(4096n);
    expectErrno(() => b.dmaBufSync(fd, U.DMA_BUF_SYNC_READ), 'ENOTTY', 'DMA_BUF_IOCTL_SYNC');
    expectErrno(() => b.dmaBufSetName(fd, 'x'), 'ENOTTY', 'DMA_BUF_SET_NAME');
    expectErrno(() => b.syncFileMerge(fd, fd, 'x'), 'ENOTTY', 'SYNC_IOC_MERGE');
    expectErrno(() => b.udmabufCreate(fd, { memfd: fd, offset: 0n, size: 4096n }, 0), 'ENOTTY', 'UDMABUF_CREATE');
    expectErrno(() => b.dmaHeapAlloc(fd, 4096n, U.O_RDWR, 0n), 'ENOTTY', 'DMA_HEAP_IOCTL_ALLOC');
  });

  it('rejects arguments of the wrong type with a TypeError', () => {
    const calls: Array<() => unknown> = [
      () => (b.close as (fd: unknown) => void)('3'),
      () => b.close(1.5),
      () => b.close(2 ** 31),
      () => (b.lseek as (...a: unknown[]) => bigint)(0, 0, 0),
      () => b.ftruncate(0, -1n << 64n),
      () => b.open('a\0b', 0),
      () => (b.watch as (...a: unknown[]) => unknown)(0, U.POLLIN, 'not a function'),
      () => (b.udmabufCreateList as (...a: unknown[]) => unknown)(0, {}, 0),
      () => (b.udmabufCreate as (...a: unknown[]) => unknown)(0, { memfd: 0, offset: 0, size: 4096n }, 0),
      () => (b.munmap as (v: unknown) => void)(new ArrayBuffer(8)),
      () => b.munmap(new Uint8Array(8)),
      () => b.mmap(0, 4096, U.PROT_READ, U.MAP_SHARED | 0x10, 0n),
    ];
    for (const call of calls) expect(call).toThrow(TypeError);
  });

  it('creates, sizes and seals memfds', () => {
    const fd = sealedMemfd(8192n);
    expect(b.lseek(fd, 0n, U.SEEK_END)).toBe(8192n);
    expect(b.getSeals(fd) & U.F_SEAL_SHRINK).toBe(U.F_SEAL_SHRINK);
    expectErrno(() => b.ftruncate(fd, 4096n), 'EPERM', 'ftruncate');
    b.addSeals(fd, U.F_SEAL_SEAL);
    expectErrno(() => b.addSeals(fd, U.F_SEAL_GROW), 'EPERM', 'fcntl');
    const unsealable = track(b.memfdCreate('plain', U.MFD_CLOEXEC));
    expect(b.getSeals(unsealable)).toBe(U.F_SEAL_SEAL);
  });

  it('reads fdinfo, fd links and the fd table', () => {
    const fd = sealedMemfd(4096n);
    const flags = (text: string) => parseInt(/^flags:\s+([0-7]+)$/m.exec(text)![1], 8);
    expect(b.readFdinfo(fd)).toMatch(/^pos:\s+0\n/);
    expect(flags(b.readFdinfo(fd)) & (U.O_ACCMODE | U.O_CLOEXEC)).toBe(U.O_RDWR | U.O_CLOEXEC);
    expect(b.readlinkFd(fd)).toBe('/memfd:dmabridge-test (deleted)');
    const copy = track(b.dup(fd));
    expect(copy).not.toBe(fd);
    expect(flags(b.readFdinfo(copy)) & U.O_CLOEXEC).toBe(U.O_CLOEXEC);
    const fds = b.openFds();
    expect(fds).toEqual([...fds].sort((x, y) => x - y));
    expect(fds).toEqual(expect.arrayContaining([0, 1, 2, fd, copy]));
    b.close(opened.pop()!);
    expect(b.openFds()).not.toContain(copy);
    expect(b.readdir('/proc/self')).toEqual(expect.arrayContaining(['fd', 'fdinfo']));
    expect(b.readdir('/proc/self')).not.toContain('.');
  });

  it('refuses to close a number it made that was closed behind its back and now names another file', () => {
    const fd = b.memfdCreate('dmabridge-test', U.MFD_CLOEXEC);
    closeSync(fd);
    dir = mkdtempSync(join(tmpdir(), 'dmabridge-'));
    const mine = openSync(join(dir, 'mine'), 'w+');
    expect(mine).toBe(fd);
    // A finalizer of the memfd's resource would ask this, and must not close the file.
    expectErrno(() => b.close(fd), 'EBADF', 'close');
    expect(readlinkSync(`/proc/self/fd/${mine}`)).toBe(join(dir, 'mine'));
    closeSync(mine);
    // A number it never made is the caller's to close, as close(2) would.
    const theirs = openSync(join(dir, 'mine'), 'r');
    b.close(theirs);
    expect(() => closeSync(theirs)).toThrow(expect.objectContaining({ code: 'EBADF' }));
  });

  it('maps exactly the requested bytes, shared with the file', () => {
    const fd = sealedMemfd(8192n);
    const a = b.mmap(fd, 8192, U.PROT_READ | U.PROT_WRITE, U.MAP_SHARED, 0n);
    const c = b.mmap(fd, 4096, U.PROT_READ, U.MAP_SHARED, 4096n);
    expect(a).toBeInstanceOf(Uint8Array);
    expect(a.length).toBe(8192);
    expect(a.byteOffset).toBe(0);
    a[4096] = 42;
    expect(c[0]).toBe(42);
    const priv = b.mmap(fd, 4096, U.PROT_READ | U.PROT_WRITE, U.MAP_PRIVATE, 4096n);
    priv[0] = 7;
    expect(c[0]).toBe(42);
    for (const view of [a, c, priv]) b.munmap(view);
  });

  it('detaches a view on munmap and refuses it afterwards', () => {
    const fd = sealedMemfd(4096n);
    const view = b.mmap(fd, 4096, U.PROT_READ | U.PROT_WRITE, U.MAP_SHARED, 0n);
    expect(() => b.munmap(view.subarray(1))).toThrow(/subarray/);
    expect(() => b.munmap(view.subarray(0, 4095))).toThrow(TypeError);
    b.munmap(view);
    expect(view.length).toBe(0);
    expect(view.buffer.byteLength).toBe(0);
    expect(view[0]).toBeUndefined();
    expect(() => b.munmap(view)).toThrow(/already unmapped/);
  });

  it('fails cleanly past the largest Buffer, leaving nothing mapped', () => {
    const max = BigInt(constants.MAX_LENGTH);
    if (max > 1n << 40n) return;
    const fd = track(b.memfdCreate('dmabridge-huge', U.MFD_CLOEXEC));
    b.ftruncate(fd, max + 4096n);
    const mapped = () => readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.includes('dmabridge-huge')).length;
    expect(() => b.mmap(fd, Number(max) + 4096, U.PROT_READ, U.MAP_SHARED, 0n)).toThrow(/larger than/);
    expect(mapped()).toBe(0);
  });

  it('fails mmap as the kernel does', () => {
    const fd = sealedMemfd(4096n);
    expectErrno(() => b.mmap(-1, 4096, U.PROT_READ, U.MAP_SHARED, 0n), 'EBADF', 'mmap');
    expectErrno(() => b.mmap(fd, 0, U.PROT_READ, U.MAP_SHARED, 0n), 'EINVAL', 'mmap');
    expectErrno(() => b.mmap(fd, 4096, U.PROT_READ, U.MAP_SHARED, 1n), 'EINVAL', 'mmap');
  });

  it('polls once', () => {
    const fd = sealedMemfd(4096n);
    expect(b.poll(fd, U.POLLIN | U.POLLOUT)).toBe(U.POLLIN | U.POLLOUT);
    expect(b.poll(-1, U.POLLIN)).toBe(0);
    expect(b.poll(99999, U.POLLIN)).toBe(U.POLLNVAL);
  });

  describe('watch', () => {
    // A FIFO opened O_RDWR: both ends in one fd, writable at once, readable
    // once written to.
    function fifo(): number {
      dir = mkdtempSync(join(tmpdir(), 'dmabridge-'));
      const path = join(dir, 'fifo');
      execFileSync('mkfifo', [path]);
      return track(b.open(path, U.O_RDWR | U.O_CLOEXEC | 0o4000));
    }
    const tick = () => new Promise((resolve) => setTimeout(resolve, 20));

    it('calls back on readiness until stopped', async () => {
      const fd = fifo();
      const seen: number[] = [];
      const w = b.watch(fd, U.POLLIN, (revents) => seen.push(revents));
      await tick();
      expect(seen).toEqual([]);
      writeSync(fd, 'x');
      await tick();
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.every((r) => r === U.POLLIN)).toBe(true);
      w.stop();
      w.stop();
      const count = seen.length;
      await tick();
      expect(seen.length).toBe(count);
    });

    it('keeps several watches on one fd apart', async () => {
      const fd = fifo();
      const reads: number[] = [];
      const writes: number[] = [];
      const r = b.watch(fd, U.POLLIN, (revents) => reads.push(revents));
      const w = b.watch(fd, U.POLLOUT, (revents) => {
        writes.push(revents);
        w.stop();
      });
      await tick();
      expect(writes).toEqual([U.POLLOUT]);
      expect(reads).toEqual([]);
      writeSync(fd, 'x');
      await tick();
      expect(reads.length).toBeGreaterThan(0);
      expect(reads.every((x) => x === U.POLLIN)).toBe(true);
      r.stop();
      const again = b.watch(fd, U.POLLIN, () => again.stop());
      await tick();
    });

    it('reports POLLERR once and ends the watch', async () => {
      dir = mkdtempSync(join(tmpdir(), 'dmabridge-'));
      const path = join(dir, 'fifo');
      execFileSync('mkfifo', [path]);
      const reader = b.open(path, U.O_RDONLY | U.O_CLOEXEC | 0o4000);
      const writer = track(b.open(path, U.O_WRONLY | U.O_CLOEXEC | 0o4000));
      b.close(reader);
      const seen: number[] = [];
      const w = b.watch(writer, U.POLLOUT, (revents) => seen.push(revents));
      await tick();
      expect(seen).toEqual([U.POLLERR]);
      w.stop();
    });

    it('fails where epoll cannot watch', () => {
      const fd = sealedMemfd(4096n);
      expectErrno(() => b.watch(fd, U.POLLIN, () => {}), 'EPERM', 'uv_poll_init');
      expectErrno(() => b.watch(-1, U.POLLIN, () => {}), 'EBADF', 'uv_poll_init');
    });
  });

  it('loads in a worker and releases what it left at exit', async () => {
    const addon = native.source!.file;
    dir = mkdtempSync(join(tmpdir(), 'dmabridge-'));
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    // The worker leaves a mapping and a watch behind, and exits with the watch
    // keeping its loop alive.
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const a = require(workerData.addon);
      const fd = a.memfdCreate('w', 1);
      a.ftruncate(fd, 4096n);
      const view = a.mmap(fd, 4096, 3, 1, 0n);
      view[0] = 5;
      const pipe = a.open(workerData.fifo, 0o2 | 0o4000 | 0o2000000);
      a.watch(pipe, 1, () => {});
      parentPort.postMessage(view[0]);
      setTimeout(() => process.exit(0), 50);
    `;
    const worker = new Worker(code, { eval: true, workerData: { addon, fifo: join(dir, 'fifo') } });
    // Listening for the exit first: one that comes before the message is read is emitted in the same turn.
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    const message = await new Promise((resolve) => worker.once('message', resolve));
    const exitCode = await exited;
    expect(message).toBe(5);
    expect(exitCode).toBe(0);
  });
});
