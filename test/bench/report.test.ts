import { describe, expect, it } from 'vitest';
import type { NativeResults } from '../../src/bench/native';
import { renderTable, rows } from '../../src/bench/report';
import { summarize } from '../../src/bench/stats';

const s = (...xs: number[]) => summarize(xs);
const skipped = { skipped: 'no RDMA devices' };

describe('the bench report', () => {
  it('summarizes runs as median and min–max', () => {
    expect(s(5, 1, 3)).toEqual({ median: 3, min: 1, max: 5, n: 3 });
    expect(s(4, 1, 3, 2)).toEqual({ median: 2.5, min: 1, max: 4, n: 4 });
  });

  it('gives rates as dmabridge ÷ peer and times as peer ÷ dmabridge, each judged against its goal', () => {
    const native: NativeResults = {
      kernel: '6.12', device: 'rxe0', reps: 3, warmup: 1, quick: false,
      seam: skipped, rate: skipped, fill: skipped,
      latency: {
        size: 8, iters: 10, spin: 20,
        sendPoll: { median: { dmabridge: s(60_000), peer: s(40_000) }, p99: { dmabridge: s(90_000), peer: s(50_000) } },
        sendAwait: { median: { dmabridge: s(130_000), peer: s(40_000) }, p99: { dmabridge: s(200_000), peer: s(50_000) } },
        writePoll: { median: { dmabridge: s(50_000), peerAbsent: 'ib_write_lat not on PATH' }, p99: { dmabridge: s(70_000), peerAbsent: 'ib_write_lat not on PATH' } },
      },
      bandwidth: { size: 65536, count: 8, mibps: { dmabridge: s(90), peer: s(100) }, mpps: { dmabridge: s(1), peer: s(1) } },
      registration: [
        // 1 MiB: dmabridge takes 1.02× the C loop's time (within 1.1×), 1.5× to deregister (not); yielding, 1.2× (not).
        {
          size: 1 << 20, reg: { dmabridge: s(102_000), peer: s(100_000) }, dereg: { dmabridge: s(150_000), peer: s(100_000) },
          yielding: { reg: { dmabridge: s(120_000), peer: s(100_000) }, dereg: { dmabridge: s(100_000), peer: s(100_000) } },
        },
        { size: 256 << 20, skipped: 'pinning this memory would pass the locked-memory limit' },
      ],
    };
    const table = rows({ native });
    const by = (name: string) => table.find((r) => r.name === name)!;
    expect(by('RDMA WRITE 64 KiB bandwidth')).toMatchObject({ unit: 'MiB/s', ratio: 0.9, goal: '≥ 1.00×', met: false });
    expect(by('ibv_reg_mr 1 MiB')).toMatchObject({ unit: 'µs', dmabridge: { median: 102 }, goal: '≤ 1.10× time', met: true });
    expect(by('… reg, yielding every 10')).toMatchObject({ dmabridge: { median: 120 }, goal: '≤ 1.10× time', met: false });
    expect(by('… dereg, yielding every 10')).toMatchObject({ met: true });
    expect(by('ibv_reg_mr 1 MiB').ratio).toBeCloseTo(100 / 102);
    expect(by('ibv_dereg_mr 1 MiB')).toMatchObject({ met: false });
    expect(by('ibv_reg_mr 256 MiB')).toMatchObject({ note: 'skipped: pinning this memory would pass the locked-memory limit' });
    expect(by('ibv_dereg_mr 256 MiB')).toBeUndefined();
    // Latency: times in µs; busy-polled within 1.5× perftest's, awaited within 3×.
    expect(by('SEND 8 B latency, 2 processes, cq.pollCount (vs ib_send_lat), median')).toMatchObject({ unit: 'µs', dmabridge: { median: 60 }, goal: '≤ 1.50× time', met: true });
    expect(by('… awaiting cq.next(), spin 20 µs (vs ib_send_lat), median')).toMatchObject({ goal: '≤ 3.00× time', met: false });
    expect(by('… awaiting cq.next(), spin 20 µs (vs ib_send_lat), p99')).toMatchObject({ goal: '', peer: { median: 50 } });
    expect(by('RDMA WRITE 8 B latency, polling memory (vs ib_write_lat), median')).toMatchObject({ note: 'no peer: ib_write_lat not on PATH' });
  });

  it('puts the two-host latency under the one-guest latency, judged by the same goals', () => {
    const cluster = {
      kernel: '6.12', count: 8, reps: 3, warmup: 1,
      write64k: { mibps: { dmabridge: s(90), peer: s(100) } },
      sendLatency: {
        size: 8, iters: 100,
        poll: { median: { dmabridge: s(140_000), peer: s(100_000) }, p99: { dmabridge: s(300_000), peer: s(200_000) } },
        await: { median: { dmabridge: s(320_000), peer: s(100_000) }, p99: { dmabridge: s(600_000), peer: s(200_000) } },
      },
    };
    const table = rows({ cluster });
    const names = table.map((r) => r.name);
    expect(names.slice(0, 4)).toEqual([
      'SEND 8 B latency, 2 hosts over rdma_cm, cq.pollCount (vs ib_send_lat -R), median',
      'SEND 8 B latency, 2 hosts over rdma_cm, cq.pollCount (vs ib_send_lat -R), p99',
      '… awaiting cq.next() (vs ib_send_lat -R), median',
      '… awaiting cq.next() (vs ib_send_lat -R), p99',
    ]);
    expect(table[0]).toMatchObject({ unit: 'µs', dmabridge: { median: 140 }, peer: { median: 100 }, goal: '≤ 1.50× time', met: true });
    expect(table[2]).toMatchObject({ goal: '≤ 3.00× time', met: false });
  });

  it('numbers each reason once below the table, and marks the rows that share it', () => {
    const native: NativeResults = {
      kernel: '6.12', reps: 1, warmup: 1, quick: true,
      seam: skipped, bandwidth: skipped, rate: skipped, registration: skipped, latency: skipped,
      fill: { size: 4096, fill: { dmabridge: s(10), peerAbsent: 'no C compiler' }, read: { dmabridge: s(20), peerAbsent: 'no C compiler' }, copy: { dmabridge: s(30), peerAbsent: 'no C compiler' } },
    };
    const text = renderTable(rows({ native }));
    expect(text).toMatch(/\| RDMA WRITE bandwidth \[1\] /);
    expect(text).toMatch(/\| one call across the seam \[1\] /);
    expect(text).toMatch(/\| fill 4 KiB dma-buf \(memset\) \[2\] +\| MiB\/s +\| 10\.0 \(10\.0–10\.0\) +\| — /);
    expect(text).toMatch(/\n\[1\] skipped: no RDMA devices\n\[2\] no peer: no C compiler\n/);
    expect(text.match(/^\[\d\]/gm)).toHaveLength(2);
  });
});
