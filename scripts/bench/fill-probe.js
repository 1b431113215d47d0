'use strict';
// Fill of a mapped 256 MiB system-heap dma-buf three ways in one process,
// interleaved: the view's fill, Buffer.fill over the same memory, and (after)
// the C peer's memset. Run in the VM:
//   scripts/vm/run.sh -- node scripts/bench/fill-probe.js
// Prints MiB/s per repetition (the first, a warm-up, left out).
const { open } = require('../../dist/src');
const { cPeer } = require('../../dist/src/bench/peers');
const size = 256 << 20;
const dmb = open({ backend: 'native' });
const buf = dmb.allocHeap(size);
const map = buf.map('rw');
const view = map.view;
const asBuffer = Buffer.from(view.buffer, view.byteOffset, view.length);
const time = (fn) => { const t0 = process.hrtime.bigint(); fn(); return Number(process.hrtime.bigint() - t0); };
const res = { typed: [], buffer: [], typedNoSync: [] };
for (let i = 0; i < 8; i++) {
  res.typed.push(time(() => { map.begin('write'); view.fill(0xab ^ (i & 1)); map.end(); }));
  res.buffer.push(time(() => { map.begin('write'); asBuffer.fill(0xab ^ (i & 1)); map.end(); }));
  res.typedNoSync.push(time(() => view.fill(0x11)));
}
buf.close();
const c = cPeer('fill', [size, 1, 7]);
if ('absent' in c) throw new Error(c.absent);
const mibps = (ns) => (size / (ns / 1e9) / 2 ** 20).toFixed(0);
for (const [k, v] of Object.entries(res)) console.log(k.padEnd(12), v.slice(1).map(mibps).join(' '));
console.log('C memset    ', c.out.fill.map(mibps).join(' '));
