'use strict';
// The native half of `npm run bench`, run inside the real-kernel VM: each
// measurement of dmabridge next to its C peer (perftest's ib_write_bw, or a
// program from bench/peers/ built into .cache/bench/), on the same device.
// Progress goes to stderr; the results go to the JSON file named by argv[2].
const { execFileSync, spawn } = require('node:child_process');
const { writeFileSync } = require('node:fs');
const path = require('node:path');
const { open } = require('../dist/src');
const { WC_WORDS } = require('../dist/src/backend-verbs');
const { summarize, repeat, nowNs } = require('./stats');
const { writeLoop, checkWrites, DEPTH, BATCH } = require('./writes');

const ROOT = path.join(__dirname, '..');
const PEERS = path.join(ROOT, '.cache/bench');
const DEVICE = 'rxe0';
const WARMUP = 1;
const REPS = Number(process.env.DMABRIDGE_BENCH_REPS ?? 5);
const MiB = 1 << 20;

const progress = (what) => process.stderr.write(`  native: ${what}\n`);

function peer(name, args) {
  return JSON.parse(execFileSync(path.join(PEERS, name), args.map(String), { encoding: 'utf8' }));
}

/** The first IPv4-mapped GID, as dmabridge's QPs use by default; perftest must use the same. */
function gidIndex(dev) {
  for (let i = 0; i < dev.port(1).gidTableLength; i++) {
    try {
      if (dev.gid(1, i).startsWith('0:0:0:0:0:ffff:')) return i;
    } catch {}
  }
  throw new Error(`${DEVICE} has no IPv4-mapped GID`);
}

// ---- RDMA WRITE: dmabridge ----

function writePair(dmb, pd, size) {
  const cq = pd.device.createCq(256);
  const sink = pd.device.createCq(16);
  const a = pd.createQp(cq, cq, { signalAll: false, maxSendWr: DEPTH });
  const b = pd.createQp(sink);
  a.connect(b.endpoint());
  b.connect(a.endpoint());
  const bytes = Math.max(size, 4096);
  const src = dmb.createUdmabuf(bytes);
  const dst = dmb.createUdmabuf(bytes);
  const srcMr = pd.registerDmaBuf(src, { fallback: 'memfd-pages' });
  const dstMr = pd.registerDmaBuf(dst, { fallback: 'memfd-pages', access: ['local-write', 'remote-write'] });
  const batch = Array.from({ length: BATCH }, (_, i) => ({
    opcode: 'write', local: { mr: srcMr, length: size }, remote: dstMr.remote(), signaled: i === BATCH - 1,
  }));
  return { a, cq, batch, srcMr, dstMr };
}

// ---- RDMA WRITE: ib_write_bw ----

let port = 18515;

/**
 * ib_write_bw server and client on DEVICE over loopback; returns { mibps, mpps }
 * of the client's report. `postList` posts that many requests per
 * ibv_post_send (-l), as dmabridge batches them.
 */
function ibWriteBw(size, count, gid, postList = 1) {
  const args = ['-d', DEVICE, '-x', gid, '-s', size, '-n', count, '-F', '-p', ++port, ...(postList > 1 ? ['-l', postList] : [])].map(String);
  const server = spawn('ib_write_bw', args, { stdio: 'ignore' });
  let out;
  for (let tries = 0; ; tries++) {
    try {
      out = execFileSync('ib_write_bw', [...args, '127.0.0.1'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      break;
    } catch (e) {
      if (tries >= 20) { server.kill(); throw new Error(`ib_write_bw client failed: ${e.stderr || e.message}`); }
      execFileSync('sleep', ['0.5']);
    }
  }
  const row = out.split('\n').map((l) => l.trim().split(/\s+/).map(Number)).find((c) => c.length === 5 && c[0] === size);
  if (!row) throw new Error(`no result row in ib_write_bw's output:\n${out}`);
  return { mibps: row[3], mpps: row[4] };
}

function benchWrites(dmb, pd, gid, size, count) {
  const pair = writePair(dmb, pd, size);
  const secs = [];
  for (let i = -WARMUP; i < REPS; i++) {
    const s = writeLoop(pair, count);
    if (i >= 0) secs.push(s);
  }
  checkWrites(pair);
  const peerRuns = [];
  for (let i = -WARMUP; i < REPS; i++) {
    const r = ibWriteBw(size, count, gid);
    if (i >= 0) peerRuns.push(r);
  }
  const result = {
    mibps: { dmabridge: summarize(secs.map((s) => (size * count) / s / MiB)), peer: summarize(peerRuns.map((r) => r.mibps)) },
    mpps: { dmabridge: summarize(secs.map((s) => count / s / 1e6)), peer: summarize(peerRuns.map((r) => r.mpps)) },
  };
  if (size <= 4096) {
    // The like-for-like peer for small messages: perftest posting BATCH per call too.
    const batched = [];
    for (let i = -WARMUP; i < REPS; i++) {
      const r = ibWriteBw(size, count, gid, BATCH);
      if (i >= 0) batched.push(r);
    }
    result.mppsBatched = { dmabridge: result.mpps.dmabridge, peer: summarize(batched.map((r) => r.mpps)) };
  }
  return result;
}

// ---- MR registration ----

function benchRegistration(pd, size, reps) {
  const buf = new Uint8Array(size).fill(1);
  const reg = [], dereg = [];
  for (let i = -2; i < reps; i++) {
    const t0 = nowNs();
    const mr = pd.register(buf);
    const t1 = nowNs();
    mr.close();
    const t2 = nowNs();
    if (i >= 0) { reg.push(t1 - t0); dereg.push(t2 - t1); }
  }
  const c = peer('reg-loop', [DEVICE, size, 2, reps]);
  return {
    reg: { dmabridge: summarize(reg), peer: summarize(c.reg) },
    dereg: { dmabridge: summarize(dereg), peer: summarize(c.dereg) },
  };
}

// ---- CPU fill and read of a mapped dma-heap buffer ----

function benchFill(dmb, size) {
  const buf = dmb.allocHeap(size);
  const map = buf.map('rw');
  const dst = new Uint8Array(size);
  // The same read through Node's Buffer.copy (a C++ memmove), to tell V8's own
  // TypedArray copy apart from the mapping.
  const src = Buffer.from(map.view.buffer, map.view.byteOffset, map.view.length);
  const fill = [], read = [], copy = [];
  for (let i = -WARMUP; i < REPS; i++) {
    const t0 = nowNs();
    map.begin('write');
    map.view.fill(0xab ^ (i & 1));
    map.end();
    const t1 = nowNs();
    map.begin('read');
    dst.set(map.view);
    map.end();
    const t2 = nowNs();
    if (dst[size >> 1] !== (0xab ^ (i & 1))) throw new Error('read back the wrong byte');
    dst[size >> 1] = 0;
    map.begin('read');
    src.copy(dst);
    map.end();
    const t3 = nowNs();
    if (dst[size >> 1] !== (0xab ^ (i & 1))) throw new Error('Buffer.copy read back the wrong byte');
    if (i >= 0) { fill.push(t1 - t0); read.push(t2 - t1); copy.push(t3 - t2); }
  }
  buf.close(); // the C peer needs the memory
  const c = peer('fill', [size, WARMUP, REPS]);
  const mibps = (ns) => size / (ns / 1e9) / MiB;
  return {
    fill: { dmabridge: summarize(fill.map(mibps)), peer: summarize(c.fill.map(mibps)) },
    read: { dmabridge: summarize(read.map(mibps)), peer: summarize(c.read.map(mibps)) },
    copy: { dmabridge: summarize(copy.map(mibps)), peer: summarize(c.read.map(mibps)) },
  };
}

// ---- one call across the seam ----

function perCallNs(n, fn) {
  return repeat(WARMUP, REPS, () => {
    const t0 = nowNs();
    for (let i = 0; i < n; i++) fn();
    return (nowNs() - t0) / n;
  });
}

function benchSeam(dmb, dev) {
  const cq = dev.createCq(256);
  const { kernel } = dmb;
  const out = new BigUint64Array(WC_WORDS);
  const n = 100_000;
  return {
    pollRaw: { dmabridge: perCallNs(n, () => kernel.ibvPollCq(cq.handle, out)), peer: summarize(peer('poll-empty', [DEVICE, 1_000_000, REPS]).poll) },
    pollCount: { dmabridge: perCallNs(n, () => cq.pollCount(1)) },
    memlock: { dmabridge: perCallNs(n, () => kernel.getMemlockLimit()) },
  };
}

function main() {
  const file = process.argv[2];
  if (!file) throw new Error('usage: node bench/native.js RESULTS.json');
  const dmb = open({ backend: 'native' });
  const dev = dmb.openRdma(DEVICE);
  const pd = dev.allocPd();
  const gid = gidIndex(dev);
  const results = { kernel: execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim(), reps: REPS, warmup: WARMUP };
  const step = (name, fn) => {
    const t0 = Date.now();
    progress(`${name}…`);
    results[name] = fn();
    progress(`${name} done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  };
  const counts = { bw: Number(process.env.DMABRIDGE_BENCH_BW_COUNT ?? 2048), rate: Number(process.env.DMABRIDGE_BENCH_RATE_COUNT ?? 16384) };
  results.counts = counts;
  step('seam', () => benchSeam(dmb, dev));
  step('write64k', () => benchWrites(dmb, pd, gid, 65536, counts.bw));
  step('write64', () => benchWrites(dmb, pd, gid, 64, counts.rate));
  step('reg4k', () => benchRegistration(pd, 4096, 200));
  step('reg1m', () => benchRegistration(pd, MiB, 50));
  step('reg256m', () => benchRegistration(pd, 256 * MiB, REPS));
  step('fill256m', () => benchFill(dmb, 256 * MiB));
  dmb.close();
  writeFileSync(file, JSON.stringify(results, null, 2));
}

main();
