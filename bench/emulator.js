'use strict';
// The emulator half of `npm run bench`, run on the host: how many work
// requests per second the TypeScript model posts and completes, and how many
// MR registrations per second it makes. It has no C peer: the numbers say
// what a test suite on the emulator can expect. Results go to argv[2].
const { writeFileSync } = require('node:fs');
const { open } = require('../dist/src');
const { summarize, nowNs } = require('./stats');

const WARMUP = 1;
const REPS = Number(process.env.DMABRIDGE_BENCH_REPS ?? 5);
const DEPTH = 128;
const BATCH = 32;

const progress = (what) => process.stderr.write(`  emulator: ${what}\n`);

// The emulator runs posted requests on a later turn of the event loop, so the
// loop yields whenever no completion is ready, as a real program would.
const turn = () => new Promise(setImmediate);

async function repeatAsync(fn) {
  for (let i = 0; i < WARMUP; i++) await fn();
  const out = [];
  for (let i = 0; i < REPS; i++) out.push(await fn());
  return summarize(out);
}

async function wrRate(pd, count) {
  const cq = pd.device.createCq(256);
  const a = pd.createQp(cq, cq, { signalAll: false, maxSendWr: DEPTH });
  const b = pd.createQp(pd.device.createCq(16));
  a.connect(b.endpoint());
  b.connect(a.endpoint());
  const src = pd.register(new Uint8Array(4096));
  const dst = pd.register(new Uint8Array(4096), { access: ['local-write', 'remote-write'] });
  const batch = Array.from({ length: BATCH }, (_, i) => ({
    opcode: 'write', local: { mr: src, length: 64 }, remote: dst.remote(), signaled: i === BATCH - 1,
  }));
  return repeatAsync(async () => {
    let posted = 0, done = 0;
    const t0 = nowNs();
    while (done < count) {
      while (posted < count && posted - done + BATCH <= DEPTH) {
        a.postSend(batch);
        posted += BATCH;
      }
      const n = cq.pollCount(16);
      if (n === 0) await turn();
      done += n * BATCH;
    }
    return count / ((nowNs() - t0) / 1e9);
  });
}

function regRate(pd, count) {
  const buf = new Uint8Array(4096);
  return repeatAsync(() => {
    const t0 = nowNs();
    for (let i = 0; i < count; i++) pd.register(buf).close();
    return count / ((nowNs() - t0) / 1e9);
  });
}

async function main() {
  const file = process.argv[2];
  if (!file) throw new Error('usage: node bench/emulator.js RESULTS.json');
  const dmb = open({ backend: 'emulator' });
  const dev = dmb.openRdma('rxe0');
  progress('64 B RDMA writes…');
  const wrs = await wrRate(dev.allocPd(), 65536);
  progress('4 KiB registrations…');
  const regs = await regRate(dev.allocPd(), 20000);
  writeFileSync(file, JSON.stringify({ reps: REPS, warmup: WARMUP, wrPerSec: wrs, regPerSec: regs }, null, 2));
  dmb.close();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
