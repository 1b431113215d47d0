import type { IbvCompChannel } from '../../seam/backend-verbs';
import { IBV_WC, IBV_WC_OPCODE, IBV_WC_STATUS } from '../../seam/verbs-uapi';
import { byteSwap32, decodeWc } from '../../seam/work-requests';
import { byValue } from '../enum-names';
import { assertOpen, onClose, Resource, teardown } from '../resource';
import { toInt, waitOptions, WaitOptions } from '../args';
import { FairTurns } from '../wait';
import { CqEvents } from './cq-events';
import type { RdmaDevice } from './device';

/** The API's names of enum ibv_wc_status. */
const WC_STATUS_NAMES = {
  SUCCESS: 'success', LOC_LEN_ERR: 'local-length-error', LOC_QP_OP_ERR: 'local-qp-op-error',
  LOC_EEC_OP_ERR: 'local-eec-op-error', LOC_PROT_ERR: 'local-protection-error', WR_FLUSH_ERR: 'wr-flush-error',
  MW_BIND_ERR: 'mw-bind-error', BAD_RESP_ERR: 'bad-response-error', LOC_ACCESS_ERR: 'local-access-error',
  REM_INV_REQ_ERR: 'remote-invalid-request-error', REM_ACCESS_ERR: 'remote-access-error',
  REM_OP_ERR: 'remote-operation-error', RETRY_EXC_ERR: 'retry-exceeded-error',
  RNR_RETRY_EXC_ERR: 'rnr-retry-exceeded-error', LOC_RDD_VIOL_ERR: 'local-rdd-violation-error',
  REM_INV_RD_REQ_ERR: 'remote-invalid-rd-request', REM_ABORT_ERR: 'remote-aborted-error',
  INV_EECN_ERR: 'invalid-eecn-error', INV_EEC_STATE_ERR: 'invalid-eec-state-error', FATAL_ERR: 'fatal-error',
  RESP_TIMEOUT_ERR: 'response-timeout-error', GENERAL_ERR: 'general-error',
} as const satisfies Record<keyof typeof IBV_WC_STATUS, string>;
export type WcStatus = (typeof WC_STATUS_NAMES)[keyof typeof WC_STATUS_NAMES];
const STATUS = new Map<number, WcStatus>(
  (Object.keys(IBV_WC_STATUS) as Array<keyof typeof IBV_WC_STATUS>).map((k) => [IBV_WC_STATUS[k], WC_STATUS_NAMES[k]]),
);
const OPCODES = byValue(IBV_WC_OPCODE);

export interface WorkCompletion {
  wrId: bigint;
  status: WcStatus;
  /** The raw ibv_wc_status (0 success, 5 flushed, 10 remote access error…). */
  statusCode: number;
  opcode: string;
  byteLen: number;
  /** Immediate data (host byte order), when the peer sent some. */
  immData?: number;
  qpNum: number;
  srcQp: number;
  vendorErr: number;
}

/** The completions one poll of the seam takes at most: the room bound to each CQ. */
export const POLL_BATCH = 64;
/** next()'s spin by default, in microseconds. */
export const DEFAULT_SPIN = 20;

export interface CompletionQueueOptions {
  /**
   * Microseconds that next() and `for await` poll the CQ for before they
   * sleep on its channel, as NCCL's and UCX's progress engines do: a
   * completion that comes within it costs no event, no wakeup and no turn of
   * the event loop, but the loop waits that long. 0 sleeps at once. Default
   * DEFAULT_SPIN (20).
   */
  spin?: number;
}

/** The completion channel `cq` waits on (for tests of the channel itself). */
export let compChannelOf: (cq: CompletionQueue) => IbvCompChannel;

/**
 * A completion queue with its own completion channel. poll() is synchronous
 * for tight loops; next() and `for await` poll for a bounded time (the
 * `spin` option), then wait on the channel's fd through the event loop.
 */
export class CompletionQueue extends Resource {
  /** Where the seam writes this CQ's completions, bound to it at creation. */
  readonly #out: BigUint64Array;
  readonly #ready: WorkCompletion[] = [];
  /**
   * A `for (;;) { post; await cq.next(); }` loop whose completions are always
   * there by the time it looks (a slow machine's emulator, a fast device)
   * runs on microtasks alone, and would starve every timer, socket and
   * rdma_cm event of the process, its own peer's included.
   */
  readonly #fair = new FairTurns();
  readonly #events: CqEvents;
  /** next()'s spin, in milliseconds. */
  readonly #spinMs: number;
  readonly #channel: IbvCompChannel;

  static {
    compChannelOf = (cq) => cq.#channel;
  }

  /** Made by RdmaDevice.createCq(). */
  constructor(readonly device: RdmaDevice, readonly handle: number, channel: IbvCompChannel, out: BigUint64Array, spin: number) {
    super(device);
    this.#channel = channel;
    this.#out = out;
    const { seam } = device;
    const events = (this.#events = new CqEvents(seam, handle, channel));
    this.#spinMs = spin / 1000;
    // Newest first: the watch and the events taken, the CQ, then its channel.
    teardown(this, () => seam.ibvDestroyCompChannel(channel.handle));
    teardown(this, () => seam.ibvDestroyCq(handle));
    teardown(this, () => events.release());
  }

  /** Up to `max` completions that are ready now; [] when none. */
  poll(max = 16): WorkCompletion[] {
    assertOpen(this);
    toInt(max, 'max', 0, 0x7fffffff);
    const out = this.#ready.splice(0, max);
    while (out.length < max) {
      const want = Math.min(max - out.length, POLL_BATCH);
      const n = this.#pollRaw(want);
      for (let i = 0; i < n; i++) out.push(decode(this.#out, i));
      if (n < want) break;
    }
    return out;
  }

  /** Consumes up to `max` completions without decoding them, and says how many: for loops that only count. */
  pollCount(max = POLL_BATCH): number {
    assertOpen(this);
    toInt(max, 'max', 0, 0x7fffffff);
    const queued = this.#ready.length === 0 ? 0 : this.#ready.splice(0, max).length;
    return queued < max ? queued + this.#pollRaw(Math.min(max - queued, POLL_BATCH)) : queued;
  }

  #pollRaw(n: number): number {
    return this.device.seam.ibvPollCq(this.handle, n);
  }

  /** The next completion, waiting for it through the event loop. */
  async next(options?: WaitOptions): Promise<WorkCompletion> {
    waitOptions(options);
    assertOpen(this);
    for (;;) {
      if (this.#ready.length === 0 && this.#spin() === 0) {
        // Arm, then look again: a completion that landed before arming raises no event.
        this.#events.arm();
        this.#take();
      }
      const wc = this.#ready.shift();
      if (wc) {
        await this.#fair.due();
        return wc;
      }
      await this.#events.wait(options, (cancel) => onClose(this, cancel));
      assertOpen(this);
    }
  }

  /** Decodes up to POLL_BATCH ready completions into #ready; says how many. */
  #take(): number {
    const n = this.#pollRaw(POLL_BATCH);
    for (let i = 0; i < n; i++) this.#ready.push(decode(this.#out, i));
    return n;
  }

  /** Polls until a completion comes or the spin is over. */
  #spin(): number {
    let n = this.#take();
    if (n || this.#spinMs <= 0) return n;
    const end = performance.now() + this.#spinMs;
    while (!(n = this.#take()) && performance.now() < end);
    return n;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<WorkCompletion> {
    while (!this.closed) yield await this.next();
  }
}

function decode(out: BigUint64Array, i: number): WorkCompletion {
  const w = decodeWc(out, i);
  const wc: WorkCompletion = {
    wrId: w.wrId,
    status: STATUS.get(w.status) ?? 'general-error',
    statusCode: w.status,
    opcode: OPCODES.get(w.opcode) ?? `opcode-${w.opcode}`,
    byteLen: w.byteLen,
    qpNum: w.qpNum,
    srcQp: w.srcQp,
    vendorErr: w.vendorErr,
  };
  if (w.flags & IBV_WC.WITH_IMM) wc.immData = byteSwap32(w.imm);
  return wc;
}
