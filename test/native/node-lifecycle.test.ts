import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { loadNative } from '../../src/native';

// What each Node line (npm run test:node) must do alike with the addon: its
// environment teardown in a worker, its finalizers at process exit, and
// detached views. (The error shape is native.test.ts's, run on each line too.)
const native = loadNative();
const suite = native.backend ? describe : describe.skip;

function mappingsOf(name: string): number {
  return readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.includes(`/memfd:${name} `)).length;
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
    const { fd, byte } = message as { fd: number; byte: number };
    // The raw fd is process-wide and nothing in the worker owned it: it is ours to close.
    native.backend!.close(fd);
    expect(byte).toBe(9);
    expect(mappingsOf(name)).toBe(0);
  });

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
