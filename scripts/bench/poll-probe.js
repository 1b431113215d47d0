'use strict';
// The seam's floor and its hot calls, in one process, interleaved round by
// round: seam.noop(), seam.ibvPollCq on an empty CQ and cq.pollCount(1).
// Run in the VM:
//   scripts/vm/run.sh -- node scripts/bench/poll-probe.js
// Prints the median ns per call of each over the rounds.
const { open } = require('../../dist/src');
const { summarize, nowNs } = require('../../dist/src/bench/stats');

const N = 200_000;
const ROUNDS = 7;
const dmb = open({ backend: 'native' });
const dev = dmb.openRdma('rxe0');
const cq = dev.createCq(256);
const { seam } = dmb;

const calls = {
  noop: () => seam.noop(),
  'ibvPollCq, empty': () => seam.ibvPollCq(cq.handle, 1),
  'cq.pollCount(1), empty': () => cq.pollCount(1),
};
const samples = Object.fromEntries(Object.keys(calls).map((k) => [k, []]));
for (let round = -1; round < ROUNDS; round++) {
  for (const [name, fn] of Object.entries(calls)) {
    const t0 = nowNs();
    for (let i = 0; i < N; i++) fn();
    if (round >= 0) samples[name].push((nowNs() - t0) / N);
  }
}
for (const [name, ns] of Object.entries(samples)) {
  const s = summarize(ns);
  console.log(`${name.padEnd(24)} ${s.median.toFixed(0).padStart(6)} ns (${s.min.toFixed(0)}-${s.max.toFixed(0)})`);
}
cq.close();
dev.close();
dmb.close();
