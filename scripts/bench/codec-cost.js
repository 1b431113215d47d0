'use strict';
// What packing and unpacking one work request or completion costs in JS
// (seam/work-requests.ts), on this machine: each codec function a million
// times over arrays of 16, the six interleaved, four rounds; prints the last
// round's ns per call.
//   node scripts/bench/codec-cost.js
const c = require('../../dist/seam/work-requests');

const send = new BigUint64Array(c.SEND_WR_WORDS * 16);
const recv = new BigUint64Array(c.RECV_WR_WORDS * 16);
const wcs = c.wcWords(16);
const wr = { wrId: 7n, opcode: 0, flags: 2, sge: { addr: 0x1000n, length: 8, lkey: 0x1234 }, remoteAddr: 0x2000n, rkey: 0x5678, imm: 0 };
const wc = { wrId: 7n, status: 0, opcode: 1, vendorErr: 0, byteLen: 8, imm: 0, qpNum: 17, srcQp: 0, flags: 0 };
for (let i = 0; i < 16; i++) {
  c.encodeSend(send, i, wr);
  c.encodeRecv(recv, i, wr);
  c.encodeWc(wcs, i, wc);
}
let sink = 0;
const calls = {
  encodeSend: (k) => c.encodeSend(send, k & 15, wr),
  decodeSend: (k) => { sink += c.decodeSend(send, k & 15).rkey; },
  encodeRecv: (k) => c.encodeRecv(recv, k & 15, wr),
  decodeRecv: (k) => { sink += c.decodeRecv(recv, k & 15).sge.length; },
  encodeWc: (k) => c.encodeWc(wcs, k & 15, wc),
  decodeWc: (k) => { const d = c.decodeWc(wcs, k & 15); sink += d.byteLen + (d.wrId === 3n ? 1 : 0); },
};
const N = 1_000_000;
const ns = {};
for (let round = 0; round < 4; round++) {
  for (const [name, fn] of Object.entries(calls)) {
    const t0 = process.hrtime.bigint();
    for (let k = 0; k < N; k++) fn(k);
    ns[name] = Number(process.hrtime.bigint() - t0) / N;
  }
}
for (const [name, t] of Object.entries(ns)) console.log(`${name.padEnd(11)} ${t.toFixed(1).padStart(6)} ns`);
if (sink === -1) console.log(sink);
