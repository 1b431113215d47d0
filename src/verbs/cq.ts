import type { IbvCompChannel } from '../../seam/backend-verbs';
import { WC_WORDS } from '../../seam/backend-verbs';
import { Resource } from '../resource';
import * as uapi from '../../seam/uapi';
import { toInt, waitOptions, WaitOptions } from '../args';
import { waitReady } from '../wait';
import type { RdmaDevice } from './device';
import { IBV_WC_WITH_IMM, WC_STATUS, wcOpcodeName, WcStatus } from '../../seam/verbs-uapi';

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

const BATCH = 64;

/**
 * A completion queue with its own completion channel. poll() is synchronous
 * for tight loops; next() and `for await` wait on the channel's fd through
 * the event loop, never busy-polling it.
 */
export class CompletionQueue extends Resource {
  readonly #out = new BigUint64Array(WC_WORDS * BATCH);
  /** Views of #out sized for n completions, made once: polling allocates nothing. */
  readonly #views: BigUint64Array[] = [];
  readonly #ready: WorkCompletion[] = [];

  /** @internal */
  constructor(readonly device: RdmaDevice, readonly handle: number, private readonly channel: IbvCompChannel) {
    super(device);
    const { seam } = device;
    // Newest first: the CQ, then its channel.
    this.teardown(() => seam.ibvDestroyCompChannel(channel.handle));
    this.teardown(() => seam.ibvDestroyCq(handle));
  }

  /** Up to `max` completions that are ready now; [] when none. */
  poll(max = 16): WorkCompletion[] {
    this.assertOpen();
    toInt(max, 'max', 0, 0x7fffffff);
    const out = this.#ready.splice(0, max);
    while (out.length < max) {
      const want = Math.min(max - out.length, BATCH);
      const n = this.#pollRaw(want);
      for (let i = 0; i < n; i++) out.push(decode(this.#out, i));
      if (n < want) break;
    }
    return out;
  }

  /** Consumes up to `max` completions without decoding them, and says how many: for loops that only count. */
  pollCount(max = BATCH): number {
    this.assertOpen();
    toInt(max, 'max', 0, 0x7fffffff);
    const queued = this.#ready.length === 0 ? 0 : this.#ready.splice(0, max).length;
    return queued < max ? queued + this.#pollRaw(Math.min(max - queued, BATCH)) : queued;
  }

  #pollRaw(n: number): number {
    const view = (this.#views[n] ??= this.#out.subarray(0, n * WC_WORDS));
    return this.device.seam.ibvPollCq(this.handle, view);
  }

  /** The next completion, waiting for it through the event loop. */
  async next(options?: WaitOptions): Promise<WorkCompletion> {
    waitOptions(options);
    this.assertOpen();
    const { seam } = this.device;
    for (;;) {
      if (this.#ready.length === 0) this.#ready.push(...this.poll(BATCH));
      if (this.#ready.length === 0) {
        // Arm, then look again: a completion that landed before arming raises no event.
        seam.ibvReqNotifyCq(this.handle, false);
        this.#ready.push(...this.poll(BATCH));
      }
      const wc = this.#ready.shift();
      if (wc) return wc;
      await waitReady(seam, this.channel.fd, uapi.POLLIN, options, (cancel) => this.onClose(cancel));
      if (seam.ibvGetCqEvent(this.channel.handle) >= 0) seam.ibvAckCqEvents(this.handle, 1);
    }
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<WorkCompletion> {
    while (!this.closed) yield await this.next();
  }
}

function decode(out: BigUint64Array, i: number): WorkCompletion {
  const base = i * WC_WORDS;
  const w1 = out[base + 1]!;
  const w2 = out[base + 2]!;
  const w3 = out[base + 3]!;
  const statusCode = Number(w1 & 0xffn);
  const flags = Number(out[base + 4]!);
  const wc: WorkCompletion = {
    wrId: out[base]!,
    status: WC_STATUS[statusCode] ?? 'general-error',
    statusCode,
    opcode: wcOpcodeName(Number((w1 >> 8n) & 0xffn)),
    byteLen: Number(w2 & 0xffffffffn),
    qpNum: Number(w3 & 0xffffffffn),
    srcQp: Number(w3 >> 32n),
    vendorErr: Number((w1 >> 16n) & 0xffffffffn),
  };
  if (flags & IBV_WC_WITH_IMM) wc.immData = ntohl(Number(w2 >> 32n));
  return wc;
}

export function ntohl(v: number): number {
  return (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
}
