// 8-byte ping-pong latency between two processes on one device, next to
// ib_send_lat and ib_write_lat on the same device, run for run: SEND
// busy-polled (cq.pollCount) and awaited (cq.next(), with the CQ's default
// spin), and RDMA WRITE into memory the peer polls.
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import type { DmaBridge } from '../dmabridge';
import { DEFAULT_SPIN } from '../verbs/cq';
import { against, type Measured } from './measured';
import { perftestLatency, type PeerRun, type PerftestLatency } from './peers';
import { MESSAGE, pingSide, type PingMode } from './pingpong';
import { summarize } from './stats';

export interface LatencyRow {
  median: Measured;
  p99: Measured;
}

export interface Latency {
  size: number;
  iters: number;
  /** next()'s spin in the awaited runs, µs. */
  spin: number;
  sendPoll: LatencyRow;
  sendAwait: LatencyRow;
  writePoll: LatencyRow;
}

export interface LatencyOptions {
  device: string;
  gid: number | undefined;
  iters: number;
  reps: number;
  warmup: number;
}

/** Median and 99th percentile of one run's samples. */
function percentiles(ns: Float64Array): PerftestLatency {
  const s = Float64Array.from(ns).sort();
  return { median: s[s.length >> 1]!, p99: s[Math.min(s.length - 1, Math.floor(s.length * 0.99))]! };
}

export async function benchLatency(dmb: DmaBridge, o: LatencyOptions): Promise<Latency> {
  const { device: me, side } = pingSide(dmb, o.device, DEFAULT_SPIN);
  const peer = fork(path.join(__dirname, 'latency-peer.js'), [], { serialization: 'advanced', stdio: 'inherit' });
  const gone = exited(peer);
  gone.catch(() => {});
  try {
    const ask = async (command: object): Promise<Record<string, unknown>> => {
      peer.send(command);
      const [reply] = (await Promise.race([once(peer, 'message'), gone])) as [Record<string, unknown>];
      if ('error' in reply) throw new Error(`the latency peer failed: ${String(reply.error)}`);
      return reply;
    };
    const { side: theirs } = (await ask({ setup: { backend: dmb.backend, device: o.device, spin: DEFAULT_SPIN } })) as { side: Parameters<typeof side.connect>[0] };
    side.connect(theirs);
    await ask({ connect: side.side() });
    let first = 1;
    const run = async (mode: PingMode): Promise<PerftestLatency> => {
      const start = first;
      first += 2 * o.iters;
      const pong = ask({ run: { mode, first: start, iters: o.iters } });
      const samples = await side.ping(mode, start, o.iters);
      await pong;
      return percentiles(samples);
    };
    const sendLat = perftestLatency('ib_send_lat'), writeLat = perftestLatency('ib_write_lat');
    const peerOptions = { device: o.device, size: MESSAGE, count: o.iters, gid: o.gid };
    const ours: Record<PingMode, PerftestLatency[]> = { 'send-poll': [], 'send-await': [], 'write-poll': [] };
    const c = { send: [] as PerftestLatency[], write: [] as PerftestLatency[] };
    // Alternating, so that a drift in the machine's speed weighs on both alike.
    for (let i = -o.warmup; i < o.reps; i++) {
      const r = { sp: await run('send-poll'), cs: 'run' in sendLat ? sendLat.run(peerOptions) : undefined,
        sa: await run('send-await'), wp: await run('write-poll'), cw: 'run' in writeLat ? writeLat.run(peerOptions) : undefined };
      if (i < 0) continue;
      ours['send-poll'].push(r.sp);
      ours['send-await'].push(r.sa);
      ours['write-poll'].push(r.wp);
      if (r.cs) c.send.push(r.cs);
      if (r.cw) c.write.push(r.cw);
    }
    const row = (mine: PerftestLatency[], peerRuns: PeerRun<PerftestLatency[]>): LatencyRow => ({
      median: against(summarize(mine.map((x) => x.median)), peerRuns, (runs) => runs.map((x) => x.median)),
      p99: against(summarize(mine.map((x) => x.p99)), peerRuns, (runs) => runs.map((x) => x.p99)),
    });
    const sendPeer = 'run' in sendLat ? { out: c.send } : sendLat;
    return {
      size: MESSAGE, iters: o.iters, spin: DEFAULT_SPIN,
      sendPoll: row(ours['send-poll'], sendPeer),
      sendAwait: row(ours['send-await'], sendPeer),
      writePoll: row(ours['write-poll'], 'run' in writeLat ? { out: c.write } : writeLat),
    };
  } finally {
    peer.disconnect();
    me.close();
  }
}

/** Rejects when the peer process ends before it answers. */
async function exited(child: ChildProcess): Promise<never> {
  const [code, signal] = await once(child, 'exit');
  throw new Error(`the latency peer exited (${signal ?? code}) before it answered`);
}
