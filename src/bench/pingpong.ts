// One side of an 8-byte ping-pong between two processes on one RDMA device,
// as perftest's ib_send_lat and ib_write_lat do it: SEND into a posted
// receive, or RDMA WRITE into the peer's memory that the peer spins on.
// The pinger (the bench) times each round trip and halves it, as perftest
// reports one-way latency; the ponger (latency-peer.ts) answers.
import type { DmaBridge } from '../dmabridge';
import type { CompletionQueue } from '../verbs/cq';
import type { MemoryRegion, RemoteBuffer } from '../verbs/mr';
import type { Endpoint, QueuePair, SendRequest } from '../verbs/qp';
import type { RdmaDevice } from '../verbs/device';
import { nowNs } from './stats';

export const MESSAGE = 8;
/** perftest sends small messages inline by default; so does a QP with room for them. */
const INLINE = 64;
/** Receives kept posted, and sends outstanding before the pinger waits for their completions. */
const DEPTH = 16;

/** How completions are awaited: `cq.pollCount` in a loop, `cq.next()` with the CQ's spin, or memory polled (WRITE). */
export type PingMode = 'send-poll' | 'send-await' | 'write-poll';

export interface PingSide {
  endpoint: Endpoint;
  inbox: RemoteBuffer;
}

/** A QP, its CQs and the 8-byte buffers one side of the ping-pong uses. */
export class PingPong {
  readonly sendCq: CompletionQueue;
  readonly recvCq: CompletionQueue;
  readonly qp: QueuePair;
  readonly #inbox = new Uint32Array(new SharedArrayBuffer(MESSAGE));
  readonly #outbox = new Uint32Array(new SharedArrayBuffer(MESSAGE));
  readonly #inboxMr: MemoryRegion;
  readonly #send: SendRequest;
  #write: SendRequest | undefined;
  #unreaped = 0;

  constructor(device: RdmaDevice, spin: number) {
    const pd = device.allocPd();
    this.sendCq = device.createCq(64, { spin });
    this.recvCq = device.createCq(64, { spin });
    this.qp = pd.createQp(this.sendCq, this.recvCq, { maxInlineData: INLINE, maxSendWr: DEPTH * 2, maxRecvWr: DEPTH * 2 });
    this.#inboxMr = pd.register(this.#inbox, { access: ['local-write', 'remote-write'] });
    const outboxMr = pd.register(this.#outbox);
    // Inline, as it fits maxInlineData.
    this.#send = { opcode: 'send', local: { mr: outboxMr } };
  }

  side(): PingSide {
    return { endpoint: this.qp.endpoint(), inbox: this.#inboxMr.remote() };
  }

  connect(peer: PingSide): void {
    this.qp.connect(peer.endpoint);
    this.#write = { ...this.#send, opcode: 'write', remote: peer.inbox };
    for (let i = 0; i < DEPTH; i++) this.qp.postRecv([{ local: { mr: this.#inboxMr } }]);
  }

  /** Sends message `seq` the way `mode` does. */
  post(mode: PingMode, seq: number): void {
    this.#outbox[0] = seq;
    this.qp.postSend([mode === 'write-poll' ? this.#write! : this.#send]);
    // Every send is signalled: reap them so the send queue never fills.
    this.#unreaped++;
    this.#unreaped -= this.sendCq.pollCount(DEPTH);
    while (this.#unreaped >= DEPTH) this.#unreaped -= this.sendCq.pollCount(DEPTH);
  }

  /** Waits for message `seq` from the peer by polling: its CQ, or its memory for a WRITE. */
  receivePolling(mode: PingMode, seq: number): void {
    if (mode === 'write-poll') {
      while (Atomics.load(this.#inbox, 0) !== seq);
      return;
    }
    while (this.recvCq.pollCount(1) === 0);
    this.#received(seq);
  }

  /** Waits for message `seq` from the peer with cq.next(). */
  async receiveAwaiting(seq: number): Promise<void> {
    const wc = await this.recvCq.next();
    if (wc.status !== 'success') throw new Error(`receive failed: ${wc.status}`);
    this.#received(seq);
  }

  #received(seq: number): void {
    if (Atomics.load(this.#inbox, 0) !== seq) throw new Error(`received ${Atomics.load(this.#inbox, 0)}, expected ${seq}`);
    this.qp.postRecv([{ local: { mr: this.#inboxMr } }]);
  }

  /** `iters` round trips from message `first` on; one-way latencies in ns, as perftest counts them (half a round trip). */
  async ping(mode: PingMode, first: number, iters: number): Promise<Float64Array> {
    const oneWay = new Float64Array(iters);
    for (let i = 0; i < iters; i++) {
      const seq = first + 2 * i;
      const t0 = nowNs();
      this.post(mode, seq);
      if (mode === 'send-await') await this.receiveAwaiting(seq + 1);
      else this.receivePolling(mode, seq + 1);
      oneWay[i] = (nowNs() - t0) / 2;
    }
    return oneWay;
  }

  /** Answers `iters` pings from message `first` on. */
  async pong(mode: PingMode, first: number, iters: number): Promise<void> {
    for (let i = 0; i < iters; i++) {
      const seq = first + 2 * i;
      if (mode === 'send-await') await this.receiveAwaiting(seq);
      else this.receivePolling(mode, seq);
      this.post(mode, seq + 1);
    }
  }
}

/** Opens `name` on dmb and makes one side. */
export function pingSide(dmb: DmaBridge, name: string, spin: number): { device: RdmaDevice; side: PingPong } {
  const device = dmb.openRdma(name);
  return { device, side: new PingPong(device, spin) };
}
