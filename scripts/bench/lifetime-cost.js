'use strict';
// The JS side of pd.register(4 KiB).close() on this machine: the emulator's
// verbs with ibv_reg_mr/ibv_dereg_mr answered at once, so what is timed is
// dmabridge's own work (arguments, the MemoryRegion, its lifetime bookkeeping
// and the GC it causes). Two loops: one that never yields, and one that
// yields to the event loop every 100 registrations, as programs do.
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
const mr = { handle: 1, lkey: 1, rkey: 1, addr: 0n, length: 4096n };
backend.ibvRegMr = () => mr;
backend.ibvDeregMr = () => {};

const dmb = open({ backend });
const pd = dmb.openRdma('rxe0').allocPd();
const buf = new Uint8Array(new SharedArrayBuffer(4096));
const N = 200_000, YIELD = 100;

function tight() {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) pd.register(buf).close();
  return Number(process.hrtime.bigint() - t0) / N;
}

async function yielding() {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    pd.register(buf).close();
    if (i % YIELD === YIELD - 1) await new Promise(setImmediate);
  }
  return Number(process.hrtime.bigint() - t0) / N;
}

async function main() {
  const rows = { tight: [], yielding: [] };
  for (let round = 0; round < 5; round++) {
    rows.tight.push(tight());
    rows.yielding.push(await yielding());
  }
  for (const [name, ns] of Object.entries(rows)) {
    ns.sort((a, b) => a - b);
    console.log(`${name.padEnd(9)} ${(ns[2] / 1000).toFixed(2)} µs per register+close (median of 5 runs of ${N}; min ${(ns[0] / 1000).toFixed(2)}, max ${(ns[4] / 1000).toFixed(2)})`);
  }
}
main();
