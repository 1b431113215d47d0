'use strict';
// Merges the native (one guest), cluster (two guests) and emulator (host)
// results into one table on the terminal and one JSON file.
// Usage: node bench/report.js NATIVE.json CLUSTER.json EMULATOR.json OUT.json
const { readFileSync, writeFileSync } = require('node:fs');
const os = require('node:os');

const [nativeFile, clusterFile, emulatorFile, outFile] = process.argv.slice(2);
const native = JSON.parse(readFileSync(nativeFile, 'utf8'));
const cluster = JSON.parse(readFileSync(clusterFile, 'utf8'));
const emulator = JSON.parse(readFileSync(emulatorFile, 'utf8'));

// ratio = dmabridge / peer; `higher` says which way is better; goal is the issue's.
const ROWS = [
  ['RDMA WRITE 64 KiB bandwidth', 'MiB/s', native.write64k.mibps, true, 1.0],
  ['… between two hosts over rdma_cm (vs -R)', 'MiB/s', cluster.write64k.mibps, true, 1.0],
  ['RDMA WRITE 64 B message rate', 'Mmsg/s', native.write64.mpps, true, 0.9],
  ['… vs ib_write_bw -l 32 (batched too)', 'Mmsg/s', native.write64.mppsBatched, true],
  ['ibv_reg_mr 4 KiB', 'µs', us(native.reg4k.reg), false],
  ['ibv_dereg_mr 4 KiB', 'µs', us(native.reg4k.dereg), false],
  ['ibv_reg_mr 1 MiB', 'µs', us(native.reg1m.reg), false, 1.03],
  ['ibv_dereg_mr 1 MiB', 'µs', us(native.reg1m.dereg), false, 1.03],
  ['ibv_reg_mr 256 MiB', 'ms', ms(native.reg256m.reg), false, 1.03],
  ['ibv_dereg_mr 256 MiB', 'ms', ms(native.reg256m.dereg), false, 1.03],
  ['fill 256 MiB dma-buf (memset)', 'MiB/s', native.fill256m.fill, true, 0.95],
  ['read 256 MiB dma-buf (memcpy)', 'MiB/s', native.fill256m.read, true],
  ['… read with Buffer.copy instead', 'MiB/s', native.fill256m.copy, true],
  ['seam: ibvPollCq, empty CQ', 'ns/call', native.seam.pollRaw, false],
  ['cq.pollCount(1), empty CQ', 'ns/call', native.seam.pollCount, false],
  ['seam: getMemlockLimit (wrapped)', 'ns/call', native.seam.memlock, false],
  ['emulator: 64 B writes posted+completed', 'WR/s', { dmabridge: emulator.wrPerSec }, true],
  ['emulator: 4 KiB MR reg+dereg', 'MR/s', { dmabridge: emulator.regPerSec }, true],
];

function scale(pair, k) {
  const s = (x) => x && { ...x, median: x.median / k, min: x.min / k, max: x.max / k };
  return { dmabridge: s(pair.dmabridge), peer: s(pair.peer) };
}
function us(pair) { return scale(pair, 1e3); }
function ms(pair) { return scale(pair, 1e6); }

function fmt(x) {
  if (x >= 1e5) return x.toExponential(2);
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toPrecision(3);
}
const cell = (s) => (s ? `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})` : '—');

const rows = ROWS.map(([name, unit, pair, higher, goal]) => {
  // Express every ratio as "dmabridge's speed relative to the peer's": >1 is faster.
  const ratio = pair.peer ? (higher ? pair.dmabridge.median / pair.peer.median : pair.peer.median / pair.dmabridge.median) : undefined;
  const goalText = goal === undefined ? '' : higher ? `≥ ${goal.toFixed(2)}×` : `≤ ${goal.toFixed(2)}× time`;
  // For times the goal bounds dmabridge/peer; ratio is its inverse.
  const met = goal === undefined || ratio === undefined ? undefined : higher ? ratio >= goal : 1 / ratio <= goal;
  return { name, unit, dmabridge: pair.dmabridge, peer: pair.peer, ratio, goal: goalText, met };
});

const table = [
  ['measurement', 'unit', 'dmabridge median (min–max)', 'peer median (min–max)', 'speed ratio', 'goal', 'met'],
  ...rows.map((r) => [r.name, r.unit, cell(r.dmabridge), cell(r.peer), r.ratio === undefined ? '—' : `${r.ratio.toFixed(2)}×`, r.goal, r.met === undefined ? '' : r.met ? 'yes' : 'NO']),
];
const widths = table[0].map((_, c) => Math.max(...table.map((row) => row[c].length)));
const line = (row) => `| ${row.map((v, c) => v.padEnd(widths[c])).join(' | ')} |`;
console.log(line(table[0]));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const row of table.slice(1)) console.log(line(row));
console.log(`\nspeed ratio: dmabridge ÷ peer for rates, peer ÷ dmabridge for times (> 1: dmabridge is faster).`);
console.log(`peers: ib_write_bw (perftest) for writes, C loops in bench/peers/ for the rest; ${native.reps} timed runs after ${native.warmup} warm-up each.`);

const machine = { host: `${os.cpus().length} × ${os.cpus()[0]?.model}`, guestKernel: native.kernel, date: new Date().toISOString() };
console.log(`native part: qemu TCG guest, kernel ${machine.guestKernel}, rxe0 on lo; two-host part: two such guests on a qemu UDP link, rxe1 on each NIC; host ${machine.host}; ${machine.date}`);
writeFileSync(outFile, JSON.stringify({ machine, counts: native.counts, rows, native, cluster, emulator }, null, 2));
console.log(`JSON: ${outFile}`);
