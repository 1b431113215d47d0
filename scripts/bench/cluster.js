'use strict';
// The two-host half of `npm run bench`, run in both guests of scripts/vm/pair.sh:
// RDMA WRITE bandwidth with 64 KiB messages over an rdma_cm connection,
// dmabridge against `ib_write_bw -R` on the same link, in the same boot.
// Host a serves (in each run perftest's server, then a dmabridge listener); host b drives
// both and writes the results to the JSON file named by argv[2].
const { execFileSync, spawnSync } = require('node:child_process');
const { writeFileSync } = require('node:fs');
const { open, encodeRemoteBuffer, decodeRemoteBuffer } = require('../../dist/src');
const { summarize } = require('../../dist/src/bench/stats');
const { writeLoop, writeBatch, checkWrites, DEPTH } = require('../../dist/src/bench/writes');
const { resultRow } = require('../../dist/src/bench/peers');

const role = process.env.DMABRIDGE_CLUSTER_ROLE;
const self = process.env.DMABRIDGE_CLUSTER_SELF;
const peer = process.env.DMABRIDGE_CLUSTER_PEER;
const WARMUP = 1;
const REPS = Number(process.env.DMABRIDGE_BENCH_REPS ?? 5);
const COUNT = Number(process.env.DMABRIDGE_BENCH_CLUSTER_COUNT ?? 512);
const SIZE = 65536;
const RUNS = WARMUP + REPS;
const PERF_PORT = 18600, CM_PORT = 7600;
const MiB = 1 << 20;

const progress = (what) => process.stderr.write(`  cluster ${role}: ${what}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function perftestArgs(i) {
  return ['-R', '-d', 'rxe1', '-s', SIZE, '-n', COUNT, '-F', '-p', PERF_PORT + i].map(String);
}

/** ib_write_bw's client, retried while the server's next run is not listening yet. */
async function perftestClient(i) {
  for (let tries = 0; ; tries++) {
    const r = spawnSync('ib_write_bw', [...perftestArgs(i), peer], { encoding: 'utf8' });
    if (r.status === 0) return resultRow(r.stdout, SIZE).mibps;
    if (tries >= 60) throw new Error(`ib_write_bw -R client failed: ${r.stderr || r.stdout}`);
    await sleep(1000);
  }
}

/** Takes one dmabridge connection, advertises a udmabuf to write into, and waits for the client to go. */
async function serveOnce(dmb, listener) {
  const request = await listener.next();
  const pd = request.device.allocPd();
  const dst = dmb.createUdmabuf(SIZE);
  const mr = pd.registerDmaBuf(dst, { fallback: 'memfd-pages', access: ['local-write', 'remote-write'] });
  const conn = await request.accept({ pd, privateData: encodeRemoteBuffer(mr.remote()) });
  await conn.disconnected();
  conn.close();
  dst.close();
  pd.close();
}

async function connect(dmb, options) {
  for (let tries = 0; ; tries++) {
    try {
      return await dmb.connectRdma({ host: peer, port: CM_PORT }, options);
    } catch (e) {
      if (e.code !== 'ECONNREFUSED' || tries >= 60) throw e;
      await sleep(1000);
    }
  }
}

/** One dmabridge run: connect, write COUNT times into the server's buffer; MiB/s. */
async function writeOnce(dmb, src) {
  const conn = await connect(dmb, { maxSendWr: DEPTH, signalAll: false, cqSize: 256 });
  const mr = conn.pd.registerDmaBuf(src, { fallback: 'memfd-pages' });
  const remote = decodeRemoteBuffer(conn.privateData);
  const pair = { qp: conn.qp, cq: conn.cq, batch: writeBatch({ opcode: 'write', local: { mr }, remote }) };
  const secs = writeLoop(pair, COUNT);
  checkWrites(pair);
  conn.close();
  return (SIZE * COUNT) / secs / MiB;
}

// Each run is perftest's, then dmabridge's, so that a drift in the guests'
// speed weighs on both alike.
async function main() {
  const dmb = open({ backend: 'native' });
  if (role === 'a') {
    const listener = dmb.listenRdma({ host: self, port: CM_PORT });
    for (let i = 0; i < RUNS; i++) {
      progress(`run ${i + 1} of ${RUNS}: ib_write_bw -R server, then the dmabridge server`);
      execFileSync('ib_write_bw', perftestArgs(i), { stdio: 'ignore' });
      await serveOnce(dmb, listener);
    }
    listener.close();
  } else {
    const file = process.argv[2];
    if (!file) throw new Error('usage: node scripts/bench/cluster.js RESULTS.json (on host b)');
    const src = dmb.createUdmabuf(SIZE);
    const peerRuns = [], ours = [];
    for (let i = 0; i < RUNS; i++) {
      progress(`run ${i + 1} of ${RUNS}: ib_write_bw -R client, then the dmabridge client`);
      const theirs = await perftestClient(i);
      const mine = await writeOnce(dmb, src);
      if (i >= WARMUP) { peerRuns.push(theirs); ours.push(mine); }
    }
    src.close();
    const kernel = execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim();
    writeFileSync(file, JSON.stringify({ kernel, count: COUNT, reps: REPS, warmup: WARMUP, write64k: { mibps: { dmabridge: summarize(ours), peer: summarize(peerRuns) } } }, null, 2));
  }
  dmb.close();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
