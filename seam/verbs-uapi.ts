// libibverbs and uverbs enums (infiniband/verbs.h, rdma/ib_user_verbs.h),
// shared by both backends. One spelling per enum: the header's, less its
// prefix (IBV_WR_RDMA_WRITE is IBV_WR.RDMA_WRITE). The API's own names for
// these values (src/verbs) are made from the keys, never from the numbers.

/** enum ibv_access_flags. */
export const IBV_ACCESS = {
  LOCAL_WRITE: 1,
  REMOTE_WRITE: 2,
  REMOTE_READ: 4,
  REMOTE_ATOMIC: 8,
  MW_BIND: 16,
  ZERO_BASED: 32,
  ON_DEMAND: 64,
  HUGETLB: 128,
  FLUSH_GLOBAL: 1 << 8,
  FLUSH_PERSISTENT: 1 << 9,
  RELAXED_ORDERING: 1 << 20,
} as const;

/** enum ibv_advise_mr_advice. */
export const IBV_ADVISE_MR_ADVICE = { PREFETCH: 0, PREFETCH_WRITE: 1, PREFETCH_NO_FAULT: 2 } as const;

/** enum ibv_advise_mr_flags. */
export const IBV_ADVISE_MR_FLAG = { FLUSH: 1 } as const;

export const IBV_QPT_RC = 2;

/** enum ibv_qp_state. */
export const IBV_QPS = { RESET: 0, INIT: 1, RTR: 2, RTS: 3, SQD: 4, SQE: 5, ERR: 6 } as const;

/** enum ibv_qp_attr_mask. */
export const IBV_QP = {
  STATE: 1 << 0,
  CUR_STATE: 1 << 1,
  EN_SQD_ASYNC_NOTIFY: 1 << 2,
  ACCESS_FLAGS: 1 << 3,
  PKEY_INDEX: 1 << 4,
  PORT: 1 << 5,
  QKEY: 1 << 6,
  AV: 1 << 7,
  PATH_MTU: 1 << 8,
  TIMEOUT: 1 << 9,
  RETRY_CNT: 1 << 10,
  RNR_RETRY: 1 << 11,
  RQ_PSN: 1 << 12,
  MAX_QP_RD_ATOMIC: 1 << 13,
  ALT_PATH: 1 << 14,
  MIN_RNR_TIMER: 1 << 15,
  SQ_PSN: 1 << 16,
  MAX_DEST_RD_ATOMIC: 1 << 17,
  PATH_MIG_STATE: 1 << 18,
  CAP: 1 << 19,
  DEST_QPN: 1 << 20,
} as const;

/** enum ibv_wr_opcode. */
export const IBV_WR = {
  RDMA_WRITE: 0, RDMA_WRITE_WITH_IMM: 1, SEND: 2, SEND_WITH_IMM: 3, RDMA_READ: 4,
  ATOMIC_CMP_AND_SWP: 5, ATOMIC_FETCH_AND_ADD: 6, LOCAL_INV: 7, BIND_MW: 8, SEND_WITH_INV: 9, TSO: 10, DRIVER1: 11,
} as const;

/** enum ibv_send_flags. */
export const IBV_SEND = { FENCE: 1, SIGNALED: 2, SOLICITED: 4, INLINE: 8 } as const;

/** enum ibv_wc_status. */
export const IBV_WC_STATUS = {
  SUCCESS: 0, LOC_LEN_ERR: 1, LOC_QP_OP_ERR: 2, LOC_EEC_OP_ERR: 3, LOC_PROT_ERR: 4, WR_FLUSH_ERR: 5,
  MW_BIND_ERR: 6, BAD_RESP_ERR: 7, LOC_ACCESS_ERR: 8, REM_INV_REQ_ERR: 9, REM_ACCESS_ERR: 10, REM_OP_ERR: 11,
  RETRY_EXC_ERR: 12, RNR_RETRY_EXC_ERR: 13, LOC_RDD_VIOL_ERR: 14, REM_INV_RD_REQ_ERR: 15, REM_ABORT_ERR: 16,
  INV_EECN_ERR: 17, INV_EEC_STATE_ERR: 18, FATAL_ERR: 19, RESP_TIMEOUT_ERR: 20, GENERAL_ERR: 21,
} as const;

/** enum ibv_wc_opcode. */
export const IBV_WC_OPCODE = {
  SEND: 0, RDMA_WRITE: 1, RDMA_READ: 2, COMP_SWAP: 3, FETCH_ADD: 4, BIND_MW: 5, LOCAL_INV: 6,
  RECV: 128, RECV_RDMA_WITH_IMM: 129,
} as const;

/** enum ibv_wc_flags. */
export const IBV_WC = { GRH: 1, WITH_IMM: 2 } as const;

/** enum ibv_event_type. */
export const IBV_EVENT = {
  CQ_ERR: 0, QP_FATAL: 1, QP_REQ_ERR: 2, QP_ACCESS_ERR: 3, COMM_EST: 4, SQ_DRAINED: 5, PATH_MIG: 6,
  PATH_MIG_ERR: 7, DEVICE_FATAL: 8, PORT_ACTIVE: 9, PORT_ERR: 10, LID_CHANGE: 11, PKEY_CHANGE: 12,
  SM_CHANGE: 13, SRQ_ERR: 14, SRQ_LIMIT_REACHED: 15, QP_LAST_WQE_REACHED: 16, CLIENT_REREGISTER: 17,
  GID_CHANGE: 18, WQ_FATAL: 19,
} as const;

/** enum ibv_port_state. */
export const IBV_PORT = { NOP: 0, DOWN: 1, INIT: 2, ARMED: 3, ACTIVE: 4, ACTIVE_DEFER: 5 } as const;

/** IBV_LINK_LAYER_*. */
export const IBV_LINK_LAYER = { UNSPECIFIED: 0, INFINIBAND: 1, ETHERNET: 2 } as const;

/** enum ib_cq_notify_flags (the kernel's; ibv_req_notify_cq's solicited_only picks one). */
export const IB_CQ = { SOLICITED: 1, NEXT_COMP: 2 } as const;

/** enum ibv_mtu to bytes (IBV_MTU_256 = 1 … IBV_MTU_4096 = 5); 0 for none. */
export function mtuBytes(mtu: number): number {
  return mtu >= 1 && mtu <= 5 ? 128 << mtu : 0;
}
