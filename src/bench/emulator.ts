// The emulator's own speed: how many work requests per second the TypeScript
// model posts and completes, and how many MR registrations per second it
// makes. There is no C peer: the figures say what a test suite on the
// emulator can expect.
import type { ProtectionDomain } from '../verbs/pd';
import type { DmaBridge } from '../dmabridge';
import { nowNs, repeatAsync, type Summary } from './stats';
import { BATCH, DEPTH, topUp, writeBatch, type WritePair } from './writes';

export interface EmulatorResults {
  reps: number;
  warmup: number;
  quick: boolean;
  /** 64 B RDMA writes posted and completed per second. */
  wrPerSec: Summary;
  /** 4 KiB registrations and deregistrations per second. */
  regPerSec: Summary;
}

const WARMUP = 1;

// The emulator runs posted requests on a later turn of the event loop, so the
// loop yields whenever no completion is ready, as a real program would.
const turn = () => new Promise(setImmediate);

export async function benchEmulator(dmb: DmaBridge, o: { reps: number; quick: boolean; progress(what: string): void }): Promise<EmulatorResults> {
  using dev = dmb.openRdma('rxe0');
  o.progress('64 B RDMA writes…');
  const wrPerSec = await wrRate(dev.allocPd(), o.quick ? 4096 : 65536, o.reps);
  o.progress('4 KiB registrations…');
  const regPerSec = await regRate(dev.allocPd(), o.quick ? 2000 : 20000, o.reps);
  return { reps: o.reps, warmup: WARMUP, quick: o.quick, wrPerSec, regPerSec };
}

async function wrRate(pd: ProtectionDomain, count: number, reps: number): Promise<Summary> {
  const cq = pd.device.createCq(256);
  const qp = pd.createQp(cq, cq, { signalAll: false, maxSendWr: DEPTH });
  const sink = pd.createQp(pd.device.createCq(16));
  qp.connect(sink.endpoint());
  sink.connect(qp.endpoint());
  const src = pd.register(new Uint8Array(4096));
  const dst = pd.register(new Uint8Array(4096), { access: ['local-write', 'remote-write'] });
  const pair: WritePair = { qp, cq, batch: writeBatch({ opcode: 'write', local: { mr: src, length: 64 }, remote: dst.remote() }), sink: [sink, dst] };
  return repeatAsync(WARMUP, reps, async () => {
    let posted = 0, done = 0;
    const t0 = nowNs();
    while (done < count) {
      posted = topUp(pair, posted, done, count);
      const n = cq.pollCount(16);
      if (n === 0) await turn();
      done += n * BATCH;
    }
    return count / ((nowNs() - t0) / 1e9);
  });
}

function regRate(pd: ProtectionDomain, count: number, reps: number): Promise<Summary> {
  const buf = new Uint8Array(4096);
  return repeatAsync(WARMUP, reps, async () => {
    const t0 = nowNs();
    for (let i = 0; i < count; i++) pd.register(buf).close();
    return count / ((nowNs() - t0) / 1e9);
  });
}
