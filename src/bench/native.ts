// dmabridge on the real kernel next to its C peers on the same device and
// memory: RDMA WRITE bandwidth and message rate (ib_write_bw), MR
// registration (a C ibv_reg_mr loop), CPU fill and read of a mapped dma-buf
// (memset/memcpy), the cost of one call across the seam, and 8-byte
// ping-pong latency between two processes (ib_send_lat, ib_write_lat).
import { rdmaDevicesOrWhyNot } from '../cli/rdma-probe';
import type { RdmaDevice } from '../verbs/device';
import type { ProtectionDomain } from '../verbs/pd';
import type { DmaBridge } from '../dmabridge';
import { isSystemError } from '../../seam/system-error';
import { against, type Measured, type Step } from './measured';
import { cPeer, cPeerSession, ibWriteBw, type PeerRun, type PerftestResult } from './peers';
import { nowNs, repeat, summarize, type Summary } from './stats';
import { BATCH, DEPTH, checkWrites, writeBatch, writeLoop, type WritePair } from './writes';
import { loopbackPair } from '../verbs/loopback';
import { benchLatency, type Latency } from './latency';

export interface BenchOptions {
  /** RDMA device; default: the first whose port 1 is active. */
  device?: string;
  /** Timed runs per measurement, after one warm-up. */
  reps: number;
  /** Smaller counts and sizes: checks that everything runs, figures not comparable. */
  quick: boolean;
  progress(what: string): void;
}

export interface Writes {
  size: number;
  count: number;
  mibps: Measured;
  mpps: Measured;
  /** Small messages only: perftest posting BATCH per call too (-l). */
  mppsBatched?: Measured;
}

export interface Registered {
  size: number;
  /** One registration after another, as a loop that never yields does. */
  reg: Measured;
  dereg: Measured;
  /** The same loop yielding to the event loop every YIELD_EVERY registrations, as programs do (finalizers and GC get to run). */
  yielding: { reg: Measured; dereg: Measured };
}

/** One size's registration, or why it could not be made (the locked-memory limit, say). */
export type Registration = Registered | { size: number; skipped: string };

export interface Fill {
  size: number;
  fill: Measured;
  read: Measured;
  /** The same read through Buffer.copy (a C++ memmove), to tell V8's TypedArray copy apart from the mapping. */
  copy: Measured;
}

export interface Seam {
  /** A call that does nothing: the floor. */
  noop: Measured;
  pollRaw: Measured;
  pollCount: Measured;
  memlock: Measured;
  /** A call the kernel refuses (EINVAL), its error thrown and caught: what an error costs where a value would do. */
  thrown: Measured;
}

export interface NativeResults {
  kernel: string;
  device?: string;
  reps: number;
  warmup: number;
  quick: boolean;
  seam: Step<Seam>;
  bandwidth: Step<Writes>;
  rate: Step<Writes>;
  registration: Step<Registration[]>;
  fill: Step<Fill>;
  latency: Step<Latency>;
}

const WARMUP = 1;
const MiB = 1 << 20;
/** How often the yielding registration loop gives the event loop a turn. */
export const YIELD_EVERY = 10;

const FULL = { bandwidth: 2048, rate: 16384, regWarm: 2000, reg4k: 200, reg1m: 50, regLargeMiB: 256, fillMiB: 256, seamCalls: 100_000, pings: 1000 };
// Within the default ulimit -l of 8 MiB.
const QUICK = { bandwidth: 128, rate: 1024, regWarm: 100, reg4k: 20, reg1m: 10, regLargeMiB: 4, fillMiB: 16, seamCalls: 10_000, pings: 20 };

export async function benchNative(dmb: DmaBridge, kernel: string, o: BenchOptions): Promise<NativeResults> {
  const n = o.quick ? QUICK : FULL;
  const timed = async <T>(name: string, fn: () => T | Promise<T>): Promise<T> => {
    const t0 = Date.now();
    o.progress(`${name}…`);
    const result = await fn();
    o.progress(`${name} done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return result;
  };
  const base = { kernel, reps: o.reps, warmup: WARMUP, quick: o.quick };
  const fill = () => timed('fill', () => benchFill(dmb, n.fillMiB * MiB, o));
  const dev = openDevice(dmb, o.device);
  if (typeof dev === 'string') {
    const skipped = { skipped: dev };
    return { ...base, seam: skipped, bandwidth: skipped, rate: skipped, registration: skipped, fill: await fill(), latency: skipped };
  }
  using device = dev;
  using pd = device.allocPd();
  const gid = ipv4MappedGid(device);
  const noUdmabuf = udmabufAbsent(dmb);
  return {
    ...base,
    device: device.name,
    latency: await timed('latency', () => benchLatency(dmb, { device: device.name, gid, iters: n.pings, reps: o.reps, warmup: WARMUP })),
    seam: await timed('seam', () => benchSeam(dmb, device, n.seamCalls, o)),
    bandwidth: await timed('bandwidth', () => noUdmabuf ?? benchWrites(dmb, pd, gid, 65536, n.bandwidth, o)),
    rate: await timed('rate', () => noUdmabuf ?? benchWrites(dmb, pd, gid, 64, n.rate, o)),
    registration: await timed('registration', async () => {
      warmRegistration(pd, n.regWarm);
      return [
        await benchRegistration(pd, 4096, n.reg4k),
        await benchRegistration(pd, MiB, n.reg1m),
        await benchRegistration(pd, n.regLargeMiB * MiB, o.reps),
      ];
    }),
    fill: await fill(),
  };
}

function openDevice(dmb: DmaBridge, name: string | undefined): RdmaDevice | string {
  const found = rdmaDevicesOrWhyNot(dmb);
  if (typeof found === 'string') return found;
  if (name !== undefined) return dmb.openRdma(name);
  for (const entry of found) {
    const dev = dmb.openRdma(entry.name);
    if (dev.port(1).state === 'active') return dev;
    dev.close();
  }
  return `no RDMA device has port 1 active (${found.map((d) => d.name).join(', ')}); pick one with --device`;
}

/** The first IPv4-mapped GID, as dmabridge's QPs use by default; perftest must use the same. */
function ipv4MappedGid(dev: RdmaDevice): number | undefined {
  for (let i = 0; i < dev.port(1).gidTableLength; i++) {
    try {
      if (dev.gid(1, i).startsWith('0:0:0:0:0:ffff:')) return i;
    } catch {
      // An empty GID slot.
    }
  }
  return undefined;
}

function udmabufAbsent(dmb: DmaBridge): { skipped: string } | undefined {
  try {
    dmb.createUdmabuf(4096).close();
    return undefined;
  } catch (e) {
    return { skipped: `the writes go between udmabufs: ${(e as Error).message}` };
  }
}

function writePair(dmb: DmaBridge, pd: ProtectionDomain, size: number): WritePair {
  const cq = pd.device.createCq(256);
  const { qp, peer: sink } = loopbackPair(pd, cq, { signalAll: false, maxSendWr: DEPTH }, pd.device.createCq(16));
  const bytes = Math.max(size, 4096);
  const srcMr = pd.registerDmaBuf(dmb.createUdmabuf(bytes), { fallback: 'memfd-pages' });
  const dstMr = pd.registerDmaBuf(dmb.createUdmabuf(bytes), { fallback: 'memfd-pages', access: ['local-write', 'remote-write'] });
  return { qp, cq, batch: writeBatch({ opcode: 'write', local: { mr: srcMr, length: size }, remote: dstMr.remote() }), sink: [sink, dstMr] };
}

// dmabridge's runs and perftest's alternate, so that a drift in the
// machine's speed (large under TCG) weighs on both alike.
function benchWrites(dmb: DmaBridge, pd: ProtectionDomain, gid: number | undefined, size: number, count: number, o: BenchOptions): Writes {
  const pair = writePair(dmb, pd, size);
  const perftest = ibWriteBw();
  const options = { device: pd.device.name, size, count, gid };
  const small = size <= 4096;
  const secs: number[] = [], unbatched: PerftestResult[] = [], batched: PerftestResult[] = [];
  for (let i = -WARMUP; i < o.reps; i++) {
    const s = writeLoop(pair, count);
    const peer = 'run' in perftest ? perftest.run(options) : undefined;
    // The like-for-like peer for small messages: perftest posting BATCH per call too.
    const peerBatched = 'run' in perftest && small ? perftest.run({ ...options, postList: BATCH }) : undefined;
    if (i < 0) continue;
    secs.push(s);
    if (peer) unbatched.push(peer);
    if (peerBatched) batched.push(peerBatched);
  }
  checkWrites(pair);
  const ran = (runs: PerftestResult[]): PeerRun<PerftestResult[]> => ('run' in perftest ? { out: runs } : perftest);
  const mpps = summarize(secs.map((s) => count / s / 1e6));
  const result: Writes = {
    size, count,
    mibps: against(summarize(secs.map((s) => (size * count) / s / MiB)), ran(unbatched), (runs) => runs.map((r) => r.mibps)),
    mpps: against(mpps, ran(unbatched), (runs) => runs.map((r) => r.mpps)),
  };
  if (small) result.mppsBatched = against(mpps, ran(batched), (runs) => runs.map((r) => r.mpps));
  return result;
}

// register() and close() run untimed this often first, so that the loops
// measure the code V8 has optimized, as a program that registers in a loop
// runs it; the C loop needs no such start. Without it the 4 KiB loop timed
// V8's unoptimized tiers as much as the registration (scripts/bench/reg-probe.js
// with and without a warm-up shows the difference).
function warmRegistration(pd: ProtectionDomain, times: number): void {
  const buf = new Uint8Array(new SharedArrayBuffer(4096));
  for (let i = 0; i < times; i++) pd.register(buf).close();
}

async function benchRegistration(pd: ProtectionDomain, size: number, reps: number): Promise<Registration> {
  const buf = new Uint8Array(new SharedArrayBuffer(size)).fill(1);
  try {
    pd.register(buf).close();
  } catch (e) {
    if (!isSystemError(e) || (e.code !== 'ENOMEM' && e.code !== 'EPERM')) throw e;
    return { size, skipped: e.message };
  }
  const tight = await registrationLoop(pd, buf, reps, 0);
  const yielding = await registrationLoop(pd, buf, reps, YIELD_EVERY);
  const loop = cPeer('reg-loop', [pd.device.name, size, 2, reps]);
  const vsC = (t: { reg: number[]; dereg: number[] }) => ({
    reg: against(summarize(t.reg), loop, (c) => c.reg!),
    dereg: against(summarize(t.dereg), loop, (c) => c.dereg!),
  });
  return { size, ...vsC(tight), yielding: vsC(yielding) };
}

/** Times each register() and close() of `buf`; with `yieldEvery`, gives the event loop a turn (untimed) that often. */
async function registrationLoop(pd: ProtectionDomain, buf: Uint8Array, reps: number, yieldEvery: number): Promise<{ reg: number[]; dereg: number[] }> {
  const reg: number[] = [], dereg: number[] = [];
  for (let i = -2; i < reps; i++) {
    if (yieldEvery && i % yieldEvery === 0) await new Promise(setImmediate);
    const t0 = nowNs();
    const mr = pd.register(buf);
    const t1 = nowNs();
    mr.close();
    const t2 = nowNs();
    if (i >= 0) { reg.push(t1 - t0); dereg.push(t2 - t1); }
  }
  return { reg, dereg };
}

// Each run fills with the view, has the C peer read that back, has the C peer
// fill, then reads that back with the view and with Buffer.copy: all on the
// same memory and interleaved, so that a drift in the machine's speed weighs
// on both alike (run after run it was most of the gap).
async function benchFill(dmb: DmaBridge, size: number, o: BenchOptions): Promise<Step<Fill>> {
  if (!dmb.heaps().includes('system')) return { skipped: 'no /dev/dma_heap/system (a kernel with CONFIG_DMABUF_HEAPS_SYSTEM)' };
  const ours = { fill: [] as number[], read: [] as number[], copy: [] as number[] };
  const c = { fill: [] as number[], read: [] as number[] };
  using buf = dmb.allocHeap(size);
  using map = buf.map('rw');
  const dst = new Uint8Array(size);
  const src = Buffer.from(map.view.buffer, map.view.byteOffset, map.view.length);
  const peer = cPeerSession('fill', [size], buf.fd);
  const check = (value: number, what: string) => {
    if (dst[0] !== value || dst[size >> 1] !== value || dst[size - 1] !== value) throw new Error(`${what} read back the wrong bytes`);
    dst[size >> 1] = ~value & 0xff;
  };
  try {
    for (let i = -WARMUP; i < o.reps; i++) {
      const mine = 0xab ^ (i & 1), theirs = 0x5c ^ (i & 1);
      const t0 = nowNs();
      map.begin('write');
      map.view.fill(mine);
      map.end();
      const t1 = nowNs();
      const cRead = 'ask' in peer ? await peer.ask(`r ${mine}`) : 0;
      const cFill = 'ask' in peer ? await peer.ask(`w ${theirs}`) : 0;
      const expected = 'ask' in peer ? theirs : mine;
      const t2 = nowNs();
      map.begin('read');
      dst.set(map.view);
      map.end();
      const t3 = nowNs();
      check(expected, 'the view');
      map.begin('read');
      src.copy(dst);
      map.end();
      const t4 = nowNs();
      check(expected, 'Buffer.copy');
      if (i < 0) continue;
      ours.fill.push(t1 - t0);
      ours.read.push(t3 - t2);
      ours.copy.push(t4 - t3);
      c.fill.push(cFill);
      c.read.push(cRead);
    }
  } finally {
    if ('close' in peer) await peer.close();
  }
  const mibps = (ns: readonly number[]) => ns.map((t) => size / (t / 1e9) / MiB);
  const ran: PeerRun<typeof c> = 'absent' in peer ? peer : { out: c };
  return {
    size,
    fill: against(summarize(mibps(ours.fill)), ran, (out) => mibps(out.fill)),
    read: against(summarize(mibps(ours.read)), ran, (out) => mibps(out.read)),
    copy: against(summarize(mibps(ours.copy)), ran, (out) => mibps(out.read)),
  };
}

function perCallNs(o: BenchOptions, n: number, fn: () => unknown): Summary {
  return repeat(WARMUP, o.reps, () => {
    const t0 = nowNs();
    for (let i = 0; i < n; i++) fn();
    return (nowNs() - t0) / n;
  });
}

function benchSeam(dmb: DmaBridge, dev: RdmaDevice, n: number, o: BenchOptions): Seam {
  using cq = dev.createCq(256);
  const { seam } = dmb;
  const pollRaw = perCallNs(o, n, () => seam.ibvPollCq(cq.handle, 1));
  return {
    pollRaw: against(pollRaw, cPeer('poll-empty', [dev.name, n * 10, o.reps]), (c) => c.poll!),
    noop: { dmabridge: perCallNs(o, n, () => seam.noop()) },
    pollCount: { dmabridge: perCallNs(o, n, () => cq.pollCount(1)) },
    memlock: { dmabridge: perCallNs(o, n, () => seam.getMemlockLimit()) },
    thrown: { dmabridge: perCallNs(o, n, () => {
      try {
        // No event was taken: EINVAL.
        seam.ibvAckCqEvents(cq.handle, 1);
      } catch (e) {
        return e;
      }
      throw new Error('ibv_ack_cq_events of an event never taken did not fail');
    }) },
  };
}
