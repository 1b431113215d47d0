// RDMA set-up made of recorded steps: rxe0's context, a PD, a CQ and a pair
// of RC QPs connected to each other over the port's IPv4-mapped GID; posting
// and polling in the seam's packed layouts.
import type { IbvMr, IbvQpInit } from '../seam/backend-verbs';
import * as v from '../seam/verbs-uapi';
import { decodeWc, encodeRecv, encodeSend, RECV_WR_WORDS, SEND_WR_WORDS, wcWords } from '../seam/work-requests';
import type { Trial } from './trial';
import { regMr } from '../seam/mr-words';

export const A = v.IBV_ACCESS;

export function context(t: Trial): number {
  return t.own('context', 'open rxe0', (k) => k.ibvOpenDevice('rxe0'), (ctx) => t.k.ibvCloseDevice(ctx));
}

export function pd(t: Trial, ctx: number): number {
  return t.own('pd', 'alloc pd', (k) => k.ibvAllocPd(ctx), (p) => t.k.ibvDeallocPd(p));
}

/** Where the CQs each trial made with cq() have their completions written, by handle. */
const boundWords = new WeakMap<Trial, Map<number, BigUint64Array>>();

export function cq(t: Trial, ctx: number, cqe = 64, channel = -1, label = `create cq of ${cqe}`): number {
  const out = wcWords(16);
  const c = t.own('cq', label, (k) => k.ibvCreateCq(ctx, cqe, channel, out), (x) => t.k.ibvDestroyCq(x));
  let words = boundWords.get(t);
  if (!words) boundWords.set(t, (words = new Map()));
  words.set(c, out);
  return c;
}

export const qpInit = (cqHandle: number): IbvQpInit => ({
  sendCq: cqHandle, recvCq: cqHandle, qpType: v.IBV_QPT_RC, sqSigAll: true,
  cap: { maxSendWr: 16, maxRecvWr: 16, maxSendSge: 1, maxRecvSge: 1, maxInlineData: 0 },
});

export function qp(t: Trial, pdHandle: number, cqHandle: number, label = 'create qp'): number {
  return t.own('qp', label, (k) => k.ibvCreateQp(pdHandle, qpInit(cqHandle)), (q) => t.k.ibvDestroyQp(q.handle)).handle;
}

/** Bytes as ibv_reg_mr takes host memory: over a SharedArrayBuffer. A number gives zeroes; an array, a copy. */
export function shared(bytes: number | Uint8Array): Uint8Array {
  const length = typeof bytes === 'number' ? bytes : bytes.length;
  const view = new Uint8Array(new SharedArrayBuffer(length));
  if (typeof bytes !== 'number') view.set(bytes);
  return view;
}

/** An MR over `view`, shown as what a user relies on: rkey equals lkey, the length. */
export function mr(t: Trial, pdHandle: number, view: Uint8Array, access: number, label = `reg_mr access ${access}`): IbvMr {
  return t.own('mr', label, (k) => regMr(k, pdHandle, view, access), (m) => t.k.ibvDeregMr(m.handle), showMr);
}

export function showMr(m: IbvMr): unknown {
  return { length: m.length, rkeyIsLkey: m.rkey === m.lkey };
}

export function deregMr(t: Trial, m: IbvMr, label = 'dereg_mr'): void {
  t.drop('mr', m);
  t.step(label, (k) => k.ibvDeregMr(m.handle));
}

const PSN = [0x1111, 0x2222];

/** The port's first IPv4-mapped GID index (RoCE v2 over IPv4), as src/verbs picks it. */
function gidIndex(t: Trial, ctx: number, length: number): number {
  for (let i = 0; i < length; i++) {
    try {
      const gid = t.k.ibvQueryGid(ctx, 1, i);
      if (gid[10] === 0xff && gid[11] === 0xff) return i;
    } catch {
      // An empty slot.
    }
  }
  throw new Error('rxe0 has no IPv4-mapped GID');
}

/** Moves `qpHandle` to RTS towards `remote` (its QP number), with `access` for incoming requests. */
export function connect(t: Trial, ctx: number, qpHandle: number, psn: number, remote: { qpNum: number; psn: number }, access = A.REMOTE_READ | A.REMOTE_WRITE): void {
  const port = t.k.ibvQueryPort(ctx, 1);
  const sgidIndex = gidIndex(t, ctx, port.gidTblLen);
  const dgid = t.k.ibvQueryGid(ctx, 1, sgidIndex);
  t.must('to INIT', (k) => k.ibvModifyQp(qpHandle, { qpState: v.IBV_QPS.INIT, pkeyIndex: 0, portNum: 1, qpAccessFlags: access },
    v.IBV_QP.STATE | v.IBV_QP.PKEY_INDEX | v.IBV_QP.PORT | v.IBV_QP.ACCESS_FLAGS));
  t.must('to RTR', (k) => k.ibvModifyQp(qpHandle, {
    qpState: v.IBV_QPS.RTR, pathMtu: Math.min(port.activeMtu, 3), destQpNum: remote.qpNum, rqPsn: remote.psn, maxDestRdAtomic: 1, minRnrTimer: 12,
    ahAttr: { dlid: port.lid, portNum: 1, isGlobal: true, dgid, sgidIndex, hopLimit: 64 },
  }, v.IBV_QP.STATE | v.IBV_QP.AV | v.IBV_QP.PATH_MTU | v.IBV_QP.DEST_QPN | v.IBV_QP.RQ_PSN | v.IBV_QP.MAX_DEST_RD_ATOMIC | v.IBV_QP.MIN_RNR_TIMER));
  t.must('to RTS', (k) => k.ibvModifyQp(qpHandle, { qpState: v.IBV_QPS.RTS, timeout: 14, retryCnt: 7, rnrRetry: 7, sqPsn: psn, maxRdAtomic: 1 },
    v.IBV_QP.STATE | v.IBV_QP.TIMEOUT | v.IBV_QP.RETRY_CNT | v.IBV_QP.RNR_RETRY | v.IBV_QP.SQ_PSN | v.IBV_QP.MAX_QP_RD_ATOMIC));
}

export interface Rig {
  ctx: number;
  pd: number;
  cq: number;
  /** The requester. */
  a: number;
  /** The responder. */
  z: number;
}

/** A context, PD, CQ and two RC QPs connected to each other; `access` is what the responder allows. */
export function rig(t: Trial, access?: number): Rig {
  const ctx = context(t);
  const p = pd(t, ctx);
  const c = cq(t, ctx);
  const qa = t.own('qp', 'create qp a', (k) => k.ibvCreateQp(p, qpInit(c)), (q) => t.k.ibvDestroyQp(q.handle));
  const qz = t.own('qp', 'create qp z', (k) => k.ibvCreateQp(p, qpInit(c)), (q) => t.k.ibvDestroyQp(q.handle));
  connect(t, ctx, qa.handle, PSN[0]!, { qpNum: qz.qpNum, psn: PSN[1]! }, access);
  connect(t, ctx, qz.handle, PSN[1]!, { qpNum: qa.qpNum, psn: PSN[0]! }, access);
  return { ctx, pd: p, cq: c, a: qa.handle, z: qz.handle };
}

export interface Send {
  opcode: keyof typeof v.IBV_WR;
  id: bigint;
  local?: { mr: IbvMr; offset?: number; length: number };
  remote?: { addr: bigint; rkey: number };
  imm?: number;
}

export function post(t: Trial, label: string, qpHandle: number, sends: Send[]): void {
  const w = new BigUint64Array(sends.length * SEND_WR_WORDS);
  sends.forEach((s, i) => encodeSend(w, i, {
    wrId: s.id, opcode: v.IBV_WR[s.opcode], flags: v.IBV_SEND.SIGNALED,
    sge: s.local && { addr: s.local.mr.addr + BigInt(s.local.offset ?? 0), length: s.local.length, lkey: s.local.mr.lkey },
    remoteAddr: s.remote?.addr ?? 0n, rkey: s.remote?.rkey ?? 0, imm: s.imm ?? 0,
  }));
  t.step(label, (k) => k.ibvPostSend(qpHandle, w, sends.length));
}

export function postRecv(t: Trial, label: string, qpHandle: number, id: bigint, local?: { mr: IbvMr; length: number }): void {
  const w = new BigUint64Array(RECV_WR_WORDS);
  encodeRecv(w, 0, { wrId: id, sge: local && { addr: local.mr.addr, length: local.length, lkey: local.mr.lkey } });
  t.step(label, (k) => k.ibvPostRecv(qpHandle, w, 1));
}

/**
 * Polls until `count` completions came or `timeoutMs` passed, and records
 * them by wr_id: status always; opcode, byte_len and immediate only for
 * successes (the verbs leave them undefined on error).
 */
export async function completions(t: Trial, label: string, cqHandle: number, count: number, timeoutMs = 20_000): Promise<void> {
  const out = boundWords.get(t)?.get(cqHandle);
  if (!out) throw new Error(`completions: CQ ${cqHandle} was not made by cq()`);
  const got: Array<Record<string, unknown>> = [];
  const deadline = Date.now() + timeoutMs;
  while (got.length < count && Date.now() < deadline) {
    const n = t.k.ibvPollCq(cqHandle, 16);
    for (let i = 0; i < n; i++) {
      const w = decodeWc(out, i);
      const wc: Record<string, unknown> = { wrId: w.wrId, status: w.status };
      if (w.status === v.IBV_WC_STATUS.SUCCESS) {
        wc.opcode = w.opcode;
        wc.byteLen = w.byteLen;
        if (w.flags & v.IBV_WC.WITH_IMM) wc.imm = w.imm;
      }
      got.push(wc);
    }
    if (n === 0) await new Promise((r) => setTimeout(r, 1));
  }
  got.sort((x, y) => Number((x.wrId as bigint) - (y.wrId as bigint)));
  t.note(label, got.length < count ? { completions: got, timedOut: true } : got);
}
