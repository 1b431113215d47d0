// RC queue pairs: creation with the capabilities granted, the INIT/RTR/RTS
// state machine of ib_modify_qp_is_ok and rxe_qp_chk_attr, and posting.
// Posted requests run later, on the event loop (wire.ts).
import type { IbvQpAttr, IbvQpCap, IbvQpInit } from '../../src/backend-verbs';
import { RECV_WR_WORDS, SEND_WR_WORDS } from '../../src/backend-verbs';
import { SystemError, systemError } from '../../src/system-error';
import * as v from '../../src/rdma/verbs-uapi';
import type { CompletionQueue } from './cq';
import type { ProtectionDomain } from './pd';
import { LINK_LAYER_ETHERNET, WR } from './uapi';
import { schedule, wake } from './wire';

const S = v.IBV_QPS;
const M = {
  STATE: v.IBV_QP_STATE, CUR_STATE: 1 << 1, ACCESS_FLAGS: v.IBV_QP_ACCESS_FLAGS, PKEY_INDEX: v.IBV_QP_PKEY_INDEX,
  PORT: v.IBV_QP_PORT, AV: v.IBV_QP_AV, PATH_MTU: v.IBV_QP_PATH_MTU, TIMEOUT: v.IBV_QP_TIMEOUT,
  RETRY_CNT: v.IBV_QP_RETRY_CNT, RNR_RETRY: v.IBV_QP_RNR_RETRY, RQ_PSN: v.IBV_QP_RQ_PSN,
  MAX_QP_RD_ATOMIC: v.IBV_QP_MAX_QP_RD_ATOMIC, ALT_PATH: 1 << 14, MIN_RNR_TIMER: v.IBV_QP_MIN_RNR_TIMER,
  SQ_PSN: v.IBV_QP_SQ_PSN, MAX_DEST_RD_ATOMIC: v.IBV_QP_MAX_DEST_RD_ATOMIC, PATH_MIG_STATE: 1 << 18,
  DEST_QPN: v.IBV_QP_DEST_QPN,
};

/** qp_state_table for RC: the attributes each transition requires and may take. */
const TRANSITIONS: Partial<Record<number, Partial<Record<number, { req: number; opt: number }>>>> = {
  [S.reset]: { [S.reset]: { req: 0, opt: 0 }, [S.init]: { req: M.PKEY_INDEX | M.PORT | M.ACCESS_FLAGS, opt: 0 } },
  [S.init]: {
    [S.init]: { req: 0, opt: M.PKEY_INDEX | M.PORT | M.ACCESS_FLAGS },
    [S.rtr]: {
      req: M.AV | M.PATH_MTU | M.DEST_QPN | M.RQ_PSN | M.MAX_DEST_RD_ATOMIC | M.MIN_RNR_TIMER,
      opt: M.ALT_PATH | M.ACCESS_FLAGS | M.PKEY_INDEX,
    },
  },
  [S.rtr]: {
    [S.rts]: {
      req: M.TIMEOUT | M.RETRY_CNT | M.RNR_RETRY | M.SQ_PSN | M.MAX_QP_RD_ATOMIC,
      opt: M.CUR_STATE | M.ALT_PATH | M.ACCESS_FLAGS | M.MIN_RNR_TIMER | M.PATH_MIG_STATE,
    },
  },
  [S.rts]: { [S.rts]: { req: 0, opt: M.CUR_STATE | M.ACCESS_FLAGS | M.ALT_PATH | M.PATH_MIG_STATE | M.MIN_RNR_TIMER } },
};

/** The access flags a QP takes (rxe in 6.12 took MW_BIND too). */
const QP_ACCESS = v.IBV_ACCESS['local-write'] | v.IBV_ACCESS['remote-write'] | v.IBV_ACCESS['remote-read'] |
  v.IBV_ACCESS['remote-atomic'] | v.IBV_ACCESS['mw-bind'];

const POSTABLE = new Set<number>(Object.values(WR));

export interface Sge {
  addr: bigint;
  length: number;
  lkey: number;
}

export interface SendWqe {
  wrId: bigint;
  opcode: number;
  flags: number;
  sge: Sge | undefined;
  /** Inline data, copied when posted. */
  inline: Uint8Array | undefined;
  remoteAddr: bigint;
  rkey: number;
  /** Network byte order, as the request held it. */
  imm: number;
  /** Transport retries and RNR retries spent on it. */
  retries: number;
  rnrRetries: number;
}

export interface RecvWqe {
  wrId: bigint;
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
}

/** Copies [addr, addr + length) of the MR `lkey` names, for inline data; undefined where no such MR holds it. */
export type InlineSource = (lkey: number, addr: bigint, length: number) => Uint8Array | undefined;

export class QueuePair {
  #state: number = S.reset;
  readonly attrs: QpAttrs = { accessFlags: 0, destQpNum: 0, av: undefined, minRnrTimer: 0, timeout: 0, retryCnt: 0, rnrRetry: 0 };
  readonly sq: SendWqe[] = [];
  readonly rq: RecvWqe[] = [];
  /** Requesters whose SEND waits for a receive here (RNR, retried for ever). */
  readonly rnrWaiters = new Set<QueuePair>();
  /** While the head request waits (for a retry, or a receive at the peer): what stops the wait. */
  stall: (() => void) | undefined;
  destroyed = false;

  constructor(
    readonly pd: ProtectionDomain,
    readonly qpn: number,
    readonly sendCq: CompletionQueue,
    readonly recvCq: CompletionQueue,
    readonly cap: IbvQpCap,
    readonly sigAll: boolean,
  ) {}

  /** rxe_qp_chk_init and rxe_qp_chk_cap, then what rxe_init_sq and rxe_init_rq grant. */
  static grant(pd: ProtectionDomain, init: IbvQpInit): IbvQpCap {
    const { profile } = pd.device;
    if (init.qpType !== v.IBV_QPT_RC) {
      throw systemError('EOPNOTSUPP', 'ibv_create_qp', 'ibv_create_qp failed: the emulator models RC queue pairs only');
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

  get device(): ProtectionDomain['device'] {
    return this.pd.device;
  }

  /** ib_uverbs_modify_qp: ib_modify_qp_is_ok, then the attributes' own checks, then the change. */
  modify(attr: IbvQpAttr, mask: number): void {
    const syscall = 'ibv_modify_qp';
    const cur = this.#state;
    // Fields left out read as 0, as in the addon's zeroed ibv_qp_attr.
    const next = mask & M.STATE ? attr.qpState ?? S.reset : cur;
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
    if (next === S.reset) this.#reset();
    else if (next === S.err) this.fail();
    else this.#state = next;
  }

  /** rxe_qp_error: the QP stops, and what it holds is flushed. */
  fail(): void {
    this.#state = S.err;
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
      if (this.#state >= S.rts) schedule(this);
    }
    // rxe's provider writes the requests into the send queue it shares with
    // the kernel, then rings the doorbell, which a QP not yet in RTS refuses:
    // the requests stay queued, and run first once the QP is in RTS and a
    // later post rings again (seen on 6.12.107).
    if (this.#state < S.rts) throw postError('ibv_post_send', 'EINVAL', 0, 'the QP is not in RTS');
  }

  postRecv(wrs: BigUint64Array, count: number): void {
    checkCount(wrs, count, RECV_WR_WORDS);
    if (count === 0) return;
    if (this.#state === S.reset) throw postError('ibv_post_recv', 'EINVAL', 0, 'the QP is in RESET');
    try {
      for (let i = 0; i < count; i++) {
        const b = i * RECV_WR_WORDS;
        const sge = decodeSge(wrs[b + 1], wrs[b + 2]);
        if (this.rq.length >= this.cap.maxRecvWr) throw postError('ibv_post_recv', 'ENOMEM', i, 'the receive queue is full');
        if (sge && this.cap.maxRecvSge < 1) throw postError('ibv_post_recv', 'EINVAL', i, 'the QP takes no receive SGEs');
        this.rq.push({ wrId: wrs[b], sge });
      }
    } finally {
      if (this.#state === S.err && this.device.profile.completions.flushLateRecvs) schedule(this);
      wake(this);
    }
  }

  destroy(): void {
    this.destroyed = true;
    this.#stopWaiting();
    this.sq.length = 0;
    this.rq.length = 0;
    this.device.removeQp(this);
    // Requesters waiting for a receive here now find no QP, and time out.
    wake(this);
  }

  #transitionOk(cur: number, next: number, mask: number): boolean {
    // The layout has no cur_qp_state: the kernel reads RESET there, which IB_QP_CUR_STATE refuses.
    if (mask & M.CUR_STATE) return false;
    if (next === S.reset || next === S.err) return (mask & ~M.STATE) === 0;
    const t = TRANSITIONS[cur]?.[next];
    return t !== undefined && (mask & t.req) === t.req && (mask & ~(t.req | t.opt | M.STATE)) === 0;
  }

  /** The address vector, as uverbs and ib_resolve_eth_dmac check it: RoCE needs a GRH and a filled source GID. */
  #addressVector(attr: IbvQpAttr, syscall: string): AddressVector {
    const ah = attr.ahAttr;
    if (!ah || ah.portNum !== 1) throw systemError('EINVAL', syscall);
    if (!ah.isGlobal) {
      if (this.device.profile.port.linkLayer === LINK_LAYER_ETHERNET) throw systemError('EINVAL', syscall);
      return { dgid: new Uint8Array(16), sgidIndex: 0 };
    }
    const sgidIndex = ah.sgidIndex ?? 0;
    const sgid = this.device.sgid(sgidIndex);
    if (typeof sgid === 'string') throw systemError(sgid, syscall);
    const dgid = Uint8Array.from(ah.dgid ?? new Uint8Array(16));
    // RoCE resolves the peer's MAC now (ib_resolve_eth_dmac): with no route to its address, ENODEV.
    if (this.device.profile.port.linkLayer === LINK_LAYER_ETHERNET && !this.device.fabric.route(this.device, dgid)) {
      throw systemError('ENODEV', syscall);
    }
    return { dgid, sgidIndex };
  }

  #decodeSend(wrs: BigUint64Array, i: number, inlineSource: InlineSource): SendWqe {
    const b = i * SEND_WR_WORDS;
    const control = Number(wrs[b + 1]);
    const opcode = control & 0xff;
    const flags = (control >> 8) & 0xff;
    const numSge = (control >> 16) & 0xff;
    const sge = numSge === 1 ? decodeSge(wrs[b + 2], wrs[b + 3]) : undefined;
    // The addon's refusals.
    if (control >= 2 ** 24) throw postError('ibv_post_send', 'EINVAL', i, 'word 1 has bits set above num_sge');
    if (numSge > 1) throw postError('ibv_post_send', 'EINVAL', i, 'num_sge is more than the one SGE the layout carries');
    if (!POSTABLE.has(opcode)) throw postError('ibv_post_send', 'EINVAL', i, 'the opcode needs fields the layout does not carry');
    const length = sge?.length ?? 0;
    let inline: Uint8Array | undefined;
    if (flags & v.IBV_SEND_INLINE && sge && length > 0) {
      inline = inlineSource(sge.lkey, sge.addr, length);
      if (!inline) throw postError('ibv_post_send', 'EINVAL', i, 'an inline SGE must lie inside the MR its lkey names');
    }
    // The provider's (validate_send_wr).
    if (numSge > this.cap.maxSendSge) throw postError('ibv_post_send', 'EINVAL', i, 'more SGEs than the QP takes');
    if (flags & v.IBV_SEND_INLINE && length > this.cap.maxInlineData) {
      throw postError('ibv_post_send', 'EINVAL', i, 'more inline data than the QP takes');
    }
    const w5 = wrs[b + 5];
    return {
      wrId: wrs[b], opcode, flags, sge, inline, remoteAddr: wrs[b + 4],
      rkey: Number(w5 & 0xffffffffn), imm: Number(w5 >> 32n), retries: 0, rnrRetries: 0,
    };
  }

  /** rxe_qp_reset: queues emptied, nothing completes. */
  #reset(): void {
    this.#state = S.reset;
    this.#stopWaiting();
    this.sq.length = 0;
    this.rq.length = 0;
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

/** An SGE from its two words; undefined for length 0, which the layout uses for none. */
function decodeSge(addr: bigint, word: bigint): Sge | undefined {
  const length = Number(word & 0xffffffffn);
  return length === 0 ? undefined : { addr, length, lkey: Number(word >> 32n) };
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
  const e = systemError(code, syscall, `${syscall} failed: ${code} (request ${index}: ${why})`) as SystemError & { index: number };
  e.index = index;
  return e;
}
