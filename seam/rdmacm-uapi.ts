// librdmacm enums (rdma/rdma_cma.h), shared by both backends, spelled as the
// header spells them less their prefix.

export const RDMA_PS_TCP = 0x0106;

/** enum rdma_cm_event_type. */
export const RDMA_CM_EVENT = {
  ADDR_RESOLVED: 0, ADDR_ERROR: 1, ROUTE_RESOLVED: 2, ROUTE_ERROR: 3, CONNECT_REQUEST: 4, CONNECT_RESPONSE: 5,
  CONNECT_ERROR: 6, UNREACHABLE: 7, REJECTED: 8, ESTABLISHED: 9, DISCONNECTED: 10, DEVICE_REMOVAL: 11,
  MULTICAST_JOIN: 12, MULTICAST_ERROR: 13, ADDR_CHANGE: 14, TIMEWAIT_EXIT: 15,
} as const;

/** IB CM reject reasons a REJECTED event carries as its status (enum ib_cm_rej_reason). */
export const IB_CM_REJ = { TIMEOUT: 1, INVALID_SERVICE_ID: 8, CONSUMER_DEFINED: 28 } as const;

/** The most private data each message carries for RDMA_PS_TCP on IB and RoCE (the CM's limit less rdma_cm's 36-byte header on REQ). */
export const PRIVATE_DATA_MAX = { connect: 56, accept: 196, reject: 148 } as const;
