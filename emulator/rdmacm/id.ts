// An rdma_cm id (struct rdma_id_private) and the ib_cm connection under it:
// binding, listening, address and route resolution, and the CM messages
// (REQ, REP, RTU, REJ, DREQ, DREP) exchanged with the peer's id, with the
// retries and timeouts of cma.c and cm.c on RoCE.
import type { RdmaAddress, RdmaConnParam, RdmaPeerParam } from '../../seam/backend-rdmacm';
import { IB_CM_REJ, RDMA_CM_EVENT as E } from '../../seam/rdmacm-uapi';
import { systemErrorWhy } from '../../seam/system-error';
import { sameGid, type IbDevice } from '../verbs/device';
import type { IbQp } from '../verbs/qp';
import { IBV_LINK_LAYER } from '../../seam/verbs-uapi';
import { anyOf, family, gidOf, isAny, isLoopback } from './address';
import type { ChannelFile } from './channel';
import type { CmHost, Route } from './host';
import { connAccess, toErr, toInit, toRtr, toRts } from './qp-states';

/** The private data each message carries (IB_CM_*_PRIVATE_DATA_SIZE), less rdma_cm's 36-byte header on REQ. */
const REQ_DATA = 92 - 36;
const REP_DATA = 196;
const REJ_DATA = 148;
/** cma.c (6.12): CMA_IBOE_PACKET_LIFETIME, CMA_CM_RESPONSE_TIMEOUT, CMA_MAX_CM_RETRIES. */
const PACKET_LIFETIME = 16;
const CM_RESPONSE_TIMEOUT = 20;
const CM_RETRIES = 15;
/** cm_convert_to_ms: 4.096 µs × 2^t, rounded to a power-of-two of milliseconds. */
const cmMs = (t: number) => 2 ** Math.max(t - 8, 0);
/** How long ib_cm waits for an answer to a REQ or DREQ before sending it again (ib_send_cm_req's timeout_ms). */
const CM_TIMEOUT_MS = 2 * cmMs(PACKET_LIFETIME) + cmMs(CM_RESPONSE_TIMEOUT);
/** The path's timeout (cm_init_av_by_path: packet life time + 1): the QP's local ACK timeout, and how long timewait lasts. */
const QP_TIMEOUT = PACKET_LIFETIME + 1;
const TIMEWAIT_MS = cmMs(QP_TIMEOUT);
/** CMA_CM_MRA_SETTING's service timeout. */
const MRA_SERVICE_TIMEOUT = 24;
const ETIMEDOUT = -110;
/** RDMA_MAX_RESP_RES and RDMA_MAX_INIT_DEPTH: the most the device allows. */
const RDMA_MAX = 0xff;
/** ucma's max_backlog (net.rdma_ucm.max_backlog). */
const MAX_BACKLOG = 1024;

export type CmaState =
  | 'idle' | 'addr-bound' | 'addr-query' | 'addr-resolved' | 'route-query' | 'route-resolved'
  | 'listen' | 'connect' | 'disconnect' | 'destroyed';

/** The ib_cm id's state; 'none' where rdma_cm made no ib_cm id (rdma_disconnect answers EINVAL). */
type IbState =
  | 'none' | 'listen' | 'idle' | 'req-sent' | 'req-rcvd' | 'rep-sent' | 'rep-rcvd' | 'established'
  | 'dreq-sent' | 'dreq-rcvd' | 'timewait';

/** What a REQ or REP carries, as the sender filled it. */
interface Offer {
  data: Uint8Array;
  responderResources: number;
  initiatorDepth: number;
  retryCount: number;
  rnrRetryCount: number;
  qpNum: number;
  /** REQ only: the path MTU (IBV_MTU_*), the addresses, and the GIDs of the path. */
  pathMtu: number;
  src: RdmaAddress;
  dst: RdmaAddress;
  sgid: Uint8Array;
  dgid: Uint8Array;
}

const ZEROS = (n: number) => new Uint8Array(n);

export class CmId {
  state: CmaState = 'idle';
  ib: IbState = 'none';
  family: 4 | 6 = 4;
  local: RdmaAddress = { host: '0.0.0.0', port: 0 };
  remote: RdmaAddress = { host: '0.0.0.0', port: 0 };
  device: IbDevice | undefined;
  /** The QP rdma_create_qp made (its verbs handle), which the CM moves through its states. */
  qp: { handle: number; queuePair: IbQp } | undefined;
  /** The handle the program knows it by; a request's id gets one when its CONNECT_REQUEST is taken. */
  handle: number | undefined;
  backlog = 0;
  /** A listener's CONNECT_REQUESTs not yet taken, which ucma counts against the backlog. */
  pending = 0;
  /** A request's id whose CONNECT_REQUEST is not yet taken: the listener it counts against. */
  listener: CmId | undefined;
  #port: number | undefined;
  /** Whether a netdev is bound (dev_addr.bound_dev_if): by binding an address, or by a route through one. */
  #netdev = false;
  /** The device of an address a failed bind translated: its netdev stays in dev_addr, and the next bind translates through it. */
  #staleNetdev: IbDevice | undefined;
  #route: Route | undefined;
  #peer: CmId | undefined;
  /** What this side offered (its REQ or REP), and what the peer's REQ or REP offered. */
  #mine: Offer | undefined;
  #theirs: Offer | undefined;
  #cancel: (() => void) | undefined;

  constructor(readonly host: CmHost, readonly channel: ChannelFile) {
    channel.ids.add(this);
  }

  // --- calls ------------------------------------------------------------------

  /** rdma_bind_addr. */
  bind(address: RdmaAddress, syscall = 'rdma_bind_addr'): void {
    if (this.state !== 'idle') throw systemErrorWhy('EINVAL', syscall, 'the id is bound already');
    if (/^fe[89ab]/.test(address.host)) {
      throw systemErrorWhy('EINVAL', syscall, 'a link-local IPv6 address needs a scope id');
    }
    let device: IbDevice | undefined;
    if (!isAny(address.host)) {
      device = this.host.deviceOf(address.host);
      // rdma_translate_ip takes a bound_dev_if as found; cma_acquire_dev_by_src_ip then finds no GID of the address on it.
      if (this.#staleNetdev && device !== this.#staleNetdev) {
        throw systemErrorWhy('ENODEV', syscall, `an earlier failed bind left the id on ${this.#staleNetdev.name}'s netdev, which has no address ${address.host}; use a fresh id`);
      }
      if (!device) {
        throw systemErrorWhy('EADDRNOTAVAIL', syscall, `no RDMA device of this machine has the address ${address.host}`);
      }
    }
    this.family = family(address.host);
    this.local = { ...address };
    const port = address.port === 0 ? this.host.anyPort(this) : address.port;
    const why = port === undefined ? 'EADDRNOTAVAIL' : address.port === 0 ? undefined : this.host.checkPort(port, this);
    if (why) {
      this.local = { host: '0.0.0.0', port: 0 };
      this.#staleNetdev = device ?? this.#staleNetdev;
      throw systemErrorWhy(why, syscall, `port ${address.port} is taken${why === 'EADDRNOTAVAIL' ? ' by or for a wildcard binding' : ` on ${address.host}`}`);
    }
    this.#port = port!;
    this.local.port = port!;
    this.host.takePort(port!, this);
    if (device) {
      this.#attach(device);
      this.#netdev = true;
    }
    this.state = 'addr-bound';
  }

  /** rdma_listen: an unbound id binds to the wildcard first. */
  listen(backlog: number): void {
    if (this.state === 'idle') this.bind({ host: '0.0.0.0', port: 0 }, 'rdma_listen');
    else if (this.state !== 'addr-bound') throw systemErrorWhy('EINVAL', 'rdma_listen', 'the id is not just bound');
    // ucma_listen clamps the backlog to max_backlog.
    this.backlog = backlog > 0 && backlog < MAX_BACKLOG ? backlog : MAX_BACKLOG;
    this.state = 'listen';
    this.ib = 'listen';
  }

  /** rdma_resolve_addr: ADDR_RESOLVED once the route's neighbour answers, ADDR_ERROR -ETIMEDOUT when none does in time. */
  resolveAddr(src: RdmaAddress | null, dst: RdmaAddress, timeoutMs: number): void {
    const syscall = 'rdma_resolve_addr';
    if (this.state === 'idle') this.bind(src ?? { host: anyOf(family(dst.host)), port: 0 }, syscall);
    else if (this.state !== 'addr-bound') throw systemErrorWhy('EINVAL', syscall, `the id is ${this.state}`);
    if (family(dst.host) !== this.family) throw systemErrorWhy('EINVAL', syscall, `the destination is of another address family than the id's source`);
    const route = this.host.route(dst.host, this.family);
    if (route === 'ENODEV') throw systemErrorWhy('ENODEV', syscall, 'the machine has no RDMA device');
    const elsewhere = route !== 'ENETUNREACH' && !route.loopback && (isLoopback(this.local.host) || (this.device && this.device !== route.device));
    if (route === 'ENETUNREACH' || elsewhere) {
      throw systemErrorWhy('ENETUNREACH', syscall, `no route to ${dst.host}${route === 'ENETUNREACH' ? '' : ` from ${this.local.host}`}`);
    }
    this.remote = { ...dst };
    this.state = 'addr-query';
    if (route.peer) {
      this.#later(() => {
        if (route.loopback) {
          // cma_bind_loopback, for an id on no device yet: the source becomes the loopback address.
          if (!this.device) this.local.host = route.src;
        } else {
          if (isAny(this.local.host)) this.local.host = route.src;
          this.#netdev = true;
        }
        if (!this.device) this.#attach(route.device);
        this.#route = route;
        this.state = 'addr-resolved';
        this.#emit(E.ADDR_RESOLVED);
      });
    } else {
      this.#cancel = this.host.machine.clock.setTimer(timeoutMs, () => {
        this.#cancel = undefined;
        this.state = 'addr-bound';
        this.#emit(E.ADDR_ERROR, ETIMEDOUT);
      });
    }
  }

  /**
   * rdma_resolve_route: on RoCE the path is made from the addresses at once
   * (cma_resolve_iboe_route), from the netdev the id is bound to: a loopback
   * resolution bound none, so there it is ENODEV.
   */
  resolveRoute(): void {
    const syscall = 'rdma_resolve_route';
    if (this.state !== 'addr-resolved') throw systemErrorWhy('EINVAL', syscall, `the id is ${this.state}, not addr-resolved`);
    if (this.device!.profile.port.linkLayer !== IBV_LINK_LAYER.ETHERNET) {
      throw systemErrorWhy('ENOSYS', syscall, `${this.device!.name} is neither InfiniBand with an SA, RoCE nor iWARP`);
    }
    if (!this.#netdev) {
      throw systemErrorWhy('ENODEV', syscall, 'a loopback or wildcard destination binds no netdev for RoCE to route by; connect to an address of a NIC, or bind to one first');
    }
    this.state = 'route-query';
    this.#later(() => {
      this.state = 'route-resolved';
      this.#emit(E.ROUTE_RESOLVED);
    });
  }

  /** rdma_connect: the REQ is sent, and sent again while nobody answers, CM_RETRIES times. */
  connect(param: RdmaConnParam): void {
    const syscall = 'rdma_connect';
    if (this.state !== 'route-resolved') throw systemErrorWhy('EINVAL', syscall, `the id is ${this.state}, not route-resolved`);
    const attr = this.device!.profile.attr;
    const route = this.#route!;
    const req: Offer = {
      data: padded(param.privateData, REQ_DATA),
      responderResources: param.responderResources === RDMA_MAX ? attr.maxQpRdAtom : param.responderResources,
      initiatorDepth: param.initiatorDepth === RDMA_MAX ? attr.maxQpInitRdAtom : param.initiatorDepth,
      retryCount: Math.min(param.retryCount, 7),
      rnrRetryCount: Math.min(param.rnrRetryCount, 7),
      qpNum: this.qp?.queuePair.qpn ?? 0,
      pathMtu: this.device!.profile.port.activeMtu,
      src: { ...this.local },
      dst: { ...this.remote },
      ...this.#activePath(),
    };
    this.#mine = req;
    this.state = 'connect';
    this.ib = 'req-sent';
    this.#retrying(() => {
      const peer = route.peer!;
      this.host.send(this.device!, peer.device, () => CmId.#onReq(peer.host, peer.device, this, req));
    }, () => {
      this.ib = 'idle';
      this.#emit(E.UNREACHABLE, ETIMEDOUT);
    });
  }

  /**
   * rdma_accept: on a request's id, the QP to RTR and RTS and the REP sent
   * (ib_send_cm_rep refuses an id with no QP); on an active id that got
   * CONNECT_RESPONSE, the RTU.
   */
  accept(param: RdmaConnParam): void {
    const syscall = 'rdma_accept';
    if (this.state === 'connect' && this.ib === 'rep-rcvd') {
      this.establish();
      return;
    }
    if (this.state !== 'connect' || this.ib !== 'req-rcvd') {
      // An active id waiting for its reply: with a QP librdmacm's move to RTR fails first; without one the
      // kernel's rdma_accept fails in ib_send_cm_rep and rejects, which withdraws the request.
      if (this.state === 'connect' && this.ib === 'req-sent' && !this.qp) this.#withdraw();
      throw systemErrorWhy('EINVAL', syscall, 'the id has no connection request to accept');
    }
    const theirs = this.#theirs!;
    const attr = this.device!.profile.attr;
    const responderResources = param.responderResources === RDMA_MAX ? Math.min(theirs.initiatorDepth, attr.maxQpRdAtom) : param.responderResources;
    const initiatorDepth = param.initiatorDepth === RDMA_MAX ? Math.min(theirs.responderResources, attr.maxQpInitRdAtom) : param.initiatorDepth;
    // librdmacm moves the QP to RTS before it asks the kernel to accept.
    if (this.qp) {
      const { queuePair } = this.qp;
      toInit(queuePair, connAccess(theirs.initiatorDepth));
      toRtr(queuePair, { ...this.#av(theirs.dgid, theirs.sgid), pathMtu: theirs.pathMtu, destQpNum: theirs.qpNum, maxDestRdAtomic: responderResources });
      toRts(queuePair, { timeout: QP_TIMEOUT, retryCnt: theirs.retryCount, rnrRetry: theirs.rnrRetryCount, maxRdAtomic: initiatorDepth });
    }
    // ib_send_cm_rep refuses no QP and too much private data; then rdma_accept rejects the request itself, and librdmacm's QP goes to ERR.
    const why = !this.qp ? 'the id has no QP: make one with rdma_create_qp first'
      : param.privateData.length > REP_DATA ? `${param.privateData.length} bytes of private data; a REP carries at most ${REP_DATA}` : undefined;
    if (why) {
      if (this.qp) toErr(this.qp.queuePair);
      this.ib = 'idle';
      this.#sendRej(IB_CM_REJ.CONSUMER_DEFINED, ZEROS(0));
      throw systemErrorWhy('EINVAL', syscall, `${why}; the request is rejected`);
    }
    this.#mine = {
      ...theirs, data: padded(param.privateData, REP_DATA), responderResources, initiatorDepth,
      retryCount: 0, rnrRetryCount: Math.min(param.rnrRetryCount, 7), qpNum: this.qp!.queuePair.qpn,
    };
    this.ib = 'rep-sent';
    this.#retrying(() => this.#sendRep(), () => {
      this.ib = 'idle';
      this.#emit(E.UNREACHABLE, ETIMEDOUT);
    });
  }

  /** librdmacm's ucma_process_conn_resp, as rdma_get_cm_event runs it for an id with a QP: RTR, RTS, then the RTU. */
  establish(): boolean {
    const theirs = this.#theirs!;
    if (this.qp) {
      const { queuePair } = this.qp;
      try {
        toInit(queuePair, connAccess(theirs.initiatorDepth));
        toRtr(queuePair, { ...this.#av(this.#mine!.sgid, this.#mine!.dgid), pathMtu: this.#mine!.pathMtu, destQpNum: theirs.qpNum, maxDestRdAtomic: theirs.initiatorDepth });
        toRts(queuePair, { timeout: QP_TIMEOUT, retryCnt: this.#mine!.retryCount, rnrRetry: theirs.rnrRetryCount, maxRdAtomic: theirs.responderResources });
      } catch {
        toErr(queuePair);
        return false;
      }
    }
    this.ib = 'established';
    const peer = this.#peer!;
    this.host.send(this.device!, peer.device!, () => peer.#onRtu());
    return true;
  }

  /** rdma_reject: a request (or a reply) refused with the consumer's reason and private data; on an active id waiting for its reply, its own request withdrawn. */
  reject(privateData: Uint8Array): void {
    if (this.ib === 'req-sent') {
      this.#withdraw();
      return;
    }
    if (this.ib !== 'req-rcvd' && this.ib !== 'rep-sent' && this.ib !== 'rep-rcvd') {
      throw systemErrorWhy('EINVAL', 'rdma_reject', 'the id has no connection request or reply to reject');
    }
    this.ib = 'idle';
    this.#sendRej(IB_CM_REJ.CONSUMER_DEFINED, privateData);
  }

  /**
   * rdma_disconnect: the QP to ERR first (librdmacm's ucma_shutdown), then a
   * DREQ where the connection is up, or the DREP where the peer's DREQ came.
   */
  disconnect(): void {
    if (this.ib === 'none') throw systemErrorWhy('EINVAL', 'rdma_disconnect', 'the id was never connected');
    if (this.qp) toErr(this.qp.queuePair);
    if (this.ib === 'established') this.#sendDreq();
    else if (this.ib === 'dreq-rcvd') this.#sendDrep();
  }

  /** What rdma_destroy_id (or the channel's last close) leaves the peer: a REJ, a DREQ or a DREP, as cm_destroy_id sends. */
  destroy(): void {
    if (this.state === 'destroyed') return;
    this.#cancel?.();
    this.#cancel = undefined;
    switch (this.ib) {
      case 'req-sent': this.#sendRej(IB_CM_REJ.TIMEOUT, ZEROS(0)); break;
      case 'req-rcvd': case 'rep-sent': case 'rep-rcvd': this.#sendRej(IB_CM_REJ.CONSUMER_DEFINED, ZEROS(0)); break;
      case 'established': this.#sendDreq(); break;
      case 'dreq-rcvd': this.#sendDrep(); break;
    }
    this.state = 'destroyed';
    for (const e of this.channel.drop(this)) if (e.listen === this) e.id.destroy();
    if (this.listener) this.listener.pending--;
    if (this.#port !== undefined) this.host.releasePort(this.#port, this);
    if (this.#peer && this.host.passive.get(this.#peer) === this) this.host.passive.delete(this.#peer);
    this.channel.ids.delete(this);
    this.qp = undefined;
  }

  /** A request's id: the requester's initiator depth, which rdma_init_qp_attr grants reads and atomics by. */
  requesterDepth(): number {
    return this.#theirs?.initiatorDepth ?? 0;
  }

  /** The sides' parameters as ESTABLISHED or CONNECT_REQUEST show them: the peer's, from where this side stands. */
  static peerParam(offer: Offer): RdmaPeerParam {
    // cm_format_req_event and cm_format_rep_event swap the two: the peer's initiator depth is our responder resources.
    return {
      responderResources: offer.initiatorDepth, initiatorDepth: offer.responderResources,
      retryCount: offer.retryCount, rnrRetryCount: offer.rnrRetryCount, qpNum: offer.qpNum,
    };
  }

  // --- messages ---------------------------------------------------------------

  /** A REQ arrives at `host` on `device`: a repeat finds its connection, else the listener gets a new id (cm_req_handler, cma_ib_req_handler). */
  static #onReq(host: CmHost, device: IbDevice, from: CmId, req: Offer): void {
    const existing = host.passive.get(from);
    if (existing) {
      if (existing.ib === 'rep-sent') existing.#sendRep();
      else if (existing.ib === 'req-rcvd') existing.#sendMra();
      return;
    }
    const listener = host.listener(req.dst.host, req.dst.port, device);
    if (!listener) {
      host.send(device, from.device!, () => from.#onRej(IB_CM_REJ.INVALID_SERVICE_ID, ZEROS(0)));
      return;
    }
    // ucma's backlog is full: the handler fails with ENOMEM and ib_cm drops the REQ unanswered, so the requester sends it again.
    if (listener.pending >= listener.backlog) return;
    const conn = new CmId(host, listener.channel);
    conn.family = listener.family;
    conn.local = { ...req.dst };
    conn.remote = { ...req.src };
    conn.#attach(device);
    conn.state = 'connect';
    conn.ib = 'req-rcvd';
    conn.#peer = from;
    conn.#theirs = req;
    conn.listener = listener;
    listener.pending++;
    host.passive.set(from, conn);
    listener.channel.push({
      event: E.CONNECT_REQUEST, id: conn, listen: listener, status: 0,
      privateData: Uint8Array.from(req.data), param: CmId.peerParam(req),
    });
    // cma_ib_req_handler: the program will take its time, so the requester is asked to wait (an MRA).
    conn.#sendMra();
  }

  /** A REP, answered with an MRA (the program has yet to take the event, and librdmacm to send the RTU); a repeat of it, as cm_dup_rep_handler does. */
  #onRep(from: CmId, rep: Offer): void {
    if (this.state !== 'connect') return;
    if (this.ib === 'req-sent' || this.ib === 'rep-rcvd') this.#sendMra(from);
    if (this.ib === 'established') this.host.send(this.device!, from.device!, () => from.#onRtu());
    if (this.ib !== 'req-sent') return;
    this.#stopRetrying();
    this.#peer = from;
    this.#theirs = rep;
    this.ib = 'rep-rcvd';
    this.#emit(E.CONNECT_RESPONSE, 0, Uint8Array.from(rep.data), CmId.peerParam({ ...rep, retryCount: 0 }));
  }

  /**
   * cm_mra_handler: the peer asks for CMA_CM_MRA_SETTING's service timeout
   * (2^24 × 4.096 µs, cm_convert_to_ms 65536 ms) more: the REQ or REP is not
   * sent again, and its wait is stretched to that plus the path's timeout.
   */
  #onMra(): void {
    if (this.ib !== 'req-sent' && this.ib !== 'rep-sent') return;
    this.#stopRetrying();
    this.#cancel = this.host.machine.clock.setTimer(cmMs(MRA_SERVICE_TIMEOUT) + cmMs(QP_TIMEOUT), () => {
      this.#cancel = undefined;
      this.ib = 'idle';
      this.#emit(E.UNREACHABLE, ETIMEDOUT);
    });
  }

  #onRtu(): void {
    if (this.ib !== 'rep-sent') return;
    this.#stopRetrying();
    this.ib = 'established';
    this.#emit(E.ESTABLISHED, 0, ZEROS(0), { responderResources: 0, initiatorDepth: 0, retryCount: 0, rnrRetryCount: 0, qpNum: 0 });
  }

  /** cm_rej_handler: also an established active side hears it, where the passive side went away before the RTU reached it. */
  #onRej(reason: number, data: Uint8Array): void {
    if (this.state !== 'connect' || !['req-sent', 'req-rcvd', 'rep-sent', 'rep-rcvd', 'established'].includes(this.ib)) return;
    this.#stopRetrying();
    this.ib = 'idle';
    this.#emit(E.REJECTED, reason, padded(data, REJ_DATA));
  }

  #onDreq(from: CmId): void {
    // cm_issue_drep: a DREQ for an id that is gone, in timewait or past it, is answered at once.
    if (this.state === 'destroyed' || this.ib === 'timewait' || (this.ib === 'idle' && this.state === 'disconnect')) {
      this.host.send(this.device!, from.device!, () => from.#onDrep());
      return;
    }
    if (this.ib !== 'established' && this.ib !== 'dreq-sent' && this.ib !== 'rep-sent') return;
    this.#stopRetrying();
    this.ib = 'dreq-rcvd';
    this.#disconnected(0);
  }

  #onDrep(): void {
    if (this.ib !== 'dreq-sent') return;
    this.#stopRetrying();
    this.#timewait();
    this.#disconnected(0);
  }

  // --- sending ----------------------------------------------------------------

  #sendMra(to = this.#peer!): void {
    this.host.send(this.device!, to.device!, () => to.#onMra());
  }

  #sendRep(): void {
    const peer = this.#peer!;
    const rep = this.#mine!;
    this.host.send(this.device!, peer.device!, () => peer.#onRep(this, rep));
  }

  /** To the peer's id, wherever it is: for a REQ not yet answered, the id the peer's machine made for it. */
  #sendRej(reason: number, data: Uint8Array): void {
    const route = this.#route;
    if (this.#peer) {
      const peer = this.#peer;
      this.host.send(this.device!, peer.device!, () => peer.#onRej(reason, data));
    } else if (route?.peer) {
      const there = route.peer;
      this.host.send(this.device!, there.device, () => {
        const conn = there.host.passive.get(this);
        if (conn) conn.#onRej(reason, data);
      });
    }
  }

  #sendDreq(): void {
    const peer = this.#peer!;
    this.ib = 'dreq-sent';
    this.#retrying(() => this.host.send(this.device!, peer.device!, () => peer.#onDreq(this)), () => {
      this.#timewait();
      this.#disconnected(ETIMEDOUT);
    });
  }

  #sendDrep(): void {
    const peer = this.#peer!;
    this.#timewait();
    this.host.send(this.device!, peer.device!, () => peer.#onDrep());
  }

  /** cm_enter_timewait: the connection's QP number stays reserved a while; then TIMEWAIT_EXIT, for an id rdma_cm has disconnected. */
  #timewait(): void {
    this.ib = 'timewait';
    this.#cancel = this.host.machine.clock.setTimer(TIMEWAIT_MS, () => {
      this.#cancel = undefined;
      this.ib = 'idle';
      if (this.state === 'disconnect') this.#emit(E.TIMEWAIT_EXIT);
    });
  }

  /**
   * ib_send_cm_rej in REQ_SENT: the id goes idle. Its REJ names no remote id
   * yet (no REP came), so the passive side drops it and hears nothing (seen
   * on 6.12); the REQ's retries end unseen.
   */
  #withdraw(): void {
    this.#stopRetrying();
    this.ib = 'idle';
  }

  /** Sends now and again every CM_TIMEOUT_MS until answered (#stopRetrying), CM_RETRIES times, then gives up. */
  #retrying(send: () => void, giveUp: () => void): void {
    let sent = 0;
    const attempt = () => {
      send();
      sent++;
      this.#cancel = this.host.machine.clock.setTimer(CM_TIMEOUT_MS, () => {
        this.#cancel = undefined;
        if (sent > CM_RETRIES) giveUp();
        else attempt();
      });
    };
    attempt();
  }

  #stopRetrying(): void {
    this.#cancel?.();
    this.#cancel = undefined;
  }

  // --- events -----------------------------------------------------------------

  /** DISCONNECTED, once: rdma_cm moves CONNECT to DISCONNECT. */
  #disconnected(status: number): void {
    if (this.state !== 'connect') return;
    this.state = 'disconnect';
    this.#emit(E.DISCONNECTED, status);
  }

  #emit(event: number, status = 0, privateData: Uint8Array = ZEROS(0), param: RdmaPeerParam | null = null): void {
    if (this.state === 'destroyed') return;
    this.channel.push({ event, id: this, listen: undefined, status, privateData, param });
  }

  /** cma's work queue: the outcome comes on a later turn, unless the id is gone by then. */
  #later(work: () => void): void {
    setImmediate(() => {
      if (this.state !== 'destroyed') work();
    });
  }

  #attach(device: IbDevice): void {
    this.device = device;
    this.channel.contexts.acquire(device);
  }

  /** The active side's path: from our address's GID to the peer's (to our own, on a loopback route: cma_resolve_loopback). */
  #activePath(): { sgid: Uint8Array; dgid: Uint8Array } {
    const sgid = gidOf(this.local.host);
    return { sgid, dgid: this.#route!.loopback ? sgid : gidOf(this.remote.host) };
  }

  /** The address vector: the peer's GID, and where ours sits in our device's table. */
  #av(sgid: Uint8Array, dgid: Uint8Array): { dgid: Uint8Array; sgidIndex: number } {
    return { dgid, sgidIndex: this.device!.profile.port.gids.findIndex((g) => sameGid(g, sgid)) };
  }
}

/** The message's private data: the caller's bytes, zero-padded to what the message carries. */
function padded(data: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(size);
  out.set(data.subarray(0, size));
  return out;
}
