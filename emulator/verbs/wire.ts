// Execution of posted work requests: a QP's requests run in order after the
// post (from the event loop or a poll), never inside it. Each reaches its peer
// QP (by destination GID and QP number), whose responder checks it as rxe's
// does and moves the bytes; both sides complete as rxe completes them, errors
// included.
import { IBV_ACCESS, IBV_QPS, IBV_SEND, IBV_WC, IBV_WC_OPCODE, IBV_WC_STATUS, IBV_WR } from '../../seam/verbs-uapi';
import type { WorkCompletion } from './cq';
import { sameGid } from './device';
import type { IbMr } from './mr';
import type { Sge } from '../../seam/work-requests';
import type { IbQp, RecvWqe, SendWqe } from './qp';
import { queueWork } from '../work';

const A = IBV_ACCESS;
/** rxe's check_length: an RDMA request longer than 2^31 bytes is malformed. */
const MAX_RDMA_LENGTH = 2 ** 31;
/** An rnr_retry of 7 retries for ever. */
const RNR_INFINITE = 7;

/** Runs the QP's queues later (emulator/work.ts): never inside the post, at the next turn or poll. */
export function schedule(qp: IbQp): void {
  if (!qp.destroyed) queueWork(qp, () => run(qp));
}

/** Requesters waiting for a receive at `responder` try again: one was posted, or the responder changed. */
export function wake(responder: IbQp): void {
  for (const requester of [...responder.rnrWaiters]) {
    requester.stall?.();
    requester.stall = undefined;
    schedule(requester);
  }
}

function run(qp: IbQp): void {
  if (qp.destroyed) return;
  // The responder a request reached serves the requests after it in this run
  // while they succeed: a successful request changes nothing reach() reads
  // (states, ports, GIDs, routes), and nothing else runs in between.
  let reached: IbQp | undefined;
  while (qp.state === IBV_QPS.RTS && qp.sq.length > 0 && !qp.stall) {
    const wqe = qp.sq.peek()!;
    const responder = reached ?? reach(qp);
    const status = attempt(qp, wqe, responder);
    reached = status === IBV_WC_STATUS.SUCCESS ? responder : undefined;
    if (status === undefined) return;
    // A QP that is its own peer may have flushed the request as the responder.
    if (qp.sq.peek() !== wqe) continue;
    qp.sq.shift();
    completeSend(qp, wqe, status);
    if (status !== IBV_WC_STATUS.SUCCESS) qp.fail();
  }
  if (qp.state === IBV_QPS.ERR) flush(qp);
}

/** What a request came to, or undefined while it waits; `responder` is what reach() found for it. */
function attempt(requester: IbQp, wqe: SendWqe, responder: IbQp | undefined): number | undefined {
  const op = wqe.opcode;
  const { completions } = requester.device.profile;
  // No MR of a user process can be invalidated (rxe_invalidate_mr wants a fast-registration MR).
  if (op === IBV_WR.LOCAL_INV) return completions.localOperation;
  let payload: Uint8Array | undefined;
  if (op !== IBV_WR.RDMA_READ) {
    payload = wqe.inline ?? localRead(requester, wqe.sge);
    if (!payload) return completions.localProtection;
  }
  if (!responder) return retry(requester, wqe);
  const reply = respond(responder, wqe, payload ?? new Uint8Array(0));
  if (reply === 'rnr') return rnrRetry(requester, responder, wqe);
  if (reply.status !== IBV_WC_STATUS.SUCCESS) return reply.status;
  if (op === IBV_WR.RDMA_READ && !localWrite(requester, wqe.sge, reply.data)) return IBV_WC_STATUS.LOC_PROT_ERR;
  return IBV_WC_STATUS.SUCCESS;
}

/**
 * The responder QP the request's packets reach, if any: both ports up, the
 * destination GID routed, the QP there ready to receive, and the packet from
 * and to the addresses its own address vector names (rxe's check_addr).
 */
function reach(requester: IbQp): IbQp | undefined {
  const { device, attrs } = requester;
  const av = attrs.av;
  if (!av || !device.portActive) return undefined;
  const target = device.fabric.route(device, av.dgid);
  if (!target?.portActive) return undefined;
  const responder = target.qp(attrs.destQpNum);
  if (!responder || responder.state < IBV_QPS.RTR || responder.state === IBV_QPS.ERR || !responder.attrs.av) return undefined;
  const from = device.sgid(av.sgidIndex);
  const to = target.sgid(responder.attrs.av.sgidIndex);
  if (typeof from === 'string' || typeof to === 'string') return undefined;
  return sameGid(responder.attrs.av.dgid, from) && sameGid(av.dgid, to) ? responder : undefined;
}

/** No response: the request is sent again after the ACK timeout, retry_cnt times, then fails. */
function retry(requester: IbQp, wqe: SendWqe): number | undefined {
  const { timeout, retryCnt } = requester.attrs;
  const forever = retryCnt === 7 && requester.device.profile.completions.retry7Forever;
  if (!forever && wqe.retries >= retryCnt + 1) return IBV_WC_STATUS.RETRY_EXC_ERR;
  // A timeout of 0 waits for ever.
  const cancel = timeout === 0 ? () => {} : requester.device.machine.clock.setTimer(ackTimeoutMs(timeout), () => {
    requester.stall = undefined;
    wqe.retries++;
    run(requester);
  });
  requester.stall = cancel;
  return undefined;
}

/** The responder has no receive: retried for ever (rnr_retry 7) as soon as one is posted, else on the RNR timer. */
function rnrRetry(requester: IbQp, responder: IbQp, wqe: SendWqe): number | undefined {
  const limit = requester.attrs.rnrRetry;
  if (limit === RNR_INFINITE) {
    responder.rnrWaiters.add(requester);
    requester.stall = () => responder.rnrWaiters.delete(requester);
    return undefined;
  }
  if (wqe.rnrRetries >= limit + 1) return IBV_WC_STATUS.RNR_RETRY_EXC_ERR;
  requester.stall = requester.device.machine.clock.setTimer(rnrDelayMs(responder.attrs.minRnrTimer), () => {
    requester.stall = undefined;
    wqe.rnrRetries++;
    run(requester);
  });
  return undefined;
}

type Reply = 'rnr' | { status: number; data: Uint8Array };

const NO_DATA = new Uint8Array(0);
/** The reply of every request that succeeds with no data back: one object, not one per request. */
const DONE: Reply = Object.freeze({ status: IBV_WC_STATUS.SUCCESS, data: NO_DATA });

/** rxe_responder's path for one request: check_op_valid, check_resource, check_length, check_rkey, execute, complete. */
function respond(responder: IbQp, wqe: SendWqe, payload: Uint8Array): Reply {
  const op = wqe.opcode;
  const read = op === IBV_WR.RDMA_READ;
  const rdma = read || op === IBV_WR.RDMA_WRITE || op === IBV_WR.RDMA_WRITE_WITH_IMM;
  const access = read ? A.REMOTE_READ : A.REMOTE_WRITE;
  const solicited = (wqe.flags & IBV_SEND.SOLICITED) !== 0;
  const nak = (recv: RecvWqe | undefined, recvStatus: number, status: number): Reply => {
    if (recv) finishRecv(responder, { status: recvStatus, opcode: 0, byteLen: 0, imm: 0, flags: 0 }, solicited);
    stop(responder);
    return { status, data: NO_DATA };
  };
  // The QP's own access flags: class C, an invalid request.
  if (rdma && !(responder.attrs.accessFlags & access)) return nak(undefined, 0, IBV_WC_STATUS.REM_INV_REQ_ERR);
  // Everything but READ and WRITE consumes a receive; without one, an RNR NAK.
  const needsRecv = !read && op !== IBV_WR.RDMA_WRITE;
  const recv = needsRecv ? responder.rq.peek() : undefined;
  if (needsRecv && !recv) return 'rnr';
  const length = read ? wqe.sge?.length ?? 0 : payload.length;
  if (rdma && length > MAX_RDMA_LENGTH) return nak(recv, IBV_WC_STATUS.REM_INV_REQ_ERR, IBV_WC_STATUS.REM_INV_REQ_ERR);
  // check_rkey; a zero-length READ or WRITE names no memory.
  let mr: IbMr | undefined;
  if (rdma && length > 0) {
    mr = lookupMr(responder, wqe.rkey, access, wqe.remoteAddr, length);
    if (!mr) return nak(recv, IBV_WC_STATUS.REM_ACCESS_ERR, IBV_WC_STATUS.REM_ACCESS_ERR);
  }

  const packet = responder.attrs.pathMtu;
  if (read) return { status: IBV_WC_STATUS.SUCCESS, data: mr?.read(wqe.remoteAddr, length, packet) ?? NO_DATA };
  if (rdma) {
    mr?.write(wqe.remoteAddr, payload, packet);
  } else {
    const stored = receiveInto(responder, recv?.sge, payload);
    if (stored !== 'ok') {
      const { recv: recvStatus, requester } = responder.device.profile.completions[stored];
      return nak(recv, recvStatus, requester);
    }
  }
  if (!recv) return DONE;
  if (op === IBV_WR.SEND_WITH_INV) {
    // The rkey to invalidate names no MR that can be (class J): the receive fails, yet the requester is ACKed.
    finishRecv(responder, { status: IBV_WC_STATUS.REM_INV_REQ_ERR, opcode: 0, byteLen: 0, imm: 0, flags: 0 }, solicited);
    stop(responder);
    return DONE;
  }
  const imm = op === IBV_WR.RDMA_WRITE_WITH_IMM || op === IBV_WR.SEND_WITH_IMM;
  finishRecv(responder, {
    status: IBV_WC_STATUS.SUCCESS,
    opcode: op === IBV_WR.RDMA_WRITE_WITH_IMM ? IBV_WC_OPCODE.RECV_RDMA_WITH_IMM : IBV_WC_OPCODE.RECV,
    byteLen: length,
    imm: imm ? wqe.imm : 0,
    flags: IBV_WC.GRH | (imm ? IBV_WC.WITH_IMM : 0),
  }, solicited);
  return DONE;
}

/** send_data_in: the payload into the receive's SGE (copy_data with LOCAL_WRITE). */
function receiveInto(responder: IbQp, sge: Sge | undefined, payload: Uint8Array): 'ok' | 'recvLength' | 'recvProtection' {
  if (payload.length === 0) return 'ok';
  if (!sge) return 'recvLength';
  const fits = Math.min(payload.length, sge.length);
  const mr = lookupMr(responder, sge.lkey, A.LOCAL_WRITE, sge.addr, fits);
  if (!mr) return 'recvProtection';
  if (payload.length > sge.length) return 'recvLength';
  mr.write(sge.addr, payload, responder.attrs.pathMtu);
  return 'ok';
}

/**
 * lookup_mr and mr_check_range: the MR `key` names exactly, in the QP's PD,
 * allowing `access`, holding [addr, addr + length), which the device can
 * reach (a revoked MR, or an on-demand page the process unmapped, fails
 * the access as a key violation does).
 */
function lookupMr(qp: IbQp, key: number, access: number, addr: bigint, length: number): IbMr | undefined {
  const mr = qp.device.mrByKey(key);
  const ok = mr && mr.pd === qp.pd && (mr.access & access) === access && mr.contains(addr, length) && mr.reaches(addr, length);
  return ok ? mr : undefined;
}

/** The requester gathers what it sends from its SGE (copy_data with no access asked). */
function localRead(qp: IbQp, sge: Sge | undefined): Uint8Array | undefined {
  if (!sge) return new Uint8Array(0);
  return lookupMr(qp, sge.lkey, 0, sge.addr, sge.length)?.read(sge.addr, sge.length, qp.attrs.pathMtu);
}

/** A read response lands in the requester's SGE, which must allow local write. */
function localWrite(qp: IbQp, sge: Sge | undefined, data: Uint8Array): boolean {
  if (!sge || data.length === 0) return true;
  const mr = lookupMr(qp, sge.lkey, A.LOCAL_WRITE, sge.addr, data.length);
  mr?.write(sge.addr, data, qp.attrs.pathMtu);
  return mr !== undefined;
}

/** A send completion: on success only where signalled; errors and flushes always. */
function completeSend(qp: IbQp, wqe: SendWqe, status: number): void {
  const signalled = qp.sigAll || (wqe.flags & IBV_SEND.SIGNALED) !== 0;
  if (status === IBV_WC_STATUS.SUCCESS && !signalled) return;
  const ok = status === IBV_WC_STATUS.SUCCESS;
  const op = wqe.opcode;
  const imm = op === IBV_WR.RDMA_WRITE_WITH_IMM || op === IBV_WR.SEND_WITH_IMM;
  const opcode = op === IBV_WR.RDMA_READ ? IBV_WC_OPCODE.RDMA_READ : op === IBV_WR.RDMA_WRITE || op === IBV_WR.RDMA_WRITE_WITH_IMM ? IBV_WC_OPCODE.RDMA_WRITE : IBV_WC_OPCODE.SEND;
  qp.sendCq.push({
    wrId: wqe.wrId,
    status,
    // As rxe's make_send_cqe: an error completion carries only wr_id, status and qp_num.
    opcode: ok ? opcode : 0,
    byteLen: ok ? wqe.sge?.length ?? 0 : 0,
    imm: 0,
    qpNum: qp.qpn,
    flags: ok && imm ? IBV_WC.WITH_IMM : 0,
  }, false);
}

/** Completes the receive at the head of the QP's receive queue. */
function finishRecv(qp: IbQp, wc: Omit<WorkCompletion, 'wrId' | 'qpNum'>, solicited: boolean): void {
  const recv = qp.rq.shift()!;
  qp.recvCq.push({ ...wc, wrId: recv.wrId, qpNum: qp.qpn }, solicited);
}

/** The responder goes to ERR and flushes at once, before its NAK reaches the requester (as seen on rxe). */
function stop(responder: IbQp): void {
  responder.fail();
  flush(responder);
}

/** A QP in ERR completes all it holds with WR_FLUSH_ERR (flushed receives count as solicited). */
function flush(qp: IbQp): void {
  for (const wqe of qp.sq.drain()) completeSend(qp, wqe, IBV_WC_STATUS.WR_FLUSH_ERR);
  while (qp.rq.length > 0) finishRecv(qp, { status: IBV_WC_STATUS.WR_FLUSH_ERR, opcode: 0, byteLen: 0, imm: 0, flags: 0 }, true);
}

/** The local ACK timeout: 4.096 µs × 2^timeout, in whole milliseconds for the kernel's timers. */
function ackTimeoutMs(timeout: number): number {
  return Math.ceil((4.096 * 2 ** timeout) / 1000);
}

/** The RNR NAK timer field's encoding (IBA table 45), in microseconds; 0 is the longest. */
const RNR_DELAY_US = [
  655360, 10, 20, 30, 40, 60, 80, 120, 160, 240, 320, 480, 640, 960, 1280, 1920, 2560, 3840, 5120, 7680, 10240,
  15360, 20480, 30720, 40960, 61440, 81920, 122880, 163840, 245760, 327680, 491520,
];

function rnrDelayMs(minRnrTimer: number): number {
  return Math.ceil(RNR_DELAY_US[minRnrTimer & 31] / 1000);
}
