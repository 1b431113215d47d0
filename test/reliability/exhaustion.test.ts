// Exhaustion: out of fds under a low `ulimit -n`, out of lockable memory,
// and 8 worker threads at once. Each runs in a child process of its own, so
// the limits it sets and the threads it starts touch nothing else.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect } from 'vitest';
import { loadNative } from '../../src/native';
import { DEVICES, describeEachBackend, itWith } from '../support/backends';
import { inKernelVm, itNeeds } from '../support/skip';

// npm run test:soak runs the full counts; npm test a tenth of them.
const SOAK = process.env.DMABRIDGE_SOAK === '1';
// Worker threads start slowly in the guest (1 000 ops each took 109 s there): a tenth again.
const OPS = SOAK ? 10_000 : inKernelVm ? 100 : 1_000;

// Asynchronously: a child that takes a minute in the guest must not block the test worker.
const run = async (command: string, args: string[], timeout: number) => {
  const { stdout } = await promisify(execFile)(command, args, { encoding: 'utf8', timeout });
  return JSON.parse(stdout.trim().split('\n').pop()!);
};
// Node starts slowly in the guest: each child gets minutes there.
const LIMIT_MS = inKernelVm ? 300_000 : 60_000;

// The emulator has no RLIMIT_NOFILE: this is the kernel's limit, checked natively.
describe('EMFILE under ulimit -n 64 [native]', () => {
  const native = loadNative();
  const itNative = itNeeds(native.backend ? null : `the native backend is unavailable: ${native.error}`);
  itNative('fails with EMFILE and its advice, a udmabuf short of one fd leaves nothing, and closing gives every fd back', async () => {
    const out = await run('bash', ['-c', 'ulimit -n 64 && exec "$0" test/fixtures/emfile.js', process.execPath], LIMIT_MS);
    expect(out).toMatchObject({ code: 'EMFILE', syscall: 'memfd_create', advice: true, unrelatedAtLimit: 'EMFILE', left: 0 });
    expect(out.made).toBeGreaterThan(30);
    // Where udmabuf exists: its memfd took the last fd, opening /dev/udmabuf failed, and the memfd was closed.
    if (existsSync(DEVICES.udmabuf) || inKernelVm) expect(out).toMatchObject({ udmabuf: 'EMFILE', udmabufLeft: 0 });
  }, LIMIT_MS);
});

describeEachBackend('exhaustion recovers', (b) => {
  itWith(b, DEVICES.rxe)('memlock: registering past RLIMIT_MEMLOCK fails with ENOMEM, and closing the MRs gives the budget back', async () => {
    // Root ignores RLIMIT_MEMLOCK (CAP_IPC_LOCK): natively the child runs without it.
    const script = ['test/fixtures/memlock-recovers.js', b.name];
    const out = b.name === 'native'
      ? await run('setpriv', ['--bounding-set', '-ipc_lock', '--inh-caps', '-ipc_lock', '--', process.execPath, ...script], LIMIT_MS)
      : await run(process.execPath, script, LIMIT_MS);
    expect(out.firstCode).toBe('ENOMEM');
    expect(out.first).toBeGreaterThan(0);
    expect(out.first).toBeLessThan(16);
    expect(out).toMatchObject({ again: out.first, againCode: 'ENOMEM' });
  }, LIMIT_MS);

  itWith(b, DEVICES.udmabuf)(`8 worker threads x ${OPS} mixed operations, each on its own open(): no cross-talk, no fd left`, async () => {
    const out = await run(process.execPath, ['test/fixtures/worker-ops.js', b.name, String(OPS)], LIMIT_MS * 2);
    expect(out.results).toHaveLength(8);
    for (const r of out.results) expect(r).toMatchObject({ done: OPS, mismatches: 0, fdsLeft: 0 });
    expect(out.procFdsLeft).toEqual([]);
  }, LIMIT_MS * 2);
});
