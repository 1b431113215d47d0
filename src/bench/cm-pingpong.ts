// 8-byte SEND ping-pong over an rdma_cm connection between two hosts, as
// `ib_send_lat -R` does it: the two-host half of the latency bench
// (scripts/bench/cluster.js). A connection has one CQ for its sends and
// receives, and every round gives each side one completion of each kind; so
// a side knows the peer's message is in from the count alone: the pinger once
// it has 2 completions per round it began, the ponger once it has one more
// than 2 per round it finished (its own sends account for at most the rest).
import type { ConnectionOptions, RdmaConnection } from '../rdmacm/connection';
import type { MemoryRegion } from '../verbs/mr';
import type { ProtectionDomain } from '../verbs/pd';
import type { SendRequest } from '../verbs/qp';
import { nowNs } from './stats';

export const MESSAGE = 8;
/** Receives kept posted. */
const DEPTH = 16;

/** `cq.pollCount` in a loop, or `cq.next()` with the CQ's spin. */
export type CmPingMode = 'poll' | 'await';

export class CmPingPong {
  readonly #inbox = new Uint32Array(new SharedArrayBuffer(MESSAGE));
  readonly #outbox = new Uint32Array(new SharedArrayBuffer(MESSAGE));
  readonly #inboxMr: MemoryRegion;
  readonly #send: SendRequest;
  #conn: RdmaConnection | undefined;
  #seen = 0;
  #round = 0;

  constructor(readonly pd: ProtectionDomain) {
    this.#inboxMr = pd.register(this.#inbox, { access: ['local-write'] });
    this.#send = { opcode: 'send', local: { mr: pd.register(this.#outbox) } };
  }

  /** For connectRdma() or accept(): the PD, receives posted before the peer can send, room to send inline. */
  options(): ConnectionOptions {
    return { pd: this.pd, maxInlineData: 64, maxSendWr: DEPTH, maxRecvWr: DEPTH, cqSize: 4 * DEPTH, receives: Array.from({ length: DEPTH }, () => ({ local: { mr: this.#inboxMr } })) };
  }

  attach(conn: RdmaConnection): void {
    this.#conn = conn;
  }

  /** `iters` round trips; one-way latencies in ns (half a round trip, as perftest counts). */
  async ping(mode: CmPingMode, iters: number): Promise<Float64Array> {
    const oneWay = new Float64Array(iters);
    for (let i = 0; i < iters; i++) {
      const t0 = nowNs();
      const seq = 2 * this.#round + 1;
      this.#post(seq);
      await this.#completions(mode, 2 * (this.#round + 1));
      this.#received(seq + 1);
      oneWay[i] = (nowNs() - t0) / 2;
    }
    return oneWay;
  }

  /** Answers `iters` pings. */
  async pong(mode: CmPingMode, iters: number): Promise<void> {
    for (let i = 0; i < iters; i++) {
      const seq = 2 * this.#round + 1;
      await this.#completions(mode, 2 * this.#round + 1);
      this.#received(seq);
      this.#post(seq + 1);
    }
  }

  #post(seq: number): void {
    this.#outbox[0] = seq;
    this.#conn!.qp.postSend([this.#send]);
  }

  async #completions(mode: CmPingMode, total: number): Promise<void> {
    const cq = this.#conn!.cq;
    if (mode === 'poll') {
      while (this.#seen < total) this.#seen += cq.pollCount(4);
      return;
    }
    while (this.#seen < total) {
      const wc = await cq.next();
      if (wc.status !== 'success') throw new Error(`${wc.opcode} failed: ${wc.status}`);
      this.#seen++;
    }
  }

  #received(seq: number): void {
    const got = Atomics.load(this.#inbox, 0);
    if (got !== seq) throw new Error(`received ${got}, expected ${seq}`);
    this.#conn!.qp.postRecv([{ local: { mr: this.#inboxMr } }]);
    this.#round++;
  }
}
