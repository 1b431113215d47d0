'use strict';
// Where the two-process latency gap goes: the busy-polled SEND ping-pong of
// the bench (src/bench/pingpong.ts) with both sides in this process, in turn,
// and with the ponger in a process of its own, as the bench runs it. Times
// each round trip and, within it, the pinger's post() (encoding, the N-API
// call and the post_send syscall, and reaping its send completions).
// Run in the VM:
//   scripts/vm/run.sh -- node scripts/bench/hop-probe.js
// Prints the medians, µs.
const { fork } = require('node:child_process');
const { once } = require('node:events');
const path = require('node:path');
const { open } = require('../../dist/src');
const { pingSide } = require('../../dist/src/bench/pingpong');
const { nowNs } = require('../../dist/src/bench/stats');

const N = 2000;
const median = (xs) => Float64Array.from(xs).sort()[xs.length >> 1] / 1e3;

/** Times N round trips, each running `hop(seq)` (the ponger's part, where it is in this process) after the pinger's post. */
async function measure(ping, hop) {
  const post = [], trip = [];
  for (let i = 0; i < N; i++) {
    const seq = 1 + 2 * i;
    const t0 = nowNs();
    ping.post('send-poll', seq);
    const t1 = nowNs();
    await hop(seq);
    ping.receivePolling('send-poll', seq + 1);
    post.push(t1 - t0);
    trip.push(nowNs() - t0);
  }
  return `round trip ${median(trip).toFixed(0)}, of which the pinger's post() ${median(post).toFixed(0)}`;
}

async function main() {
  const dmb = open({ backend: 'native' });
  const a = pingSide(dmb, 'rxe0', 20).side, b = pingSide(dmb, 'rxe0', 20).side;
  a.connect(b.side());
  b.connect(a.side());
  console.log(`one process:   ${await measure(a, (seq) => { b.receivePolling('send-poll', seq); b.post('send-poll', seq + 1); })}`);

  const ping = pingSide(dmb, 'rxe0', 20).side;
  const peer = fork(path.join(__dirname, '../../dist/src/bench/latency-peer.js'), [], { serialization: 'advanced' });
  const ask = async (command) => { peer.send(command); return (await once(peer, 'message'))[0]; };
  ping.connect((await ask({ setup: { backend: 'native', device: 'rxe0', spin: 20 } })).side);
  await ask({ connect: ping.side() });
  const pong = ask({ run: { mode: 'send-poll', first: 1, iters: N } });
  console.log(`two processes: ${await measure(ping, () => {})}`);
  await pong;
  peer.disconnect();
  dmb.close();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
