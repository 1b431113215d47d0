// The results as rows (dmabridge, peer, speed ratio, the goal) and as
// the Markdown table that the terminal and the README show.
import { bytes } from '../cli/format';
import type { EmulatorResults } from './emulator';
import type { LatencyRow } from './latency';
import { isSkipped, type Measured, type Step } from './measured';
import { YIELD_EVERY, type NativeResults, type Registered } from './native';
import type { Summary } from './stats';

/** The two-host measurement of scripts/bench/cluster.js. */
export interface ClusterResults {
  kernel: string;
  count: number;
  reps: number;
  warmup: number;
  write64k: { mibps: Measured };
  /** 8-byte SEND ping-pong over rdma_cm against ib_send_lat -R; one-way ns. */
  sendLatency?: { size: number; iters: number; poll: LatencyRow; await: LatencyRow };
}

export interface BenchResults {
  native?: NativeResults;
  cluster?: ClusterResults;
  emulator?: EmulatorResults;
}

export interface Row {
  name: string;
  unit: string;
  dmabridge?: Summary;
  peer?: Summary;
  /** dmabridge ÷ peer for rates, peer ÷ dmabridge for times: above 1, dmabridge is faster. */
  ratio?: number;
  goal: string;
  met?: boolean;
  /** Why the row has no figure, or no peer. */
  note?: string;
}

interface Spec {
  unit: string;
  /** Rates are better higher, times lower. */
  higher: boolean;
  /** Divides the raw figures (ns to µs, say). */
  scale?: number;
  /** For rates the least ratio; for times the most dmabridge ÷ peer time. */
  goal?: number;
}

export function rows(results: BenchResults): Row[] {
  const out: Row[] = [];
  const add = (name: string, m: Measured, spec: Spec) => out.push(row(name, m, spec));
  /** A step's rows, or one row that says why it was skipped. */
  const section = <T>(name: string, step: Step<T> | undefined, body: (value: T) => void) => {
    if (step === undefined) return;
    if (isSkipped(step)) out.push({ name, unit: '', goal: '', note: `skipped: ${step.skipped}` });
    else body(step);
  };
  const n = results.native;
  const us: Spec = { unit: 'µs', higher: false, scale: 1e3 };
  const latency = (name: string, r: LatencyRow, goal?: number) => {
    add(`${name}, median`, r.median, { ...us, goal });
    add(`${name}, p99`, r.p99, us);
  };
  section('latency', n?.latency, (l) => {
    latency(`SEND ${bytes(l.size)} latency, 2 processes, cq.pollCount (vs ib_send_lat)`, l.sendPoll, 1.5);
    latency(`… awaiting cq.next(), spin ${l.spin} µs (vs ib_send_lat)`, l.sendAwait, 3);
    latency(`RDMA WRITE ${bytes(l.size)} latency, polling memory (vs ib_write_lat)`, l.writePoll, 1.5);
  });
  const cl = results.cluster?.sendLatency;
  if (cl) {
    latency(`SEND ${bytes(cl.size)} latency, 2 hosts over rdma_cm, cq.pollCount (vs ib_send_lat -R)`, cl.poll, 1.5);
    latency('… awaiting cq.next() (vs ib_send_lat -R)', cl.await, 3);
  }
  section('RDMA WRITE bandwidth', n?.bandwidth, (w) => {
    add(`RDMA WRITE ${bytes(w.size)} bandwidth`, w.mibps, { unit: 'MiB/s', higher: true, goal: 1.0 });
  });
  if (results.cluster) add('… between two hosts over rdma_cm (vs -R)', results.cluster.write64k.mibps, { unit: 'MiB/s', higher: true, goal: 1.0 });
  section('RDMA WRITE message rate', n?.rate, (w) => {
    add(`RDMA WRITE ${bytes(w.size)} message rate`, w.mpps, { unit: 'Mmsg/s', higher: true, goal: 0.9 });
    if (w.mppsBatched) add('… vs ib_write_bw -l 32 (batched too)', w.mppsBatched, { unit: 'Mmsg/s', higher: true });
  });
  section('MR registration', n?.registration, (sizes) => {
    for (const size of sizes) {
      section<Registered>(`ibv_reg_mr ${bytes(size.size)}`, size, (r) => {
        const time: Spec = r.size >= 64 << 20 ? { unit: 'ms', higher: false, scale: 1e6 } : { unit: 'µs', higher: false, scale: 1e3 };
        time.goal = registrationGoal(r.size);
        add(`ibv_reg_mr ${bytes(r.size)}`, r.reg, time);
        add(`ibv_dereg_mr ${bytes(r.size)}`, r.dereg, time);
        add(`… reg, yielding every ${YIELD_EVERY}`, r.yielding.reg, time);
        add(`… dereg, yielding every ${YIELD_EVERY}`, r.yielding.dereg, time);
      });
    }
  });
  section('CPU fill and read of a mapped dma-buf', n?.fill, (f) => {
    add(`fill ${bytes(f.size)} dma-buf (memset)`, f.fill, { unit: 'MiB/s', higher: true, goal: 0.95 });
    add(`read ${bytes(f.size)} dma-buf (memcpy)`, f.read, { unit: 'MiB/s', higher: true });
    add('… read with Buffer.copy instead', f.copy, { unit: 'MiB/s', higher: true });
  });
  section('one call across the seam', n?.seam, (seam) => {
    add('seam: noop, the floor', seam.noop, { unit: 'ns/call', higher: false });
    add('seam: ibvPollCq, empty CQ', seam.pollRaw, { unit: 'ns/call', higher: false });
    add('cq.pollCount(1), empty CQ', seam.pollCount, { unit: 'ns/call', higher: false });
    add('seam: getMemlockLimit (wrapped)', seam.memlock, { unit: 'ns/call', higher: false });
    add('seam: a refused call, its error thrown and caught', seam.thrown, { unit: 'ns/call', higher: false });
  });
  const e = results.emulator;
  if (e) {
    add('emulator: 64 B writes posted+completed', { dmabridge: e.wrPerSec }, { unit: 'WR/s', higher: true });
    add('emulator: 4 KiB MR reg+dereg', { dmabridge: e.regPerSec }, { unit: 'MR/s', higher: true });
  }
  return out;
}

/** Issue 15's goals, as the most dmabridge ÷ C time: small registrations pay the JS call, large ones only the kernel's pinning. */
function registrationGoal(size: number): number {
  return size >= 64 << 20 ? 1.03 : size >= 1 << 20 ? 1.1 : 1.5;
}

function row(name: string, m: Measured, spec: Spec): Row {
  const k = spec.scale ?? 1;
  const scaled = (s: Summary | undefined) => s && { ...s, median: s.median / k, min: s.min / k, max: s.max / k };
  const ours = m.dmabridge.median, theirs = m.peer?.median;
  const ratio = theirs === undefined ? undefined : spec.higher ? ours / theirs : theirs / ours;
  const goal = spec.goal === undefined ? '' : spec.higher ? `≥ ${spec.goal.toFixed(2)}×` : `≤ ${spec.goal.toFixed(2)}× time`;
  // For times the goal bounds dmabridge ÷ peer, the ratio's inverse.
  const met = spec.goal === undefined || ratio === undefined ? undefined : spec.higher ? ratio >= spec.goal : 1 / ratio <= spec.goal;
  return {
    name, unit: spec.unit, dmabridge: scaled(m.dmabridge), peer: scaled(m.peer), ratio, goal, met,
    ...(m.peerAbsent ? { note: `no peer: ${m.peerAbsent}` } : {}),
  };
}

function fmt(x: number): string {
  if (x >= 1e5) return x.toExponential(2);
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toPrecision(3);
}

/** The rows as a Markdown table; notes (skips, absent peers) numbered below it. */
export function renderTable(table: readonly Row[]): string {
  const notes: string[] = [];
  const noteRef = (note: string) => {
    const i = notes.indexOf(note);
    return `[${(i < 0 ? notes.push(note) : i + 1)}]`;
  };
  const cell = (s: Summary | undefined) => (s ? `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})` : '—');
  const cells = [
    ['measurement', 'unit', 'dmabridge median (min–max)', 'peer median (min–max)', 'speed ratio', 'goal', 'met'],
    ...table.map((r) => [
      r.note ? `${r.name} ${noteRef(r.note)}` : r.name, r.unit, cell(r.dmabridge), cell(r.peer),
      r.ratio === undefined ? '—' : `${r.ratio.toFixed(2)}×`, r.goal, r.met === undefined ? '' : r.met ? 'yes' : 'NO',
    ]),
  ];
  const widths = cells[0]!.map((_, c) => Math.max(...cells.map((line) => line[c]!.length)));
  const line = (cs: string[]) => `| ${cs.map((v, c) => v.padEnd(widths[c]!)).join(' | ')} |`;
  return [
    line(cells[0]!),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...cells.slice(1).map(line),
    ...(notes.length ? ['', ...notes.map((note, i) => `[${i + 1}] ${note}`)] : []),
    '',
    'speed ratio: dmabridge ÷ peer for rates, peer ÷ dmabridge for times (> 1: dmabridge is faster).',
  ].join('\n');
}
