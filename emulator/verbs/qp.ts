// RC queue pairs: creation with the capabilities granted, the INIT/RTR/RTS
// state machine of ib_modify_qp_is_ok and rxe_qp_chk_attr, and posting.
// Posted requests run later, on the event loop (wire.ts).
import type { IbvQpAttr, IbvQpCap, IbvQpInit } from '../../seam/backend-verbs';
import { decodeRecv, decodeSend, RecvWr, RECV_WR_WORDS, SEND_WR_WORDS, SendWr, Sge } from '../../seam/work-requests';
import { SystemError, systemError, systemErrorWhy } from '../../seam/system-error';
import * as v from '../../seam/verbs-uapi';
import type { IbCq } from './cq';
import type { IbPd } from './pd';
import { schedule, wake } from './wire';
import { WorkQueue } from './work-queue';

const S = v.IBV_QPS;
const M = {
  STATE: v.IBV_QP.STATE, CUR_STATE: 1 << 1, ACCESS_FLAGS: v.IBV_QP.ACCESS_FLAGS, PKEY_INDEX: v.IBV_QP.PKEY_INDEX,
  PORT: v.IBV_QP.PORT, AV: v.IBV_QP.AV, PATH_MTU: v.IBV_QP.PATH_MTU, TIMEOUT: v.IBV_QP.TIMEOUT,
  RETRY_CNT: v.IBV_QP.RETRY_CNT, RNR_RETRY: v.IBV_QP.RNR_RETRY, RQ_PSN: v.IBV_QP.RQ_PSN,
  MAX_QP_RD_ATOMIC: v.IBV_QP.MAX_QP_RD_ATOMIC, ALT_PATH: 1 << 14, MIN_RNR_TIMER: v.IBV_QP.MIN_RNR_TIMER,
  SQ_PSN: v.IBV_QP.SQ_PSN, MAX_DEST_RD_ATOMIC: v.IBV_QP.MAX_DEST_RD_ATOMIC, PATH_MIG_STATE: 1 << 18,
  DEST_QPN: v.IBV_QP.DEST_QPN,
};

/** qp_state_table for RC: the attributes each transition requires and may take. */
const TRANSITIONS: Partial<Record<number, Partial<Record<number, { req: number; opt: number }>>>> = {
  [S.RESET]: { [S.RESET]: { req: 0, opt: 0 }, [S.INIT]: { req: M.PKEY_INDEX | M.PORT | M.ACCESS_FLAGS, opt: 0 } },
  [S.INIT]: {
    [S.INIT]: { req: 0, opt: M.PKEY_INDEX | M.PORT | M.ACCESS_FLAGS },
    [S.RTR]: {
      req: M.AV | M.PATH_MTU | M.DEST_QPN | M.RQ_PSN | M.MAX_DEST_RD_ATOMIC | M.MIN_RNR_TIMER,
      opt: M.ALT_PATH | M.ACCESS_FLAGS | M.PKEY_INDEX,
    },
  },
  [S.RTR]: {
    [S.RTS]: {
      req: M.TIMEOUT | M.RETRY_CNT | M.RNR_RETRY | M.SQ_PSN | M.MAX_QP_RD_ATOMIC,
      opt: M.CUR_STATE | M.ALT_PATH | M.ACCESS_FLAGS | M.MIN_RNR_TIMER | M.PATH_MIG_STATE,
    },
  },
  [S.RTS]: { [S.RTS]: { req: 0, opt: M.CUR_STATE | M.ACCESS_FLAGS | M.ALT_PATH | M.PATH_MIG_STATE | M.MIN_RNR_TIMER } },
};

/** The access flags a QP takes (rxe in 6.12 took MW_BIND too). */
const QP_ACCESS = v.IBV_ACCESS.LOCAL_WRITE | v.IBV_ACCESS.REMOTE_WRITE | v.IBV_ACCESS.REMOTE_READ |
  v.IBV_ACCESS.REMOTE_ATOMIC | v.IBV_ACCESS.MW_BIND;


export interface SendWqe extends SendWr {
  /** Absent for a zero-length SGE, which moves nothing. */
  sge: Sge | undefined;
  /** Inline data, copied when posted. */
  inline: Uint8Array | undefined;
  /** Transport retries and RNR retries spent on it. */
  retries: number;
  rnrRetries: number;
}

export interface RecvWqe extends RecvWr {
  sge: Sge | undefined;
}

export interface AddressVector {
  dgid: Uint8Array;
  sgidIndex: number;
}

/** The attributes the transport uses, as the last modify set them. */
export interface QpAttrs {
  accessFlags: number;
  destQpNum: number;
  av: AddressVector | undefined;
  minRnrTimer: number;
  timeout: number;
  retryCnt: number;
  rnrRetry: number;
  /** Bytes per packet: rxe starts a QP at IB_MTU_256. */
  pathMtu: number;
}

/** Copies [addr, addr + length) of the MR `lkey` names, for inline data; undefined where no such MR holds it. */
export type InlineSource = (lkey: number, addr: bigint, length: number) => Uint8Array | undefined;

export class IbQp {
  #state: number = S.RESET;
  readonly attrs: QpAttrs = { accessFlags: 0, destQpNum: 0, av: undefined, minRnrTimer: 0, timeout: 0, retryCnt: 0, rnrRetry: 0, pathMtu: 256 };
  readonly sq = new WorkQueue<SendWqe>();
  readonly rq = new WorkQueue<RecvWqe>();
  /** Requesters whose SEND waits for a receive here (RNR, retried for ever). */
  readonly rnrWaiters = new Set<IbQp>();
  /** While the head request waits (for a retry, or a receive at the peer): what stops the wait. */
  stall: (() => void) | undefined;
  destroyed = false;

  constructor(
    readonly pd: IbPd,
    readonly qpn: number,
    readonly sendCq: IbCq,
    readonly recvCq: IbCq,
    readonly cap: IbvQpCap,
    readonly sigAll: boolean,
  ) {}

  /** rxe_qp_chk_init and rxe_qp_chk_cap, then what rxe_init_sq and rxe_init_rq grant. */
  static grant(pd: IbPd, init: IbvQpInit): IbvQpCap {
    const { profile } = pd.device;
    if (init.qpType !== v.IBV_QPT_RC) {
      throw systemErrorWhy('EOPNOTSUPP', 'ibv_create_qp', 'the emulator models RC queue pairs only');
    }
    const c = init.cap;
    const { maxQpWr, maxSge } = profile.attr;
    if (c.maxSendWr > maxQpWr || c.maxSendSge > maxSge || c.maxRecvWr > maxQpWr || c.maxRecvSge > maxSge ||
        c.maxInlineData > profile.maxInlineData) {
      throw systemError('EINVAL', 'ibv_create_qp');
    }
    // A send WQE has room for its SGEs (16 bytes each) or its inline data, whichever is more.
    const wqeRoom = Math.max(c.maxSendSge * 16, c.maxInlineData);
    return {
      maxSendWr: ringSize(c.maxSendWr),
      maxRecvWr: ringSize(c.maxRecvWr),
      maxSendSge: Math.floor(wqeRoom / 16),
      maxRecvSge: c.maxRecvSge,
      maxInlineData: wqeRoom,
    };
  }

  get state(): number {
    return this.#state;
  }

  get device(): IbPd['device'] {
    return this.pd.device;
  }

  /** ib_uverbs_modify_qp: ib_modify_qp_is_ok, then the attributes' own checks, then the change. */
  modify(attr: IbvQpAttr, mask: number): void {
    const syscall = 'ibv_modify_qp';
    const cur = this.#state;
    // Fields left out read as 0, as in the addon's zeroed ibv_qp_attr.
    const next = mask & M.STATE ? attr.qpState ?? S.RESET : cur;
    if (!this.#transitionOk(cur, next, mask)) throw systemError('EINVAL', syscall);
    const { profile } = this.device;
    if (mask & M.PORT && attr.portNum !== 1) throw systemError('EINVAL', syscall);
    if (mask & M.ACCESS_FLAGS && (attr.qpAccessFlags ?? 0) & ~QP_ACCESS) throw systemError('EINVAL', syscall);
    let av: AddressVector | undefined;
    if (mask & M.AV) av = this.#addressVector(attr, syscall);
    if (mask & M.PATH_MTU && (attr.pathMtu ?? 0) > profile.port.maxMtu) throw systemError('EINVAL', syscall);
    if (mask & M.MAX_QP_RD_ATOMIC && (attr.maxRdAtomic ?? 0) > profile.attr.maxQpRdAtom) throw systemError('EINVAL', syscall);
    if (mask & M.TIMEOUT && (attr.timeout ?? 0) > 31) throw systemError('EINVAL', syscall);

    const a = this.attrs;
    if (mask & M.ACCESS_FLAGS) a.accessFlags = attr.qpAccessFlags ?? 0;
    if (av) a.av = av;
    if (mask & M.DEST_QPN) a.destQpNum = attr.destQpNum ?? 0;
    if (mask & M.MIN_RNR_TIMER) a.minRnrTimer = attr.minRnrTimer ?? 0;
    if (mask & M.TIMEOUT) a.timeout = attr.timeout ?? 0;
    if (mask & M.RETRY_CNT) a.retryCnt = attr.retryCnt ?? 0;
    if (mask & M.RNR_RETRY) a.rnrRetry = attr.rnrRetry ?? 0;
    if (mask & M.PATH_MTU) a.pathMtu = v.mtuBytes(attr.pathMtu ?? 0) || a.pathMtu;
    if (next === S.RESET) this.#reset();
    else if (next === S.ERR) this.fail();
    else this.#state = next;
  }

  /** rxe_qp_error: the QP stops, and what it holds is flushed. */
  fail(): void {
    this.#state = S.ERR;
    this.#stopWaiting();
    schedule(this);
    wake(this);
  }

  /**
   * Posts `count` send requests. Checks run as the addon's and then the
   * provider's do; the requests before a refused one stay posted.
   */
  postSend(wrs: BigUint64Array, count: number, inlineSource: InlineSource): void {
    checkCount(wrs, count, SEND_WR_WORDS);
    if (count === 0) return;
    try {
      for (let i = 0; i < count; i++) {
        const wqe = this.#decodeSend(wrs, i, inlineSource);
        if (this.sq.length >= this.cap.maxSendWr) throw postError('ibv_post_send', 'ENOMEM', i, 'the send queue is full');
        this.sq.push(wqe);
      }
    } finally {
      if (this.#state >= S.RTS) schedule(this);
    }
    // rxe's provider writes the requests into the send queue it shares with
    // the kernel, then rings the doorbell, which a QP not yet in RTS refuses:
    // the requests stay queued, and run first once the QP is in RTS and a
    // later post rings again (seen on 6.12.107).
    if (this.#state < S.RTS) throw postError('ibv_post_send', 'EINVAL', 0, 'the QP is not in RTS');
  }

  postRecv(wrs: BigUint64Array, count: number): void {
    checkCount(wrs, count, RECV_WR_WORDS);
    if (count === 0) return;
    if (this.#state === S.RESET) throw postError('ibv_post_recv', 'EINVAL', 0, 'the QP is in RESET');
    try {
      for (let i = 0; i < count; i++) {
        const { wrId, sge } = decodeRecv(wrs, i);
        if (this.rq.length >= this.cap.maxRecvWr) throw postError('ibv_post_recv', 'ENOMEM', i, 'the receive queue is full');
        if (sge && this.cap.maxRecvSge < 1) throw postError('ibv_post_recv', 'EINVAL', i, 'the QP takes no receive SGEs');
        this.rq.push({ wrId, sge });
      }
    } finally {
      if (this.#state === S.ERR && this.device.profile.completions.flushLateRecvs) schedule(this);
      wake(this);
    }
  }

  destroy(): void {
    this.destroyed = true;
    this.#stopWaiting();
    this.sq.clear();
    this.rq.clear();
    this.device.removeQp(this);
    // Requesters waiting for a receive here now find no QP, and time out.
    wake(this);
  }

  #transitionOk(cur: number, next: number, mask: number): boolean {
    // The layout has no cur_qp_state: the kernel reads RESET there, which IB_QP_CUR_STATE refuses.
    if (mask & M.CUR_STATE) return false;
    if (next === S.RESET || next === S.ERR) return (mask & ~M.STATE) === 0;
    const t = TRANSITIONS[cur]?.[next];
    return t !== undefined && (mask & t.req) === t.req && (mask & ~(t.req | t.opt | M.STATE)) === 0;
  }

  /** The address vector, as uverbs and ib_resolve_eth_dmac check it: RoCE needs a GRH and a filled source GID. */
  #addressVector(attr: IbvQpAttr, syscall: string): AddressVector {
    const ah = attr.ahAttr;
    if (!ah || ah.portNum !== 1) throw systemError('EINVAL', syscall);
    if (!ah.isGlobal) {
      if (this.device.profile.port.linkLayer === v.IBV_LINK_LAYER.ETHERNET) throw systemError('EINVAL', syscall);
      return { dgid: new Uint8Array(16), sgidIndex: 0 };
    }
    const sgidIndex = ah.sgidIndex ?? 0;
    const sgid = this.device.sgid(sgidIndex);
    if (typeof sgid === 'string') throw systemError(sgid, syscall);
    const dgid = Uint8Array.from(ah.dgid ?? new Uint8Array(16));
    // RoCE resolves the peer's MAC now (ib_resolve_eth_dmac): with no route to its address, ENODEV.
    if (this.device.profile.port.linkLayer === v.IBV_LINK_LAYER.ETHERNET && !this.device.fabric.route(this.device, dgid)) {
      throw systemError('ENODEV', syscall);
    }
    return { dgid, sgidIndex };
  }

  #decodeSend(wrs: BigUint64Array, i: number, inlineSource: InlineSource): SendWqe {
    // The layout's refusals (the addon's too), then the addon's bound on inline data, then the provider's.
    const wr = decodeSend(wrs, i);
    if ('refused' in wr) throw postError('ibv_post_send', 'EINVAL', i, wr.refused);
    const { flags } = wr;
    const sge = wr.sge?.length ? wr.sge : undefined;
    const length = sge?.length ?? 0;
    let inline: Uint8Array | undefined;
    if (flags & v.IBV_SEND.INLINE && sge && length > 0) {
      inline = inlineSource(sge.lkey, sge.addr, length);
      if (!inline) throw postError('ibv_post_send', 'EINVAL', i, 'an inline SGE must lie inside the MR its lkey names');
    }
    // The provider's (validate_send_wr).
    if ((wr.sge ? 1 : 0) > this.cap.maxSendSge) throw postError('ibv_post_send', 'EINVAL', i, 'more SGEs than the QP takes');
    if (flags & v.IBV_SEND.INLINE && length > this.cap.maxInlineData) {
      throw postError('ibv_post_send', 'EINVAL', i, 'more inline data than the QP takes');
    }
    // Spelled out: a spread of the decoded request made a dictionary-mode copy per request.
    return {
      wrId: wr.wrId, opcode: wr.opcode, flags, sge, remoteAddr: wr.remoteAddr, rkey: wr.rkey, imm: wr.imm,
      inline, retries: 0, rnrRetries: 0,
    };
  }

  /** rxe_qp_reset: queues emptied, nothing completes. */
  #reset(): void {
    this.#state = S.RESET;
    this.#stopWaiting();
    this.sq.clear();
    this.rq.clear();
    wake(this);
  }

  #stopWaiting(): void {
    this.stall?.();
    this.stall = undefined;
  }
}

/** A work queue of n entries: a power-of-two ring with one slot kept free (rxe_queue_init). */
function ringSize(n: number): number {
  return 2 ** Math.ceil(Math.log2(n + 1)) - 1;
}

function checkCount(wrs: BigUint64Array, count: number, words: number): void {
  if (!(wrs instanceof BigUint64Array)) throw new TypeError('wrs must be a BigUint64Array');
  if (!Number.isInteger(count) || count < 0) throw new TypeError('count must be a non-negative integer');
  if (count > wrs.length / words) {
    throw new TypeError(`count is ${count} but wrs holds ${Math.floor(wrs.length / words)} requests`);
  }
}

/** The error a post throws for request `index`; those before it were posted. */
function postError(syscall: string, code: 'EINVAL' | 'ENOMEM', index: number, why: string): SystemError & { index: number } {
  const e = systemErrorWhy(code, syscall, `request ${index}: ${why}`) as SystemError & { index: number };
  e.index = index;
  return e;
}
