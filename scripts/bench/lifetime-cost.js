'use strict';
// The JS side of pd.register(4 KiB).close() on this machine: the emulator's
// verbs with ibv_reg_mr/ibv_dereg_mr answered at once, so what is timed is
// dmabridge's own work (arguments, the MemoryRegion, its lifetime bookkeeping
// and the GC it causes). Two loops: one that never yields, and one that
// yields to the event loop every 100 registrations, as programs do. Each
// is timed by the wall clock and by this process's CPU time, which a busy
// shared machine inflates less.
//   node scripts/bench/lifetime-cost.js
const { open } = require('../../dist/src');
const { createEmulator } = require('../../dist/emulator');

const emu = createEmulator();
const backend = { name: emu.name };
for (let o = emu; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
  for (const k of Object.getOwnPropertyNames(o)) {
    if (k !== 'constructor' && !(k in backend) && typeof emu[k] === 'function') backend[k] = emu[k].bind(emu);
  }
}
backend.ibvRegMr = (pd, view, access, out) => {
  out[0] = 1n | (1n << 32n);
  out[1] = 0n;
  out[2] = 4096n;
  return 1;
};
backend.ibvDeregMr = () => {};

const dmb = open({ backend });
const pd = dmb.openRdma('rxe0').allocPd();
const buf = new Uint8Array(new SharedArrayBuffer(4096));
const N = 200_000, YIELD = 100;

/** Runs `loop`; returns its wall and CPU nanoseconds per registration. */
async function timed(loop) {
  const t0 = process.hrtime.bigint(), c0 = process.cpuUsage();
  await loop();
  const c = process.cpuUsage(c0);
  return { wall: Number(process.hrtime.bigint() - t0) / N, cpu: ((c.user + c.system) * 1000) / N };
}

const loops = {
  tight: () => {
    for (let i = 0; i < N; i++) pd.register(buf).close();
  },
  yielding: async () => {
    for (let i = 0; i < N; i++) {
      pd.register(buf).close();
      if (i % YIELD === YIELD - 1) await new Promise(setImmediate);
    }
  },
};

async function main() {
  const runs = { tight: [], yielding: [] };
  for (let round = 0; round < 5; round++) {
    for (const name of Object.keys(loops)) runs[name].push(await timed(loops[name]));
  }
  const median = (xs) => xs.sort((a, b) => a - b)[2] / 1000;
  for (const [name, r] of Object.entries(runs)) {
    const wall = r.map((x) => x.wall), cpu = r.map((x) => x.cpu);
    console.log(`${name.padEnd(9)} µs per register+close, median of 5 runs of ${N}: wall ${median(wall).toFixed(2)} (min ${(Math.min(...wall) / 1000).toFixed(2)}), CPU ${median(cpu).toFixed(2)} (min ${(Math.min(...cpu) / 1000).toFixed(2)})`);
  }
}
main();
