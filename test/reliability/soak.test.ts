// Create/close cycles (reliability/soak.ts) in a child: the fd table flat,
// and, for the full run (npm run test:soak: 100 000 cycles after a 10 000
// warm-up), the JS heap after a GC growing by less than the smallest object
// (16 bytes) per cycle, and the settled RSS by at most 20 %: soak.js's `ok`.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import type { SoakReport } from '../../reliability/soak';
import { DEVICES, describeEachBackend, itWith } from '../support/backends';
import { inKernelVm } from '../support/skip';

const SOAK = process.env.DMABRIDGE_SOAK === '1';
const CYCLES = SOAK ? 100_000 : inKernelVm ? 500 : 2_000;
const LIMIT_MS = SOAK ? 600_000 : inKernelVm ? 300_000 : 60_000;

describeEachBackend('soak: create/close cycles', (b) => {
  itWith(b, DEVICES.rxe)(`${CYCLES} cycles of a udmabuf, a mapping written and unmapped, an MR registered and deregistered: fds flat${SOAK ? ', no JS object kept per cycle, RSS within 20 %' : ''}`, async () => {
    const args = ['--expose-gc', 'dist/reliability/soak.js', '--backend', b.name, '--cycles', String(CYCLES)];
    if (!SOAK) args.push('--warmup', '500');
    // Asynchronously, so a long run does not block the test worker; soak.js exits 1 past the heap or RSS bound, which only the full run judges.
    const r = await promisify(execFile)(process.execPath, args, { encoding: 'utf8', timeout: LIMIT_MS })
      .catch((e: { stdout: string; stderr: string; signal: string | null }) => e);
    expect('signal' in r ? r.signal : null, r.stderr).toBeNull();
    const report = JSON.parse(r.stdout.trim().split('\n').pop()!) as SoakReport;
    console.log(`soak ${b.name}: ${JSON.stringify(report)}`);
    expect(report).toMatchObject({ cycles: CYCLES, fdsAfter: report.fdsBefore, procFdsAfter: report.procFdsBefore });
    if (SOAK) expect(report.ok, 'fds, JS heap and RSS within their bounds').toBe(true);
  }, LIMIT_MS + 10_000);
});
