// The RDMA part of the seam: libibverbs' calls, kernel-shaped. Objects are
// small integer handles; sizes, addresses and GUIDs are bigint. Work requests
// and completions cross the seam packed in BigUint64Arrays, so posting and
// polling allocate nothing: work-requests.ts holds their layouts and codec.
//
// Failures are SystemErrors whose `syscall` is the verb's name
// ('ibv_reg_mr', 'ibv_post_send', …), with the errno the verb set. When
// libibverbs cannot be loaded, every verb throws ENOSYS with syscall
// 'dlopen' and the loader's message.

export interface IbvDeviceEntry {
  name: string;
  /** Node GUID, host byte order. */
  guid: bigint;
  /** IBV_NODE_* (1 CA, 4 RNIC…). */
  nodeType: number;
  /** IBV_TRANSPORT_* (0 IB, 1 iWARP…). */
  transportType: number;
}

export interface IbvDeviceAttr {
  fwVer: string;
  vendorId: number;
  vendorPartId: number;
  hwVer: number;
  physPortCnt: number;
  maxMrSize: bigint;
  pageSizeCap: bigint;
  maxQp: number;
  maxQpWr: number;
  maxSge: number;
  maxCq: number;
  maxCqe: number;
  maxMr: number;
  maxPd: number;
  maxQpRdAtom: number;
  maxQpInitRdAtom: number;
  deviceCapFlags: number;
  /** From ibv_query_device_ex: ODP capability flags (IBV_ODP_SUPPORT…), 0 when none. */
  odpGeneralCaps: bigint;
  odpRcCaps: number;
}

export interface IbvPortAttr {
  /** IBV_PORT_* (4 ACTIVE, 1 DOWN…). */
  state: number;
  /** IBV_MTU_* enum: 1=256 … 5=4096. */
  maxMtu: number;
  activeMtu: number;
  gidTblLen: number;
  lid: number;
  /** IBV_LINK_LAYER_* (1 InfiniBand, 2 Ethernet). */
  linkLayer: number;
  activeSpeed: number;
  activeWidth: number;
}

export interface IbvMr {
  handle: number;
  lkey: number;
  rkey: number;
  /** The registered address (iova for dma-buf MRs). */
  addr: bigint;
  length: bigint;
}

export interface IbvQpCap {
  maxSendWr: number;
  maxRecvWr: number;
  maxSendSge: number;
  maxRecvSge: number;
  maxInlineData: number;
}

export interface IbvQpInit {
  sendCq: number;
  recvCq: number;
  /** IBV_QPT_RC = 2, IBV_QPT_UC = 3, IBV_QPT_UD = 4. */
  qpType: number;
  cap: IbvQpCap;
  /** Every send WR generates a completion (otherwise only IBV_SEND_SIGNALED ones). */
  sqSigAll: boolean;
}

export interface IbvQp {
  handle: number;
  qpNum: number;
  /** The capabilities the device granted (≥ those asked). */
  cap: IbvQpCap;
}

/** ibv_qp_attr fields used to move an RC QP through INIT/RTR/RTS; which apply is set by `mask` (IBV_QP_*). */
export interface IbvQpAttr {
  qpState?: number;
  pkeyIndex?: number;
  portNum?: number;
  qpAccessFlags?: number;
  pathMtu?: number;
  destQpNum?: number;
  rqPsn?: number;
  sqPsn?: number;
  maxDestRdAtomic?: number;
  maxRdAtomic?: number;
  minRnrTimer?: number;
  timeout?: number;
  retryCnt?: number;
  rnrRetry?: number;
  /** Address vector for RoCE/IB: the peer's GID (16 bytes), our GID index, hop limit, LID, port. */
  ahAttr?: { dlid: number; portNum: number; isGlobal: boolean; dgid?: Uint8Array; sgidIndex?: number; hopLimit?: number };
}

/** A CQ notification channel: its fd becomes readable when a CQ armed on it has an event. */
export interface IbvCompChannel {
  handle: number;
  fd: number;
}

export interface IbvAsyncEvent {
  /** IBV_EVENT_* (e.g. 9 PORT_ACTIVE, 10 PORT_ERR, 8 DEVICE_FATAL). */
  eventType: number;
  /** The port, QP handle or CQ handle the event concerns (port number for port events). */
  element: number;
}


export interface VerbsCalls {
  /** [ibv_get_device_list] */
  ibvGetDeviceList(): IbvDeviceEntry[];
  /** [ibv_open_device] Returns a context handle. */
  ibvOpenDevice(name: string): number;
  /** [ibv_close_device] */
  ibvCloseDevice(ctx: number): void;
  /** [ibv_query_device] (with ibv_query_device_ex for ODP caps where the provider has it) */
  ibvQueryDevice(ctx: number): IbvDeviceAttr;
  /** [ibv_query_port] */
  ibvQueryPort(ctx: number, port: number): IbvPortAttr;
  /** [ibv_query_gid] 16 bytes. */
  ibvQueryGid(ctx: number, port: number, index: number): Uint8Array;
  /** [ibv_get_async_event] Non-blocking: null when none is pending. The context's async fd is ibvAsyncFd(). */
  ibvGetAsyncEvent(ctx: number): IbvAsyncEvent | null;
  /** The context's async event fd (non-blocking), for watch(). */
  ibvAsyncFd(ctx: number): number;

  /** [ibv_alloc_pd] */
  ibvAllocPd(ctx: number): number;
  /** [ibv_dealloc_pd] EBUSY while MRs or QPs use it. */
  ibvDeallocPd(pd: number): void;

  /**
   * [ibv_reg_mr] Registers the memory under `view` (which must stay alive
   * while registered); returns the MR's handle and writes its keys, address
   * and length to `out` (mrWords(), read with decodeMr()).
   */
  ibvRegMr(pd: number, view: Uint8Array, access: number, out: BigUint64Array): number;
  /** [ibv_reg_dmabuf_mr] As ibvRegMr. */
  ibvRegDmabufMr(pd: number, offset: bigint, length: bigint, iova: bigint, fd: number, access: number, out: BigUint64Array): number;
  /** [ibv_dereg_mr] */
  ibvDeregMr(mr: number): void;
  /**
   * [ibv_advise_mr] One SGE: IBV_ADVISE_MR_ADVICE_* for [addr, addr + length)
   * of the on-demand MR `lkey` names in `pd`; with IBV_ADVISE_MR_FLAG_FLUSH
   * the pages are in before it returns, else it only queues the work. The lkey
   * of a pinned MR of `pd` is refused with EINVAL before the kernel (rxe in
   * 7.3 would take it for an on-demand MR). EOPNOTSUPP where the driver has
   * no advise_mr (rxe before Linux 7.3).
   */
  ibvAdviseMr(pd: number, advice: number, flags: number, lkey: number, addr: bigint, length: number): void;

  /** [ibv_create_comp_channel] The fd is non-blocking. */
  ibvCreateCompChannel(ctx: number): IbvCompChannel;
  /** [ibv_destroy_comp_channel] EBUSY while CQs use it. */
  ibvDestroyCompChannel(channel: number): void;
  /**
   * [ibv_create_cq] channel -1 for none. `out` (wcWords()) is where
   * ibvPollCq writes this CQ's completions, bound for its life so that a poll
   * passes no array: a BigUint64Array over a SharedArrayBuffer, which cannot
   * be detached, with room for at least one completion.
   */
  ibvCreateCq(ctx: number, cqe: number, channel: number, out: BigUint64Array): number;
  /** [ibv_destroy_cq] */
  ibvDestroyCq(cq: number): void;
  /** [ibv_req_notify_cq] */
  ibvReqNotifyCq(cq: number, solicitedOnly: boolean): void;
  /** [ibv_get_cq_event] Non-blocking: the CQ handle with an event, or -1 when none. */
  ibvGetCqEvent(channel: number): number;
  /** [ibv_ack_cq_events] */
  ibvAckCqEvents(cq: number, count: number): void;
  /** [ibv_poll_cq] Writes up to `max` completions (no more than fit) to the CQ's `out`; returns how many. */
  ibvPollCq(cq: number, max: number): number;

  /** [ibv_create_qp] */
  ibvCreateQp(pd: number, init: IbvQpInit): IbvQp;
  /** [ibv_modify_qp] */
  ibvModifyQp(qp: number, attr: IbvQpAttr, mask: number): void;
  /** [ibv_destroy_qp] */
  ibvDestroyQp(qp: number): void;
  /**
   * [ibv_post_send] Posts `count` requests packed as SEND_WR_WORDS each.
   * Throws the errno of the first bad request with `index` set on the error
   * (the requests before it were posted).
   */
  ibvPostSend(qp: number, wrs: BigUint64Array, count: number): void;
  /** [ibv_post_recv] As ibvPostSend, RECV_WR_WORDS each. */
  ibvPostRecv(qp: number, wrs: BigUint64Array, count: number): void;

  /** [getrlimit] RLIMIT_MEMLOCK in bytes; 2n**64n-1n is unlimited. */
  getMemlockLimit(): { soft: bigint; hard: bigint };
  /** [setrlimit] */
  setMemlockLimit(soft: bigint, hard: bigint): void;
}
