import { spawnSync } from 'node:child_process';
import { cpus, release } from 'node:os';
import { benchEmulator } from '../bench/emulator';
import { benchNative } from '../bench/native';
import { renderTable, rows, type BenchResults } from '../bench/report';
import { open } from '../open';
import { type Command, UsageError, type Values } from './command';

export const bench: Command = {
  summary: 'measure dmabridge next to ib_write_bw, ibv_reg_mr and memset in one run',
  options: { device: { type: 'string' }, reps: { type: 'string' }, quick: { type: 'boolean', default: false } },
  help: `Measures dmabridge on this machine next to its C peers, in one run:
RDMA WRITE bandwidth and 64 B message rate against ib_write_bw (perftest) on
the same device over loopback, MR registration against a C ibv_reg_mr loop,
CPU fill and read of a mapped dma-heap buffer against memset/memcpy, and the
cost of one call across the seam. The C loops (src/bench/peers/) are compiled on
first use into $DMABRIDGE_BENCH_PEERS or ~/.cache/dmabridge/bench-peers.
On the emulator backend: its work requests and registrations per second.
Progress goes to stderr.

  --device NAME   the RDMA device (default: the first with port 1 active)
  --reps N        timed runs per measurement after one warm-up (default 5)
  --quick         smaller counts and sizes: checks it all runs; the figures are not comparable`,
  run,
};

async function run(values: Values): Promise<number> {
  const reps = Number(values.reps ?? 5);
  if (!Number.isInteger(reps) || reps < 1) throw new UsageError(`--reps must be a positive integer, got '${values.reps}'`);
  using dmb = open({ backend: values.backend });
  const device = values.device as string | undefined;
  if (device !== undefined && !dmb.rdmaDevices().some((d) => d.name === device)) {
    throw new UsageError(`--device: no RDMA device '${device}' on the ${dmb.backend} backend (it has ${dmb.rdmaDevices().map((d) => d.name).join(', ') || 'none'})`);
  }
  const progress = (what: string) => process.stderr.write(`bench (${dmb.backend}): ${what}\n`);
  const options = { device, reps, quick: values.quick === true, progress };
  const results: BenchResults = dmb.backend === 'native'
    ? { native: await benchNative(dmb, release(), options) }
    : { emulator: await benchEmulator(dmb, options) };
  const machine = {
    host: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}`,
    kernel: release(),
    node: process.version,
    backend: dmb.backend,
    perftest: perftestVersion(),
    date: new Date().toISOString(),
  };
  const table = rows(results);
  if (table.every((r) => r.dmabridge === undefined)) {
    console.error(renderTable(table));
    console.error(`\ndmabridge bench: nothing could be measured on the ${dmb.backend} backend here; see the notes above, or try --backend emulator`);
    return 1;
  }
  if (values.json) {
    console.log(JSON.stringify({ machine, ...results, rows: table }, null, 2));
  } else {
    console.log(renderTable(table));
    console.log(`${machine.backend} backend on ${machine.host}, kernel ${machine.kernel}, ${machine.date}; ${reps} timed run${reps === 1 ? '' : 's'} after 1 warm-up${values.quick ? ' (--quick: not comparable)' : ''}`);
  }
  return 0;
}

/** perftest's "Version: 6.06" line (it exits non-zero after printing it). */
function perftestVersion(): string | undefined {
  const r = spawnSync('ib_write_bw', ['--version'], { encoding: 'utf8' });
  return r.stdout?.match(/Version: *(\S+)/)?.[1];
}
