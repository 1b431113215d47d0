// The QP transitions the connection manager makes (librdmacm's
// ucma_modify_qp_* with the attributes rdma_init_qp_attr gives, as ib_cm's
// cm_init_qp_*_attr fills them).
import * as v from '../../seam/verbs-uapi';
import type { IbQp } from '../verbs/qp';

/** cm_init_qp_init_attr: remote writes always; reads and atomics where the side takes responder resources. */
export function connAccess(responderResources: number): number {
  const A = v.IBV_ACCESS;
  return A.REMOTE_WRITE | (responderResources > 0 ? A.REMOTE_READ | A.REMOTE_ATOMIC : 0);
}

/** RESET→INIT, or INIT→INIT with the access flags the connection allows. */
export function toInit(qp: IbQp, access: number): void {
  qp.modify({ qpState: v.IBV_QPS.INIT, pkeyIndex: 0, portNum: 1, qpAccessFlags: access },
    v.IBV_QP.STATE | v.IBV_QP.PKEY_INDEX | v.IBV_QP.PORT | v.IBV_QP.ACCESS_FLAGS);
}

export interface RtrAttrs {
  dgid: Uint8Array;
  sgidIndex: number;
  /** IBV_MTU_*: the active side's path MTU, which the REQ carries to the passive side. */
  pathMtu: number;
  destQpNum: number;
  maxDestRdAtomic: number;
}

export function toRtr(qp: IbQp, a: RtrAttrs): void {
  qp.modify({
    qpState: v.IBV_QPS.RTR,
    ahAttr: { dlid: 0, portNum: 1, isGlobal: true, dgid: a.dgid, sgidIndex: a.sgidIndex, hopLimit: 64 },
    pathMtu: a.pathMtu, destQpNum: a.destQpNum, rqPsn: 0, maxDestRdAtomic: a.maxDestRdAtomic, minRnrTimer: 0,
  }, v.IBV_QP.STATE | v.IBV_QP.AV | v.IBV_QP.PATH_MTU | v.IBV_QP.DEST_QPN | v.IBV_QP.RQ_PSN |
    v.IBV_QP.MAX_DEST_RD_ATOMIC | v.IBV_QP.MIN_RNR_TIMER);
}

export interface RtsAttrs {
  timeout: number;
  retryCnt: number;
  rnrRetry: number;
  maxRdAtomic: number;
}

export function toRts(qp: IbQp, a: RtsAttrs): void {
  qp.modify({ qpState: v.IBV_QPS.RTS, sqPsn: 0, timeout: a.timeout, retryCnt: a.retryCnt, rnrRetry: a.rnrRetry, maxRdAtomic: a.maxRdAtomic },
    v.IBV_QP.STATE | v.IBV_QP.SQ_PSN | v.IBV_QP.TIMEOUT | v.IBV_QP.RETRY_CNT | v.IBV_QP.RNR_RETRY | v.IBV_QP.MAX_QP_RD_ATOMIC);
}

/** ucma_modify_qp_err: outstanding requests flush. */
export function toErr(qp: IbQp): void {
  if (!qp.destroyed) qp.modify({ qpState: v.IBV_QPS.ERR }, v.IBV_QP.STATE);
}
