// npm run test:fuzz (and npm test, and test:kernel natively): the seeded
// hostile-call fuzz of reliability/fuzz.ts, in a child process that must end
// by itself. FUZZ_SEED replays a seed; FUZZ_CALLS changes the count.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import type { FuzzReport } from '../../reliability/fuzz';
import { describeEachBackend } from '../support/backends';
import { inKernelVm } from '../support/skip';

const CALLS = Number(process.env.FUZZ_CALLS ?? 10_000);
// In the VM the child runs in a memory cgroup of its own. Hostile sizes are
// often valid ones: a 2 GiB vgem buffer exported, a 2 GiB udmabuf on 7.3, a
// 2 GiB mapping registered as root. The kernel makes those pages whether or
// not any process maps them, and in a 2 GiB guest the OOM killer then took
// vitest itself. Charged to the cgroup, the same calls fail with ENOMEM,
// which the fuzz counts like any other refusal.
const FUZZ_MEMORY = '768M';
const IN_CGROUP = `set -e
cg=/sys/fs/cgroup
grep -q " $cg cgroup2 " /proc/mounts || mount -t cgroup2 none $cg
echo +memory > $cg/cgroup.subtree_control
mkdir -p $cg/dmabridge-fuzz
echo ${FUZZ_MEMORY} > $cg/dmabridge-fuzz/memory.max
echo $$ > $cg/dmabridge-fuzz/cgroup.procs
exec "$@"`;
// The guest runs JavaScript about 20 times slower than the host.
const LIMIT_MS = inKernelVm ? 240_000 : 60_000;

describeEachBackend('fuzz: seeded hostile calls', (b) => {
  it(`${CALLS} calls: no crash, every throw coded, every promise settled, no fd left, and the process exits by itself`, async () => {
    const seed = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
    const dir = mkdtempSync(join(tmpdir(), 'dmabridge-fuzz-report-'));
    const reportPath = join(dir, 'report.json');
    const replay = `FUZZ_SEED=${seed} FUZZ_CALLS=${CALLS} npm run test:fuzz  (or: node dist/reliability/fuzz.js --backend ${b.name} --seed ${seed} --calls ${CALLS})`;
    try {
      // Said first, so that a run killed from outside can still be replayed.
      console.log(`fuzz ${b.name} seed ${seed}: starting`);
      const argv = [process.execPath, 'dist/reliability/fuzz.js', '--backend', b.name, '--seed', String(seed), '--calls', String(CALLS), '--report', reportPath];
      const [command, ...args] = inKernelVm && b.name === 'native' ? ['sh', '-c', IN_CGROUP, 'fuzz', ...argv] : argv;
      const child = spawn(command!, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), LIMIT_MS);
      const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((done) => child.on('exit', (c, s) => done([c, s])));
      clearTimeout(timer);
      const where = `fuzz seed ${seed} on ${b.name} failed; replay: ${replay}\n${stderr.slice(-2000)}`;
      expect(signal, `${where}\n(the process was killed: it crashed, or did not exit by itself within ${LIMIT_MS} ms)`).toBeNull();
      expect(code, where).toBe(0);
      const report = JSON.parse(readFileSync(reportPath, 'utf8')) as FuzzReport;
      console.log(`fuzz ${b.name} seed ${seed}: ${report.calls} calls (${report.seamCalls} into the seam), ${report.threw} threw, ${report.uncodedCount} uncoded, ${report.promises} promises, ${report.unsettled.length} unsettled, ${report.fdsLeft.length + report.procFdsLeft.length} fds left`);
      expect(report.calls, where).toBeGreaterThanOrEqual(CALLS);
      expect({ uncoded: report.uncoded, unsettled: report.unsettled, fdsLeft: report.fdsLeft, procFdsLeft: report.procFdsLeft }, where)
        .toEqual({ uncoded: [], unsettled: [], fdsLeft: [], procFdsLeft: [] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, LIMIT_MS + 10_000);
});
