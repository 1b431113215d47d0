// examples/hmm-mirror.js, seed 002's mirroring story, run as a user runs it:
// on the emulator (an emulated 7.3 machine) and on the kernel where rxe is.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import { DEVICES, describeEachBackend, itWith } from '../support/backends';
import { inKernelVm } from '../support/skip';

// Node starts slowly in the guest.
const LIMIT_MS = inKernelVm ? 120_000 : 30_000;

describeEachBackend('the HMM example (examples/hmm-mirror.ts)', (b) => {
  itWith(b, DEVICES.rxe)('prints each step of on-demand mirroring: faults on first touch, invalidation on discard, nothing pinned', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['dist/examples/hmm-mirror.js', '--backend', b.name], { encoding: 'utf8', timeout: LIMIT_MS });
    const step = (n: number) => stdout.split('\n').find((l) => l.startsWith(`${n}. `)) ?? '';
    // The emulator imitates 7.3 here; the kernel answers for itself.
    const pagesOnDemand = b.name === 'emulator' || b.behaviour.rxeOnDemandPaging;
    expect(step(1)).toMatch(/never touched: .*; 0 bytes pinned$/);
    if (!pagesOnDemand) {
      expect(step(2)).toMatch(/refused: ibv_reg_mr failed with EOPNOTSUPP.*rxe has it on Linux 7\.3/);
      return;
    }
    // What shows where the pages are: the device's mirror on the emulator, the file's pages on the kernel.
    const where = b.name === 'emulator'
      ? ['no mirror yet', '0 of 4 pages (0 faulted in', '4 of 4 pages (4 faulted in, 0 invalidated)', '3 of 4 pages (4 faulted in, 1 invalidated)', '4 of 4 pages (5 faulted in, 1 invalidated)']
      : ['0 of 4 pages in the file', '0 of 4 pages in the file', '4 of 4 pages in the file', '4 of 4 pages in the file', '4 of 4 pages in the file'];
    expect(step(1)).toContain(where[0]);
    expect(step(2)).toMatch(/registered them on demand: 0 bytes pinned/);
    expect(step(2)).toContain(where[1]);
    expect(step(3)).toContain('success, success, success, success; the CPU reads 0x21 0x22 0x23 0x24');
    expect(step(3)).toContain(where[2]);
    expect(step(4)).toContain(where[3]);
    expect(step(5)).toContain('RDMA-read page 2: success, 0x23 again');
    expect(step(5)).toContain(where[4]);
    expect(step(6)).toContain('(closed: true); an RDMA write with its old key: remote-access-error');
    expect(step(7)).toBe('7. closed the source: 0 bytes pinned');
  }, LIMIT_MS);
});
