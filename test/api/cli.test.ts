import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { loadNative } from '../../src/native';
import { DEVICES, describeEachBackend, itWith } from '../support/backends';

// The CLI as a user runs it (npm test builds dist/ first), on each backend:
// natively that is the demo on rxe in the real-kernel VM.
const peers = mkdtempSync(path.join(tmpdir(), 'dmabridge-bench-peers-'));

// One run of the command: seconds under the VM's TCG, more while other guests share the host.
const ONE_RUN = 90_000;

describeEachBackend('the dmabridge command', (b) => {
  const it = itWith(b, DEVICES.rxe);
  // Asynchronously: a child that runs for a minute under TCG must not block
  // the test worker, or vitest's calls into it time out.
  const cli = (args: string[], timeout = 160_000) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      // The C peers the bench compiles go to a directory of this run's own.
      const env = { ...process.env, DMABRIDGE_BACKEND: b.name, DMABRIDGE_BENCH_PEERS: peers };
      execFile(process.execPath, ['dist/src/cli/main.js', ...args], { encoding: 'utf8', env, timeout }, (error, stdout, stderr) => {
        resolve({ status: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr });
      });
    });

  it('demo runs the main job end to end and verifies the RDMA-written bytes', async () => {
    const r = await cli(['demo']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(new RegExp(`on the ${b.name} backend`));
    expect(r.stdout).toMatch(/RDMA-wrote 4 MiB/);
    expect(r.stdout).toMatch(/every byte matches/);
    expect(r.stdout).toMatch(/every check passed/);
    expect(r.status).toBe(0);
  }, ONE_RUN);

  it('demo --json gives the steps it took', async () => {
    const r = await cli(['demo', '--json', '--backend', b.name]);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ backend: b.name, ok: true });
    expect(out.steps).toContainEqual(expect.stringMatching(/RDMA-wrote 4 MiB/));
  }, ONE_RUN);

  it('info --json lists the addon, heaps, DRM nodes, RDMA devices and the memlock limit', async () => {
    const r = await cli(['info', '--json', '--backend', b.name]);
    expect(r.status).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info).toMatchObject({ backend: b.name, emulated: b.name === 'emulator', heaps: ['system'], drm: expect.arrayContaining([expect.objectContaining({ driver: 'vgem' })]) });
    const native = loadNative();
    expect(info.addon).toEqual(native.backend ? { loaded: true, ...native.source } : { loaded: false, error: native.error });
    if (b.name === 'emulator') expect(Object.keys(info.machine)).toEqual(['udmabuf', 'heaps', 'drm', 'rdma']);
    else expect(info.machine).toBeUndefined();
    expect(info.rdma).toContainEqual(expect.objectContaining({ name: 'rxe0', dmaBufMr: false, port: expect.objectContaining({ state: 'active' }) }));
    expect(info.memlock).toMatch(/MiB|unlimited/);
  }, ONE_RUN);

  it('bench --quick --json measures every row, next to its C peer where it has one', async () => {
    const r = await cli(['bench', '--quick', '--reps', '1', '--json'], 280_000);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`bench \\(${b.name}\\): `));
    const out = JSON.parse(r.stdout);
    expect(out.machine).toMatchObject({ backend: b.name, kernel: expect.any(String) });
    const names = out.rows.map((row: { name: string }) => row.name);
    if (b.name === 'emulator') {
      expect(names).toEqual(['emulator: 64 B writes posted+completed', 'emulator: 4 KiB MR reg+dereg']);
      expect(out.emulator.wrPerSec.median).toBeGreaterThan(0);
      expect(out.emulator.regPerSec.median).toBeGreaterThan(0);
      return;
    }
    expect(out.native.device).toBe('rxe0');
    expect(names).toEqual([
      'SEND 8 B latency, 2 processes, cq.pollCount (vs ib_send_lat), median', 'SEND 8 B latency, 2 processes, cq.pollCount (vs ib_send_lat), p99',
      '… awaiting cq.next(), spin 20 µs (vs ib_send_lat), median', '… awaiting cq.next(), spin 20 µs (vs ib_send_lat), p99',
      'RDMA WRITE 8 B latency, polling memory (vs ib_write_lat), median', 'RDMA WRITE 8 B latency, polling memory (vs ib_write_lat), p99',
      'RDMA WRITE 64 KiB bandwidth', 'RDMA WRITE 64 B message rate', '… vs ib_write_bw -l 32 (batched too)',
      ...['4 KiB', '1 MiB', '4 MiB'].flatMap((size) => [
        `ibv_reg_mr ${size}`, `ibv_dereg_mr ${size}`, '… reg, yielding every 10', '… dereg, yielding every 10',
      ]),
      'fill 16 MiB dma-buf (memset)', 'read 16 MiB dma-buf (memcpy)', '… read with Buffer.copy instead',
      'seam: noop, the floor', 'seam: ibvPollCq, empty CQ', 'cq.pollCount(1), empty CQ', 'seam: getMemlockLimit (wrapped)',
      'seam: a refused call, its error thrown and caught',
    ]);
    // In the VM perftest and a C compiler are there: nothing is skipped, and every peer ran.
    for (const row of out.rows) {
      expect(row.note, row.name).toBeUndefined();
      expect(row.dmabridge.median, row.name).toBeGreaterThan(0);
      if (row.peer) expect(row.ratio, row.name).toBeGreaterThan(0);
    }
    // Every row has its C or perftest peer but these, which have none to have.
    expect(out.rows.filter((row: { peer?: unknown }) => !row.peer).map((row: { name: string }) => row.name)).toEqual([
      'seam: noop, the floor', 'cq.pollCount(1), empty CQ', 'seam: getMemlockLimit (wrapped)', 'seam: a refused call, its error thrown and caught',
    ]);
  }, 290_000);

  it('bench rejects a bad option with exit 2 and its usage', async () => {
    const r = await cli(['bench', '--reps', '0']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--reps must be a positive integer, got '0'[\s\S]*usage: dmabridge bench/);
  }, ONE_RUN);

  it('info says in its first line whether the devices are emulated, and in its second where the addon came from', async () => {
    const r = await cli(['info', '--backend', b.name]);
    expect(r.status).toBe(0);
    const [first, second] = r.stdout.split('\n');
    expect(first).toMatch(b.name === 'emulator' ? /^backend: emulator: emulated devices in this process, not this machine's kernel/ : /^backend: native: this machine's kernel/);
    const native = loadNative();
    expect(second).toBe(native.backend ? `native addon: loaded, ${native.source!.kind} ${native.source!.file}` : `native addon: not loaded: ${native.error}`);
    expect(r.stdout.includes('this machine: ')).toBe(b.name === 'emulator');
  }, ONE_RUN);

  it('bench --device names a device the backend has, or exits 2', async () => {
    const r = await cli(['bench', '--device', 'nope', '--backend', b.name]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--device: no RDMA device 'nope' on the \w+ backend \(it has rxe0[\s\S]*usage: dmabridge bench/);
  }, ONE_RUN);

  it('an unknown command exits 2 with the usage', async () => {
    const r = await cli(['frobnicate']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown command 'frobnicate'[\s\S]*usage: dmabridge/);
  }, ONE_RUN);
});

