'use strict';
// dmabridge's RDMA WRITE loop, shared by the one-host (bench/native.js) and
// two-host (bench/cluster.js) measurements.
const { nowNs } = require('./stats');

const DEPTH = 128; // outstanding writes, as perftest's default --tx-depth
const BATCH = 32; // requests per postSend; the last of each is signalled

/** Posts `count` writes keeping DEPTH outstanding; returns seconds from first post to last completion. */
function writeLoop({ a, cq, batch }, count) {
  let posted = 0, done = 0;
  const t0 = nowNs();
  while (done < count) {
    while (posted < count && posted - done + BATCH <= DEPTH) {
      a.postSend(batch);
      posted += BATCH;
    }
    done += cq.pollCount(16) * BATCH;
  }
  return (nowNs() - t0) / 1e9;
}

/** One signalled write whose completion is decoded: a failed run must not pass as a fast one. */
function checkWrites(pair) {
  pair.a.postSend([{ ...pair.batch[0], signaled: true }]);
  let wc;
  while (!(wc = pair.cq.poll(1)[0]));
  if (wc.status !== 'success') throw new Error(`RDMA write failed: ${wc.status}`);
}

module.exports = { writeLoop, checkWrites, DEPTH, BATCH };
