'use strict';
// The two-host half of `npm run bench`, run in both guests of scripts/vm/pair.sh:
// RDMA WRITE bandwidth with 64 KiB messages over an rdma_cm connection,
// dmabridge against `ib_write_bw -R` on the same link, in the same boot; and
// 8-byte SEND latency, busy-polled and awaited, against `ib_send_lat -R`.
// Host a serves (in each run perftest's server, then a dmabridge listener); host b drives
// both and writes the results to the JSON file named by argv[2].
const { execFileSync, spawnSync } = require('node:child_process');
const { writeFileSync } = require('node:fs');
const { open, encodeRemoteBuffer, decodeRemoteBuffer } = require('../../dist/src');
const { summarize } = require('../../dist/src/bench/stats');
const { writeLoop, writeBatch, checkWrites, DEPTH } = require('../../dist/src/bench/writes');
const { resultRow, latencyRow } = require('../../dist/src/bench/peers');
const { CmPingPong, MESSAGE } = require('../../dist/src/bench/cm-pingpong');

const role = process.env.DMABRIDGE_CLUSTER_ROLE;
const self = process.env.DMABRIDGE_CLUSTER_SELF;
const peer = process.env.DMABRIDGE_CLUSTER_PEER;
const WARMUP = 1;
const REPS = Number(process.env.DMABRIDGE_BENCH_REPS ?? 5);
const COUNT = Number(process.env.DMABRIDGE_BENCH_CLUSTER_COUNT ?? 512);
const SIZE = 65536;
const RUNS = WARMUP + REPS;
const PINGS = Number(process.env.DMABRIDGE_BENCH_CLUSTER_PINGS ?? 1000);
const PERF_PORT = 18600, LAT_PORT = 18700, CM_PORT = 7600, PING_PORT = 7601;
const MODES = ['poll', 'await'];
const MiB = 1 << 20;

const progress = (what) => process.stderr.write(`  cluster ${role}: ${what}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function perftestArgs(i) {
  return ['-R', '-d', 'rxe1', '-s', SIZE, '-n', COUNT, '-F', '-p', PERF_PORT + i].map(String);
}

function latencyArgs(i) {
  return ['-R', '-d', 'rxe1', '-s', MESSAGE, '-n', PINGS, '-F', '-p', LAT_PORT + i].map(String);
}

/** A perftest client, retried while the server's next run is not listening yet; its output. */
async function perftestClient(program, args) {
  for (let tries = 0; ; tries++) {
    const r = spawnSync(program, [...args, peer], { encoding: 'utf8' });
    if (r.status === 0) return r.stdout;
    if (tries >= 60) throw new Error(`${program} -R client failed: ${r.stderr || r.stdout}`);
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

/** Answers one run of pings per mode on one connection. */
async function pongOnce(listener) {
  const request = await listener.next();
  const pong = new CmPingPong(request.device.allocPd());
  const conn = await request.accept(pong.options());
  pong.attach(conn);
  for (const mode of MODES) await pong.pong(mode, PINGS);
  await conn.disconnected();
  conn.close();
  pong.pd.close();
}

/** One run of pings per mode on one connection; each mode's median and 99th percentile one-way latency, ns. */
async function pingOnce(dmb) {
  const { side, conn } = await retried(async () => {
    const route = await dmb.resolveRdma({ host: peer, port: PING_PORT });
    const side = new CmPingPong(route.device.allocPd());
    try {
      const conn = await route.connect(side.options());
      side.attach(conn);
      return { side, conn };
    } catch (e) {
      side.pd.close();
      throw e;
    } finally {
      route.close();
    }
  });
  const result = {};
  for (const mode of MODES) {
    const s = Float64Array.from(await side.ping(mode, PINGS)).sort();
    result[mode] = { median: s[s.length >> 1], p99: s[Math.min(s.length - 1, Math.floor(s.length * 0.99))] };
  }
  conn.close();
  side.pd.close();
  return result;
}

/** `attempt` until it does not fail with ECONNREFUSED: the peer's listener may not be up yet. */
async function retried(attempt) {
  for (let tries = 0; ; tries++) {
    try {
      return await attempt();
    } catch (e) {
      if (e.code !== 'ECONNREFUSED' || tries >= 60) throw e;
      await sleep(1000);
    }
  }
}

/** One dmabridge run: connect, write COUNT times into the server's buffer; MiB/s. */
async function writeOnce(dmb, src) {
  const conn = await retried(() => dmb.connectRdma({ host: peer, port: CM_PORT }, { maxSendWr: DEPTH, signalAll: false, cqSize: 256 }));
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
    const pings = dmb.listenRdma({ host: self, port: PING_PORT });
    for (let i = 0; i < RUNS; i++) {
      progress(`run ${i + 1} of ${RUNS}: ib_write_bw -R server, the dmabridge server, ib_send_lat -R server, the dmabridge ponger`);
      execFileSync('ib_write_bw', perftestArgs(i), { stdio: 'ignore' });
      await serveOnce(dmb, listener);
      execFileSync('ib_send_lat', latencyArgs(i), { stdio: 'ignore' });
      await pongOnce(pings);
    }
    listener.close();
    pings.close();
  } else {
    const file = process.argv[2];
    if (!file) throw new Error('usage: node scripts/bench/cluster.js RESULTS.json (on host b)');
    const src = dmb.createUdmabuf(SIZE);
    const bw = { peer: [], ours: [] };
    const lat = { peer: [], poll: [], await: [] };
    for (let i = 0; i < RUNS; i++) {
      progress(`run ${i + 1} of ${RUNS}: ib_write_bw -R client, the dmabridge client, ib_send_lat -R client, the dmabridge pinger`);
      const theirBw = resultRow(await perftestClient('ib_write_bw', perftestArgs(i)), SIZE).mibps;
      const ourBw = await writeOnce(dmb, src);
      const theirLat = latencyRow('ib_send_lat', await perftestClient('ib_send_lat', latencyArgs(i)), MESSAGE);
      const ourLat = await pingOnce(dmb);
      if (i < WARMUP) continue;
      bw.peer.push(theirBw);
      bw.ours.push(ourBw);
      lat.peer.push(theirLat);
      for (const mode of MODES) lat[mode].push(ourLat[mode]);
    }
    src.close();
    const row = (ours) => ({
      median: { dmabridge: summarize(ours.map((x) => x.median)), peer: summarize(lat.peer.map((x) => x.median)) },
      p99: { dmabridge: summarize(ours.map((x) => x.p99)), peer: summarize(lat.peer.map((x) => x.p99)) },
    });
    const kernel = execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim();
    writeFileSync(file, JSON.stringify({
      kernel, count: COUNT, reps: REPS, warmup: WARMUP,
      write64k: { mibps: { dmabridge: summarize(bw.ours), peer: summarize(bw.peer) } },
      sendLatency: { size: MESSAGE, iters: PINGS, poll: row(lat.poll), await: row(lat.await) },
    }, null, 2));
  }
  dmb.close();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
