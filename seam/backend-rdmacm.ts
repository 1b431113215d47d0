// The connection-manager part of the seam: librdmacm's calls, kernel-shaped
// (rdma/rdma_cma.h). Ids and event channels are small integer handles, as
// the verbs objects are. Addresses cross the seam as numeric IPv4 or IPv6
// strings and port numbers; nothing here resolves host names.
//
// Failures are SystemErrors whose `syscall` is the call's name
// ('rdma_resolve_addr', 'rdma_connect', …) with the errno it set. Where
// librdmacm.so.1 cannot be loaded every call throws ENOSYS with syscall
// 'dlopen' and the loader's message.
//
// Asynchronous outcomes (address and route resolution, connection requests,
// replies, rejections, disconnections) arrive as events on the id's channel,
// whose fd is watched like any other. rdmaGetCmEvent copies an event and
// acknowledges it at once, so no event is ever left unacknowledged (librdmacm's
// rdma_destroy_id waits for that, forever if need be).

import type { IbvQp, IbvQpInit } from './backend-verbs';

export interface RdmaAddress {
  /** A numeric IPv4 or IPv6 address; '0.0.0.0' or '::' binds to every one. */
  host: string;
  port: number;
}

/** struct rdma_conn_param, as rdma_connect and rdma_accept take it. */
export interface RdmaConnParam {
  /** Sent to the peer; at most 56 bytes on connect, 196 on accept (RDMA_PS_TCP on IB/RoCE). */
  privateData: Uint8Array;
  responderResources: number;
  initiatorDepth: number;
  /** 0 to 7; ignored by rdma_accept. */
  retryCount: number;
  /** 0 to 7; 7 retries for ever. */
  rnrRetryCount: number;
}

/** The peer's connection parameters as an event carries them (event->param.conn). */
export interface RdmaPeerParam {
  responderResources: number;
  initiatorDepth: number;
  retryCount: number;
  rnrRetryCount: number;
  /** The peer's QP number. */
  qpNum: number;
}

export interface RdmaCmEvent {
  /** RDMA_CM_EVENT_* (seam/rdmacm-uapi.ts). */
  event: number;
  /** The id it concerns. For CONNECT_REQUEST, a new id for the connection, now the caller's to destroy. */
  id: number;
  /** For CONNECT_REQUEST, the listening id; 0 otherwise. */
  listenId: number;
  /**
   * 0, a negative errno (ADDR_ERROR, ROUTE_ERROR, UNREACHABLE, CONNECT_ERROR),
   * or for REJECTED the CM's reject reason (8: no one listens on that port,
   * 28: the peer's rdma_reject).
   */
  status: number;
  /** A copy of the private data the peer sent (the length the transport delivers, padding included). */
  privateData: Uint8Array;
  /**
   * For CONNECT_REQUEST (from the REQ) and the active side's ESTABLISHED
   * (from the REP: retryCount there is 0): the peer's connection parameters,
   * its responder resources and initiator depth swapped to our point of view
   * as the CM delivers them. The passive side's ESTABLISHED (the RTU) carries
   * all zeros. Otherwise null.
   */
  param: RdmaPeerParam | null;
}

export interface RdmaIdInfo {
  /**
   * The verbs context the id is bound to (after rdma_bind_addr on a local
   * address, rdma_resolve_addr, or for an id from CONNECT_REQUEST); 0 while
   * it is bound to no device. The context belongs to the connection manager:
   * PDs, CQs and MRs made on it work as on any context; ibvCloseDevice on it
   * only gives up the handle (EBUSY while objects made on it live).
   * The same device always gives the same handle.
   */
  context: number;
  /** The device's name (rxe0, mlx5_0…), '' while unbound. */
  deviceName: string;
  portNum: number;
  /** rdma_get_local_addr: the bound address and port (the port chosen where 0 was asked for). */
  local: RdmaAddress;
  /** rdma_get_peer_addr: '0.0.0.0' port 0 before an address is resolved. */
  remote: RdmaAddress;
}

export interface RdmaCmCalls {
  /** [rdma_create_event_channel] The fd is non-blocking. */
  rdmaCreateEventChannel(): { handle: number; fd: number };
  /** [rdma_destroy_event_channel] EBUSY while ids use it. */
  rdmaDestroyEventChannel(channel: number): void;
  /** [rdma_create_id] `portSpace` RDMA_PS_TCP (RC) is the one used here. */
  rdmaCreateId(channel: number, portSpace: number): number;
  /** [rdma_destroy_id] EBUSY while it has a QP (destroy that with ibvDestroyQp first). */
  rdmaDestroyId(id: number): void;
  /** [rdma_bind_addr] */
  rdmaBindAddr(id: number, address: RdmaAddress): void;
  /** [rdma_listen] */
  rdmaListen(id: number, backlog: number): void;
  /** [rdma_resolve_addr] `src` null: the route picks the source. ADDR_RESOLVED or ADDR_ERROR follows. */
  rdmaResolveAddr(id: number, src: RdmaAddress | null, dst: RdmaAddress, timeoutMs: number): void;
  /** [rdma_resolve_route] ROUTE_RESOLVED or ROUTE_ERROR follows. */
  rdmaResolveRoute(id: number, timeoutMs: number): void;
  /**
   * [rdma_create_qp] An RC QP on the id's context, moved by the connection
   * manager through INIT/RTR/RTS as the connection is made. The handle is an
   * ordinary QP handle for posting, polling and ibvDestroyQp (which, for
   * this QP, is rdma_destroy_qp).
   */
  rdmaCreateQp(id: number, pd: number, init: IbvQpInit): IbvQp;
  /** [rdma_connect] ESTABLISHED, REJECTED, UNREACHABLE or CONNECT_ERROR follows. */
  rdmaConnect(id: number, param: RdmaConnParam): void;
  /** [rdma_accept] On an id from CONNECT_REQUEST; ESTABLISHED follows. */
  rdmaAccept(id: number, param: RdmaConnParam): void;
  /** [rdma_reject] */
  rdmaReject(id: number, privateData: Uint8Array): void;
  /** [rdma_disconnect] Moves the QP to ERR (its outstanding requests flush) and tells the peer; DISCONNECTED follows on both sides. */
  rdmaDisconnect(id: number): void;
  /** [rdma_get_cm_event] Non-blocking: null when none is pending. Acknowledged before it returns. */
  rdmaGetCmEvent(channel: number): RdmaCmEvent | null;
  /** [rdma_get_local_addr] Where the id is bound and to what. */
  rdmaQueryId(id: number): RdmaIdInfo;
}
