'use strict';
// Where a registration's time goes, in one process, interleaved: the C loop,
// the raw seam call (seam.ibvRegMr/ibvDeregMr) on a page-aligned view and
// on Node's unaligned one, and pd.register()/close() on both. Run in the VM:
//   scripts/vm/run.sh -- node scripts/bench/reg-probe.js [WARM]
// WARM (default 0): register()/close() pairs run first, untimed, so that V8
// has optimized that path (the bench runs 2000). Prints the median µs of
// each, per size.
const { open } = require('../../dist/src');
const { cPeer } = require('../../dist/src/bench/peers');
const { summarize, nowNs } = require('../../dist/src/bench/stats');
const { IBV_ACCESS } = require('../../dist/seam/verbs-uapi');
const { mrWords, regMr } = require('../../dist/seam/mr-words');

const dmb = open({ backend: 'native' });
const dev = dmb.openRdma('rxe0');
const pd = dev.allocPd();
const { seam } = dmb;
const access = IBV_ACCESS.LOCAL_WRITE;
const out = mrWords();

/** A view of `size` bytes starting on a page boundary (the addon reports the address). */
function aligned(size) {
  const big = new Uint8Array(new SharedArrayBuffer(size + 4096)).fill(1);
  const mr = regMr(seam, pd.handle, big, access);
  seam.ibvDeregMr(mr.handle);
  const skip = (4096 - Number(mr.addr % 4096n)) % 4096;
  return big.subarray(skip, skip + size);
}

function time(reps, fn) {
  const reg = [], dereg = [];
  for (let i = -2; i < reps; i++) {
    const t0 = nowNs();
    const close = fn();
    const t1 = nowNs();
    close();
    const t2 = nowNs();
    if (i >= 0) { reg.push(t1 - t0); dereg.push(t2 - t1); }
  }
  return { reg: summarize(reg).median / 1e3, dereg: summarize(dereg).median / 1e3 };
}

const warm = Number(process.argv[2] ?? 0);
const warmBuf = new Uint8Array(new SharedArrayBuffer(4096));
for (let i = 0; i < warm; i++) pd.register(warmBuf).close();
for (const [size, reps] of [[4096, 200], [1 << 20, 50]]) {
  const plain = new Uint8Array(new SharedArrayBuffer(size)).fill(1);
  const page = aligned(size);
  const rows = {};
  for (let round = 0; round < 3; round++) {
    const c = cPeer('reg-loop', ['rxe0', size, 2, reps]);
    if ('absent' in c) throw new Error(c.absent);
    const add = (name, r) => (rows[name] ??= []).push(r);
    add('C loop', { reg: summarize(c.out.reg).median / 1e3, dereg: summarize(c.out.dereg).median / 1e3 });
    add('raw seam, aligned', time(reps, () => { const mr = seam.ibvRegMr(pd.handle, page, access, out); return () => seam.ibvDeregMr(mr); }));
    add('raw seam, unaligned', time(reps, () => { const mr = seam.ibvRegMr(pd.handle, plain, access, out); return () => seam.ibvDeregMr(mr); }));
    add('pd.register, aligned', time(reps, () => { const mr = pd.register(page); return () => mr.close(); }));
    add('pd.register, unaligned', time(reps, () => { const mr = pd.register(plain); return () => mr.close(); }));
  }
  console.log(`${size} bytes (µs, median of each round's median; three rounds)`);
  for (const [name, runs] of Object.entries(rows)) {
    const med = (k) => summarize(runs.map((r) => r[k])).median.toFixed(1);
    console.log(`  ${name.padEnd(24)} reg ${med('reg').padStart(7)}   dereg ${med('dereg').padStart(7)}`);
  }
}
dmb.close();
