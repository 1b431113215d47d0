// librdmacm enum values (rdma/rdma_cma.h), shared by both backends.

export const RDMA_PS_TCP = 0x0106;

export const RDMA_CM_EVENTS = [
  'addr-resolved', 'addr-error', 'route-resolved', 'route-error', 'connect-request', 'connect-response',
  'connect-error', 'unreachable', 'rejected', 'established', 'disconnected', 'device-removal',
  'multicast-join', 'multicast-error', 'addr-change', 'timewait-exit',
] as const;
export type RdmaCmEventName = (typeof RDMA_CM_EVENTS)[number];

/** RDMA_CM_EVENT_* by name. */
export const RDMA_CM_EVENT = Object.fromEntries(RDMA_CM_EVENTS.map((name, i) => [name, i])) as Record<RdmaCmEventName, number>;

/** IB CM reject reasons a REJECTED event carries as its status (ib_cm_rej_reason). */
export const IB_CM_REJ_INVALID_SERVICE_ID = 8;
export const IB_CM_REJ_CONSUMER_DEFINED = 28;

/** The most private data each message carries for RDMA_PS_TCP on IB and RoCE (the CM's limit less rdma_cm's 36-byte header on REQ). */
export const PRIVATE_DATA_MAX = { connect: 56, accept: 196, reject: 148 } as const;
