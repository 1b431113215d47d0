// libibverbs enum values (infiniband/verbs.h), shared by both backends.

export const IBV_ACCESS = {
  'local-write': 1,
  'remote-write': 2,
  'remote-read': 4,
  'remote-atomic': 8,
  'mw-bind': 16,
  'zero-based': 32,
  'on-demand': 64,
  hugetlb: 128,
  'flush-global': 1 << 8,
  'flush-persistent': 1 << 9,
  'relaxed-ordering': 1 << 20,
} as const;
export type AccessFlag = keyof typeof IBV_ACCESS;

export const IBV_QPT_RC = 2;

export const IBV_QPS = { reset: 0, init: 1, rtr: 2, rts: 3, sqd: 4, sqe: 5, err: 6 } as const;

// ibv_qp_attr_mask
export const IBV_QP_STATE = 1 << 0;
export const IBV_QP_ACCESS_FLAGS = 1 << 3;
export const IBV_QP_PKEY_INDEX = 1 << 4;
export const IBV_QP_PORT = 1 << 5;
export const IBV_QP_AV = 1 << 7;
export const IBV_QP_PATH_MTU = 1 << 8;
export const IBV_QP_TIMEOUT = 1 << 9;
export const IBV_QP_RETRY_CNT = 1 << 10;
export const IBV_QP_RNR_RETRY = 1 << 11;
export const IBV_QP_RQ_PSN = 1 << 12;
export const IBV_QP_MAX_QP_RD_ATOMIC = 1 << 13;
export const IBV_QP_MIN_RNR_TIMER = 1 << 15;
export const IBV_QP_SQ_PSN = 1 << 16;
export const IBV_QP_MAX_DEST_RD_ATOMIC = 1 << 17;
export const IBV_QP_DEST_QPN = 1 << 20;

export const IBV_WR = { 'write': 0, 'write-imm': 1, send: 2, 'send-imm': 3, read: 4 } as const;
export type SendOpcode = keyof typeof IBV_WR;

export const IBV_SEND_FENCE = 1;
export const IBV_SEND_SIGNALED = 2;
export const IBV_SEND_SOLICITED = 4;
export const IBV_SEND_INLINE = 8;

export const IBV_WC_WITH_IMM = 2;

export const WC_STATUS = [
  'success', 'local-length-error', 'local-qp-op-error', 'local-eec-op-error', 'local-protection-error',
  'wr-flush-error', 'mw-bind-error', 'bad-response-error', 'local-access-error', 'remote-invalid-request-error',
  'remote-access-error', 'remote-operation-error', 'retry-exceeded-error', 'rnr-retry-exceeded-error',
  'local-rdd-violation-error', 'remote-invalid-rd-request', 'remote-aborted-error', 'invalid-eecn-error',
  'invalid-eec-state-error', 'fatal-error', 'response-timeout-error', 'general-error',
] as const;
export type WcStatus = (typeof WC_STATUS)[number];

const WC_OPCODES: Record<number, string> = {
  0: 'send', 1: 'rdma-write', 2: 'rdma-read', 3: 'comp-swap', 4: 'fetch-add', 5: 'bind-mw', 6: 'local-inv',
  128: 'recv', 129: 'recv-rdma-with-imm',
};
export function wcOpcodeName(op: number): string {
  return WC_OPCODES[op] ?? `opcode-${op}`;
}

export const PORT_STATES = ['nop', 'down', 'init', 'armed', 'active', 'active-defer'] as const;
export const LINK_LAYERS = ['unspecified', 'infiniband', 'ethernet'] as const;

/** IBV_MTU_* enum to bytes (1 → 256 … 5 → 4096). */
export function mtuBytes(mtu: number): number {
  return mtu >= 1 && mtu <= 5 ? 128 << mtu : 0;
}

export const ASYNC_EVENTS: Record<number, string> = {
  0: 'cq-error', 1: 'qp-fatal', 2: 'qp-request-error', 3: 'qp-access-error', 4: 'comm-established',
  5: 'sq-drained', 6: 'path-migrated', 7: 'path-migration-error', 8: 'device-fatal', 9: 'port-active',
  10: 'port-error', 11: 'lid-change', 12: 'pkey-change', 13: 'sm-change', 14: 'srq-error',
  15: 'srq-limit-reached', 16: 'qp-last-wqe-reached', 17: 'client-reregister', 18: 'gid-change', 19: 'wq-fatal',
};
