// Completion queues and the channels their events go to.
import { encodeWc, WC_WORDS } from '../../seam/work-requests';
import type { Machine } from '../machine';
import { EventFile } from './event-file';
import { IB_CQ } from '../../seam/verbs-uapi';

export interface WorkCompletion {
  wrId: bigint;
  status: number;
  opcode: number;
  byteLen: number;
  /** As the work request carried it: network byte order. */
  imm: number;
  qpNum: number;
  flags: number;
}

/** ibv_comp_channel: an event file that CQs armed on it queue themselves on. */
export class CompChannel {
  readonly file: EventFile<IbCq>;
  /** CQs made on it: ibv_destroy_comp_channel answers EBUSY while there are any. */
  users = 0;

  constructor(machine: Machine) {
    this.file = new EventFile(machine.anonInode);
  }
}

export class IbCq {
  readonly #entries: WorkCompletion[] = [];
  #notify = 0;
  /** QPs that complete on it: ibv_destroy_cq answers EBUSY while there are any. */
  users = 0;
  /** Events ibv_get_cq_event took and ibv_ack_cq_events has not acknowledged. */
  unacked = 0;

  constructor(
    readonly handle: number,
    /** The entries it holds: at least as many as asked for. */
    readonly capacity: number,
    readonly channel: CompChannel | undefined,
    /** rxe_cq_post on a full queue: the entry is lost and the context hears IBV_EVENT_CQ_ERR. */
    private readonly overflow: () => void,
  ) {}

  /** ibv_req_notify_cq: the next completion (or solicited one) raises one event. */
  arm(solicitedOnly: boolean): void {
    this.#notify |= solicitedOnly ? IB_CQ.SOLICITED : IB_CQ.NEXT_COMP;
  }

  push(wc: WorkCompletion, solicited: boolean): void {
    if (this.#entries.length >= this.capacity) {
      this.overflow();
      return;
    }
    this.#entries.push(wc);
    if (this.#notify & IB_CQ.NEXT_COMP || (this.#notify & IB_CQ.SOLICITED && solicited)) {
      this.#notify = 0;
      this.channel?.file.push(this);
    }
  }

  /** ibv_poll_cq of up to `max` into the packed layout (seam/work-requests.ts). */
  poll(out: BigUint64Array, max: number): number {
    const n = Math.min(max, Math.floor(out.length / WC_WORDS), this.#entries.length);
    for (let i = 0; i < n; i++) encodeWc(out, i, { ...this.#entries.shift()!, vendorErr: 0, srcQp: 0 });
    return n;
  }
}

/** The entries a CQ of `cqe` gets: a power-of-two ring with one slot kept free (rxe, mlx5). */
export function cqCapacity(cqe: number): number {
  return 2 ** Math.ceil(Math.log2(cqe + 1)) - 1;
}
