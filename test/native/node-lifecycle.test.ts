import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { loadNative } from '../../src/native';

// What each Node line (npm run test:node) must do alike with the addon: its
// environment teardown in a worker, its finalizers at process exit, and
// detached views. (The error shape is native.test.ts's, run on each line too.)
const native = loadNative();
const suite = native.backend ? describe : describe.skip;
// Node starts slowly in the guest: its children get minutes there.
const LIMIT_MS = process.env.DMABRIDGE_KERNEL_VM === '1' ? 300_000 : 60_000;

function mappingsOf(name: string): number {
  return readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.includes(`/memfd:${name} `)).length;
}

function fdsOf(name: string): number {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith(`/memfd:${name} `);
    } catch {
      return false;
    }
  }).length;
}

suite(`the addon on Node ${process.versions.node}${native.error ? ` (skipped: ${native.error})` : ''}`, () => {
  it('a worker that loads it, maps memory and exits leaves no mapping behind', async () => {
    const name = `dmabridge-worker-${process.pid}`;
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const a = require(workerData.addon);
      const fd = a.memfdCreate(workerData.name, 1);
      a.ftruncate(fd, 1n << 20n);
      const views = [a.mmap(fd, 1 << 20, 3, 1, 0n), a.mmap(fd, 4096, 1, 1, 0n)];
      views[0][0] = 9;
      parentPort.postMessage({ fd, byte: views[1][0] });
      // Alive until the parent has looked at the mappings; then it ends by itself.
      parentPort.once('message', () => parentPort.close());
    `;
    const worker = new Worker(code, { eval: true, workerData: { addon: native.source!.file, name } });
    const message = await new Promise((resolve) => worker.once('message', resolve));
    expect(mappingsOf(name)).toBe(2);
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    worker.postMessage('checked');
    expect(await exited).toBe(0);
    expect((message as { byte: number }).byte).toBe(9);
    expect(mappingsOf(name)).toBe(0);
    // The fd is process-wide, but the worker's environment made it: it went with the worker.
    expect(fdsOf(name)).toBe(0);
  });

  it('a worker that ends without closing leaves no fd, however it ends, and neither its close nor its end touches a number the main thread reused', async () => {
    // In a process of its own, whose fds nothing else opens meanwhile.
    const { stdout } = await promisify(execFile)(process.execPath, ['test/fixtures/worker-leaves.js'], { encoding: 'utf8', timeout: LIMIT_MS });
    const out = JSON.parse(stdout.trim().split('\n').pop()!);
    // A memfd, its dup and a socket pair; a udmabuf and a heap buffer where the kernel has them.
    const made = 4 + Number(existsSync('/dev/udmabuf')) + Number(existsSync('/dev/dma_heap/system'));
    for (const mode of ['return', 'exit', 'terminate']) expect(out[mode], mode).toEqual({ made, left: [] });
    // The worker's close of its memfd (as a finalizer's would) refuses with EBADF, and its end
    // leaves the dup's number alone: the main thread's files stay open.
    expect(out.takeover).toEqual({ sameNumbers: true, closeCode: 'EBADF', stillOpen: true });
  }, LIMIT_MS);

  it('finalizers and cleanup hooks run at exit without crashing, with resources left unclosed', () => {
    const script = `
      const { open } = require(${JSON.stringify(require.resolve('../../dist/src/index.js'))});
      for (const backend of ['native', 'emulator']) {
        const dmb = open({ backend });
        const memfd = dmb.createMemfd(1 << 16);
        const map = memfd.map('rw');
        map.view.fill(1);
        globalThis['keep' + backend] = { dmb, memfd, map };
        for (let i = 0; i < 100; i++) dmb.createMemfd(4096).map('read');
      }
      globalThis.gc();
      setImmediate(() => process.exit(0));
    `;
    const r = spawnSync(process.execPath, ['--expose-gc', '-e', script], { encoding: 'utf8', env: { ...process.env, DMABRIDGE_NATIVE_PATH: native.source!.file } });
    expect(r.stderr).toBe('');
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
  });

  it('a view stays detached after munmap, even once the memory is mapped again', () => {
    const b = native.backend!;
    const fd = b.memfdCreate('detach', 1);
    try {
      b.ftruncate(fd, 4096n);
      const view = b.mmap(fd, 4096, 3, 1, 0n);
      view[0] = 1;
      b.munmap(view);
      const again = b.mmap(fd, 4096, 3, 1, 0n);
      expect(view.length).toBe(0);
      expect(view.buffer.byteLength).toBe(0);
      expect(view[0]).toBeUndefined();
      expect(again[0]).toBe(1);
      b.munmap(again);
    } finally {
      b.close(fd);
    }
  });
});
