// libibverbs values the emulator needs beyond those in seam/verbs-uapi.ts.

/** enum ibv_wr_opcode: those the packed layout carries (the rest hold pointers or fields it has no room for). */
export const WR = { RDMA_WRITE: 0, RDMA_WRITE_WITH_IMM: 1, SEND: 2, SEND_WITH_IMM: 3, RDMA_READ: 4, LOCAL_INV: 7, SEND_WITH_INV: 9 } as const;

/** enum ibv_wc_status, the ones the emulator produces. */
export const WC = {
  SUCCESS: 0,
  LOC_LEN_ERR: 1,
  LOC_QP_OP_ERR: 2,
  LOC_PROT_ERR: 4,
  WR_FLUSH_ERR: 5,
  REM_INV_REQ_ERR: 9,
  REM_ACCESS_ERR: 10,
  REM_OP_ERR: 11,
  RETRY_EXC_ERR: 12,
  RNR_RETRY_EXC_ERR: 13,
} as const;

/** enum ibv_wc_opcode. */
export const WC_OP = { SEND: 0, RDMA_WRITE: 1, RDMA_READ: 2, RECV: 128, RECV_RDMA_WITH_IMM: 129 } as const;

/** enum ibv_wc_flags. */
export const WC_GRH = 1;
export const WC_WITH_IMM = 2;

/** enum ibv_event_type, the ones the emulator raises. */
export const EVENT = { CQ_ERR: 0, PORT_ACTIVE: 9, PORT_ERR: 10 } as const;

/** enum ibv_port_state. */
export const PORT_DOWN = 1;
export const PORT_ACTIVE = 4;

export const LINK_LAYER_ETHERNET = 2;

/** ibv_req_notify_cq arms for the next completion, or (solicited_only) the next solicited one. */
export const CQ_NEXT_COMP = 2;
export const CQ_SOLICITED = 1;
