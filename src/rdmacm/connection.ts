// Connections through the RDMA connection manager (librdmacm): a listener
// that takes connection requests, a route to a peer, and the connection
// both yield, with its own RC queue pair moved to RTS by the CM.
import type { RdmaAddress, RdmaCmEvent, RdmaConnParam } from '../../seam/backend-rdmacm';
import { errnoName } from '../../seam/errno';
import { assertOpen, attempt, Resource, teardown, throwAll } from '../resource';
import { systemError, SystemError } from '../../seam/system-error';
import { instanceArg, invalidState, invalidType, toInt, waitOptions, WaitOptions } from '../args';
import type { Backend } from '../../seam/backend';
import { CmChannel } from './channel';
import { IB_CM_REJ, PRIVATE_DATA_MAX, RDMA_CM_EVENT, RDMA_PS_TCP } from '../../seam/rdmacm-uapi';
import { byValue, kebab } from '../enum-names';
import type { CompletionQueue } from '../verbs/cq';
import type { RdmaDevice } from '../verbs/device';
import { ProtectionDomain, setBudget } from '../verbs/pd';
import { createQp, markConnected, QueuePair, QueuePairOptions, RecvRequest } from '../verbs/qp';
import type { PinBudget } from '../verbs/pin-budget';
import { Admission, RdmaListenOptions, Refusal, refusalData, refusalOf, Slot } from './admission';

export type { RdmaAddress } from '../../seam/backend-rdmacm';

/** How the connection manager's ids find their devices: one RdmaDevice per verbs context, kept by the DmaBridge. */
export interface CmHost {
  readonly seam: Backend;
  /** The RdmaDevice over a context the connection manager bound an id to. */
  cmDevice(ctx: number, name: string): RdmaDevice;
  /** The parent of listeners and connections. */
  readonly owner: Resource;
  /**
   * Lets the owner's close() cancel a step no object owns yet (a resolve, a
   * connect or accept in flight); returns the unregistration.
   */
  onOwnerClose(cancel: (reason: Error) => void): () => void;
}

export interface ConnectionOptions extends QueuePairOptions, WaitOptions {
  /**
   * The PD for the QP (on the connection's device); default: one of the
   * connection's own, closed with it, so that this peer's rkeys reach only
   * what is registered there. Passing a PD shares it deliberately: every
   * connection on it reaches every remote-access MR in it, and a listener's
   * maxPinnedBytes does not count it.
   */
  pd?: ProtectionDomain;
  /** Completion queue entries of the connection's own CQ (send and receive share it). Default 256. */
  cqSize?: number;
  /** Bytes for the peer to read when the connection is made: at most 56 to connect, 196 to accept. */
  privateData?: Uint8Array;
  /** RDMA reads the peer may have outstanding against us, and we against it. Default: the device's limit, at most 16. */
  responderResources?: number;
  initiatorDepth?: number;
  /** Transport retries (0–7, default 7: for ever on rxe; less notices a vanished peer). */
  retryCount?: number;
  /** Receiver-not-ready retries (0–7, default 7: for ever). */
  rnrRetryCount?: number;
  /** Receives to post before the connection is made, so that the peer's first sends find them. */
  receives?: RecvRequest[];
}

export interface ResolveOptions extends WaitOptions {
  /** The local address to connect from; default: the route's choice. */
  source?: RdmaAddress;
}

type Phase = 'rdma_resolve_addr' | 'rdma_resolve_route' | 'rdma_connect' | 'rdma_accept';

/** Resolves `host:port` to a device and route, ready to connect from. */
export async function resolveRoute(host: CmHost, to: RdmaAddress, options: ResolveOptions = {}): Promise<RdmaRoute> {
  checkAddress(to, 'to');
  if (options.source) checkAddress(options.source, 'source');
  const { seam } = host;
  const channel = new CmChannel(seam);
  const id = createId(channel);
  // The CM's own timeouts, per step; the caller's timeout bounds the whole.
  const ms = Math.max(1, Math.min(options.timeout ?? 2000, 2000));
  const unhook = host.onOwnerClose((reason) => channel.cancel(id, reason));
  try {
    seam.rdmaResolveAddr(id, options.source ?? null, to, ms);
    await expectEvent(channel, id, 'ADDR_RESOLVED', 'rdma_resolve_addr', to, options);
    seam.rdmaResolveRoute(id, ms);
    await expectEvent(channel, id, 'ROUTE_RESOLVED', 'rdma_resolve_route', to, options);
    return new RdmaRoute(host, channel, id, to);
  } catch (e) {
    destroyId(seam, channel, id);
    throw e;
  } finally {
    unhook();
  }
}

/** A CM id, the channel it reports on, and whether a connect or accept took it, or a reject answered it. */
interface CmId {
  readonly host: CmHost;
  readonly channel: CmChannel;
  readonly id: number;
  readonly answer: { taken: boolean; rejected: boolean };
}

/** The CM id that `owner` holds. */
let cmIdOf: (owner: CmIdOwner) => CmId;

/**
 * A CM id of a listener, route or request, destroyed with it unless a
 * connect or accept took it: from then on that call owns the id, so closing
 * this object (or leaving a `using` block) mid-call does not pull it away.
 */
abstract class CmIdOwner extends Resource {
  readonly #cm: CmId;

  static {
    cmIdOf = (owner) => owner.#cm;
  }

  protected constructor(host: CmHost, channel: CmChannel, id: number) {
    super(host.owner);
    const cm = (this.#cm = { host, channel, id, answer: { taken: false, rejected: false } });
    teardown(this, () => {
      if (!cm.answer.taken) destroyId(host.seam, channel, id);
    });
  }
}

/** Runs `make` (connect or accept) as the owner of `owner`'s id: its connection keeps the id; a failure destroys it. */
async function takeId(owner: CmIdOwner, make: (cm: CmId) => Promise<RdmaConnection>): Promise<RdmaConnection> {
  assertOpen(owner);
  const cm = cmIdOf(owner);
  const { host, channel, id } = cm;
  if (cm.answer.taken) throw invalidState(`this ${owner.constructor.name} was connected or accepted already`);
  cm.answer.taken = true;
  // Closing the object mid-call leaves the id to the call; closing the owner cancels the call.
  const unhook = host.onOwnerClose((reason) => channel.cancel(id, reason));
  try {
    return await make(cm);
  } catch (e) {
    destroyId(host.seam, channel, id);
    throw e;
  } finally {
    unhook();
    owner.close();
  }
}

/**
 * A resolved route to a peer: the device it leaves from (make PDs and
 * register memory on `device` before connecting) and one connect() to make.
 */
export class RdmaRoute extends CmIdOwner {
  readonly device: RdmaDevice;
  readonly local: RdmaAddress;

  /** Made by DmaBridge.resolveRdma(). */
  constructor(host: CmHost, channel: CmChannel, id: number, readonly remote: RdmaAddress) {
    super(host, channel, id);
    const info = host.seam.rdmaQueryId(id);
    this.device = host.cmDevice(info.context, info.deviceName);
    this.local = info.local;
  }

  /** Connects (rdma_connect) and resolves once the connection is established. */
  async connect(opts?: ConnectionOptions): Promise<RdmaConnection> {
    // Checked before the id is taken: a wrong argument leaves the route to connect again.
    const options = waitOptions(opts);
    const param = connParam(this.device, options, 'connect');
    return takeId(this, async ({ host, channel, id }) => {
      const parts = makeQp(host, this.device, id, options);
      let e: RdmaCmEvent;
      try {
        host.seam.rdmaConnect(id, param);
        e = await expectEvent(channel, id, 'ESTABLISHED', 'rdma_connect', this.remote, options);
      } catch (err) {
        parts.close();
        throw err;
      }
      return new RdmaConnection(host, channel, id, parts, e.privateData, this.local, this.remote);
    });
  }
}

/** Listens on `at` (rdma_bind_addr + rdma_listen). */
export function listenRdma(host: CmHost, at: RdmaAddress, options: RdmaListenOptions): RdmaListener {
  checkAddress(at, 'address');
  const backlog = options.backlog === undefined ? 16 : toInt(options.backlog, 'options.backlog', 1, 0x7fffffff);
  const admission = new Admission(options);
  const { seam } = host;
  const channel = new CmChannel(seam);
  const id = createId(channel);
  try {
    seam.rdmaBindAddr(id, at);
    seam.rdmaListen(id, backlog);
  } catch (e) {
    destroyId(seam, channel, id);
    throw e;
  }
  return new RdmaListener(host, channel, id, admission);
}

/** Listens for connections on an address (rdma_bind_addr + rdma_listen). */
export class RdmaListener extends CmIdOwner {
  /** The bound address; the port is the one chosen where 0 was asked for. */
  readonly address: RdmaAddress;

  readonly #admission: Admission;

  /** Made by listenRdma(). */
  constructor(host: CmHost, channel: CmChannel, id: number, admission: Admission) {
    super(host, channel, id);
    this.address = host.seam.rdmaQueryId(id).local;
    this.#admission = admission;
  }

  /** Connections of this listener open now, with requests handed out and not yet answered. */
  get connections(): number {
    return this.#admission.open;
  }

  /** Bytes registered in this listener's connections' own PDs, where maxPinnedBytes was given. */
  get pinnedBytes(): bigint | undefined {
    return this.#admission.budget?.used;
  }

  /**
   * The next connection request that passes `allow` and the limits, to accept
   * or reject; the others are rejected here (the peer's connect fails with
   * ECONNREFUSED and a `refusal`). Closing the listener cancels the wait.
   */
  async next(options: WaitOptions = {}): Promise<ConnectionRequest> {
    assertOpen(this);
    const { timeout, signal } = waitOptions(options);
    const { host, channel, id } = cmIdOf(this);
    const deadline = timeout === undefined ? undefined : Date.now() + timeout;
    for (;;) {
      const left = deadline === undefined ? undefined : Math.max(0, deadline - Date.now());
      const e = await channel.next(id, 'connection request', { timeout: left, signal });
      const request = new ConnectionRequest(host, channel, e);
      let admitted: Slot | Refusal;
      try {
        admitted = await this.#admission.admit(request);
      } catch (err) {
        request.close();
        throw err;
      }
      if (typeof admitted !== 'string') return holding(request, admitted, this.#admission.budget);
      request.reject(refusalData(admitted));
      if (this.closed) throw systemError('ECANCELED', 'rdma_get_cm_event', 'the listener was closed while waiting for a connection request');
    }
  }

  /** The next connection request, accepted with `options`. */
  async accept(options: ConnectionOptions = {}): Promise<RdmaConnection> {
    const request = await this.next(options);
    return request.accept(options);
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<ConnectionRequest> {
    while (!this.closed) yield await this.next();
  }
}

/** Holds the listener's place for `request` until answered; its connection's own PD charges `budget`. */
let holding: (request: ConnectionRequest, slot: Slot, budget: PinBudget | undefined) => ConnectionRequest;

/** A peer's request to connect: accept() it or reject() it; closing it unanswered rejects it. */
export class ConnectionRequest extends CmIdOwner {
  readonly device: RdmaDevice;
  /** The listener's place for it, handed to its connection when accepted (shared with the teardown). */
  readonly #place: { slot?: Slot; budget?: PinBudget } = {};
  /** The private data the peer sent (on IB and RoCE, zero-padded to 56 bytes). */
  readonly privateData: Uint8Array;
  readonly local: RdmaAddress;
  readonly remote: RdmaAddress;

  /** What the peer asked for. */
  readonly #request: RdmaCmEvent;

  static {
    holding = (request, slot, budget) => {
      request.#place.slot = slot;
      request.#place.budget = budget;
      return request;
    };
  }

  /** Made by RdmaListener.next(). */
  constructor(host: CmHost, channel: CmChannel, request: RdmaCmEvent) {
    super(host, channel, request.id);
    this.#request = request;
    const info = host.seam.rdmaQueryId(request.id);
    this.device = host.cmDevice(info.context, info.deviceName);
    this.privateData = request.privateData;
    this.local = info.local;
    this.remote = info.remote;
    // A request closed unanswered is refused, as the listener's close refuses those nobody took.
    const { seam } = host;
    const { answer } = cmIdOf(this);
    teardown(this, () => {
      if (!answer.rejected && !answer.taken) seam.rdmaReject(request.id, new Uint8Array(0));
    });
    const place = this.#place;
    teardown(this, () => place.slot?.release());
  }

  /** Accepts (rdma_accept) and resolves once the connection is established. */
  async accept(opts?: ConnectionOptions): Promise<RdmaConnection> {
    // Checked before the id is taken: too much private data leaves the request to accept again.
    const options = waitOptions(opts);
    const param = connParam(this.device, options, 'accept', this.#request);
    return takeId(this, async ({ host, channel, id }) => {
      const parts = makeQp(host, this.device, id, options, this.#place.budget);
      try {
        host.seam.rdmaAccept(id, param);
        await expectEvent(channel, id, 'ESTABLISHED', 'rdma_accept', this.remote, options);
      } catch (err) {
        parts.close();
        throw err;
      }
      const conn = new RdmaConnection(host, channel, id, parts, this.privateData, this.local, this.remote);
      const { slot } = this.#place;
      this.#place.slot = undefined;
      if (slot) holdSlot(conn, slot);
      return conn;
    });
  }

  /** Refuses the connection: the peer's connect fails with ECONNREFUSED and sees `privateData` (at most 148 bytes). */
  reject(privateData: Uint8Array = new Uint8Array(0)): void {
    assertOpen(this);
    const { host, id, answer } = cmIdOf(this);
    if (answer.taken) throw invalidState('this connection request is being accepted: it can no longer be rejected');
    checkPrivateData(privateData, 'reject');
    host.seam.rdmaReject(id, privateData);
    answer.rejected = true;
    this.close();
  }
}

interface QpParts {
  pd: ProtectionDomain;
  cq: CompletionQueue;
  qp: QueuePair;
  close(): void;
}

function makeQp(host: CmHost, device: RdmaDevice, id: number, o: ConnectionOptions, budget?: PinBudget): QpParts {
  if (o.pd && o.pd.device !== device) {
    throw systemError('EINVAL', 'rdma_create_qp', `the PD is on ${o.pd.device.name}, but the connection goes through ${device.name}: make the PD on the route's or request's device`);
  }
  const ownPd = o.pd ? undefined : device.allocPd();
  if (ownPd) setBudget(ownPd, budget);
  const pd = o.pd ?? ownPd!;
  let cq: CompletionQueue | undefined;
  try {
    cq = device.createCq(o.cqSize ?? 256);
    const made = cq;
    const qp = createQp(pd, cq, cq, o, (init) => host.seam.rdmaCreateQp(id, pd.handle, init));
    try {
      if (o.receives?.length) qp.postRecv(o.receives);
    } catch (e) {
      qp.close();
      throw e;
    }
    return {
      pd, cq, qp,
      close() {
        qp.close();
        made.close();
        ownPd?.close();
      },
    };
  } catch (e) {
    cq?.close();
    ownPd?.close();
    throw e;
  }
}

/** Gives the listener's place back when `conn` closes. */
let holdSlot: (conn: RdmaConnection, slot: Slot) => void;

/**
 * An established connection: its QP (in RTS) on its own CQ, and what the
 * peer said when it was made. A disconnect from either side moves the QP to
 * the error state, so requests still outstanding complete as flushed.
 */
export class RdmaConnection extends Resource {
  readonly pd: ProtectionDomain;
  readonly cq: CompletionQueue;
  readonly qp: QueuePair;
  readonly #link: Link;
  readonly #disconnected: Promise<void>;
  readonly #seam: Backend;
  readonly #id: number;

  static {
    holdSlot = (conn, slot) => teardown(conn, () => slot.release());
  }

  /** Made by RdmaRoute.connect() and ConnectionRequest.accept(). */
  constructor(
    host: CmHost,
    channel: CmChannel,
    id: number,
    parts: QpParts,
    /** The private data the peer sent: its request's (when we accepted) or its reply's (when we connected). */
    readonly privateData: Uint8Array,
    readonly local: RdmaAddress,
    readonly remote: RdmaAddress,
  ) {
    super(host.owner);
    this.pd = parts.pd;
    this.cq = parts.cq;
    this.qp = parts.qp;
    this.#seam = host.seam;
    this.#id = id;
    markConnected(parts.qp);
    const link: Link = { state: 'connected', onDisconnect: () => {} };
    this.#link = link;
    this.#disconnected = new Promise((resolve) => (link.onDisconnect = resolve));
    const { seam } = host;
    // Newest first: disconnect, close the QP and what it was made with, destroy the id.
    teardown(this, () => destroyId(seam, channel, id));
    teardown(this, () => parts.close());
    teardown(this, () => {
      if (link.state === 'connected') disconnect(seam, id, link);
    });
    channel.subscribe(id, { onEvent: (e) => this.#onEvent(e) });
  }

  get device(): RdmaDevice {
    return this.pd.device;
  }

  get state(): 'connected' | 'disconnected' {
    return this.#link.state;
  }

  /** Resolves when the connection ends, from either side. */
  disconnected(options?: WaitOptions): Promise<void> {
    const { timeout, signal } = waitOptions(options);
    if (this.#link.state === 'disconnected') return Promise.resolve();
    if (timeout === undefined && !signal) return this.#disconnected;
    return new Promise<void>((resolve, reject) => {
      const timer = timeout === undefined ? undefined : setTimeout(() => reject(systemError('ETIMEDOUT', 'rdma_get_cm_event', `still connected after ${timeout} ms`)), timeout);
      const onAbort = () => reject(signal!.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      void this.#disconnected.then(() => {
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }

  /** Ends the connection (rdma_disconnect): outstanding requests flush here, and the peer sees it disconnect. */
  disconnect(): void {
    assertOpen(this);
    if (this.#link.state === 'connected') disconnect(this.#seam, this.#id, this.#link);
  }

  #onEvent(e: RdmaCmEvent): boolean {
    if (e.event === RDMA_CM_EVENT.DISCONNECTED && this.#link.state === 'connected') {
      // Our QP to ERR as well, so nothing waits for a peer that is gone.
      disconnect(this.#seam, this.#id, this.#link);
    }
    return true;
  }
}

interface Link {
  state: 'connected' | 'disconnected';
  onDisconnect: () => void;
}

function disconnect(seam: Backend, id: number, link: Link): void {
  link.state = 'disconnected';
  try {
    seam.rdmaDisconnect(id);
  } finally {
    link.onDisconnect();
  }
}

/** Destroys the id and takes it off its channel (cancelling its waits), even when the first fails. */
function destroyId(seam: Backend, channel: CmChannel, id: number): void {
  const failed: unknown[] = [];
  attempt(() => seam.rdmaDestroyId(id), failed);
  attempt(() => channel.remove(id), failed);
  throwAll(failed, 'rdma_destroy_id');
}

function createId(channel: CmChannel): number {
  let id: number;
  try {
    id = channel.seam.rdmaCreateId(channel.handle, RDMA_PS_TCP);
  } catch (e) {
    channel.closeUnused();
    throw e;
  }
  channel.add(id);
  return id;
}

const EVENT_NAMES = byValue(RDMA_CM_EVENT);

const REFUSAL_ADVICE: Record<Refusal, string> = {
  'not-allowed': "this address is not in its allow-list",
  'connection-limit': 'it has as many connections as its maxConnections allows; try again once one closes',
  'pinned-memory-limit': 'its connections have registered all the memory its maxPinnedBytes allows; try again once some is released',
};

async function expectEvent(
  channel: CmChannel, id: number, want: keyof typeof RDMA_CM_EVENT, phase: Phase, peer: RdmaAddress,
  options: WaitOptions,
): Promise<RdmaCmEvent> {
  const e = await channel.next(id, kebab(want), options);
  if (e.event === RDMA_CM_EVENT[want]) return e;
  throw eventError(e, phase, peer);
}

/** The error a failed step of connecting means, with what to do about it. */
type RejectedError = SystemError & { rejectReason?: number; privateData?: Uint8Array; refusal?: Refusal };

function eventError(e: RdmaCmEvent, phase: Phase, peer: RdmaAddress): RejectedError {
  const at = `${peer.host}:${peer.port}`;
  const name = EVENT_NAMES.get(e.event) ?? `event-${e.event}`;
  if (e.event === RDMA_CM_EVENT.REJECTED) {
    const refusal = e.status === IB_CM_REJ.CONSUMER_DEFINED ? refusalOf(e.privateData) : undefined;
    const why = e.status === IB_CM_REJ.INVALID_SERVICE_ID
      ? `nobody listens on ${at} (reject reason ${e.status}: invalid service id)`
      : refusal
        ? `the listener at ${at} refused the connection: ${REFUSAL_ADVICE[refusal]} (the error's refusal is '${refusal}')`
        : e.status === IB_CM_REJ.CONSUMER_DEFINED
          ? `the peer at ${at} rejected the connection (its private data is on the error's privateData)`
          : `the peer at ${at} rejected the connection (reject reason ${e.status})`;
    const err = systemError('ECONNREFUSED', phase, `${phase} failed with ECONNREFUSED: ${why}`) as RejectedError;
    err.rejectReason = e.status;
    err.privateData = e.privateData;
    if (refusal) err.refusal = refusal;
    return err;
  }
  const code = e.status < 0 ? errnoName(e.status) : 'ECONNABORTED';
  const advice = e.event === RDMA_CM_EVENT.ADDR_ERROR
    ? `no RDMA device has a route to ${peer.host}: is soft-RoCE on the interface that reaches it (rdma link add rxe0 type rxe netdev <interface>)?`
    : e.event === RDMA_CM_EVENT.UNREACHABLE
      ? `${at} did not answer: is the host up and its RDMA device on the same network?`
      : `the connection manager reported ${name} (status ${e.status})`;
  return systemError(e.status < 0 ? e.status : 'ECONNABORTED', phase, `${phase} failed with ${code}: ${advice}`);
}

function connParam(device: RdmaDevice, o: ConnectionOptions, side: 'connect' | 'accept', request?: RdmaCmEvent): RdmaConnParam {
  const privateData = o.privateData ?? new Uint8Array(0);
  checkPrivateData(privateData, side);
  const limit = (n: number) => Math.min(n, 16);
  const count = (value: number | undefined, name: string, max: number) => (value === undefined ? undefined : toInt(value, `options.${name}`, 0, max));
  let responderResources = count(o.responderResources, 'responderResources', 255) ?? limit(device.attr.maxQpRdAtom);
  let initiatorDepth = count(o.initiatorDepth, 'initiatorDepth', 255) ?? limit(device.attr.maxQpInitRdAtom);
  const retryCount = count(o.retryCount, 'retryCount', 7) ?? 7;
  const rnrRetryCount = count(o.rnrRetryCount, 'rnrRetryCount', 7) ?? 7;
  if (o.cqSize !== undefined) toInt(o.cqSize, 'options.cqSize', 1, 0x7fffffff);
  if (o.pd !== undefined) instanceArg(o.pd, ProtectionDomain, 'options.pd');
  if (o.receives !== undefined && !Array.isArray(o.receives)) throw invalidType('options.receives', 'an array of receive requests', o.receives);
  if (request?.param) {
    // Never more than the peer can take. The request's values are already
    // ours to match (the CM swaps them): it will issue up to responderResources
    // reads, and answer up to initiatorDepth of ours.
    responderResources = Math.min(responderResources, request.param.responderResources);
    initiatorDepth = Math.min(initiatorDepth, request.param.initiatorDepth);
  }
  return { privateData, responderResources, initiatorDepth, retryCount, rnrRetryCount };
}

function checkPrivateData(data: Uint8Array, side: keyof typeof PRIVATE_DATA_MAX): void {
  if (!(data instanceof Uint8Array)) throw invalidType('privateData', 'an instance of Uint8Array', data);
  const max = PRIVATE_DATA_MAX[side];
  if (data.length > max) throw systemError('EINVAL', `rdma_${side}`, `private data to ${side} is at most ${max} bytes, got ${data.length}`);
}

function checkAddress(a: RdmaAddress, name: string): void {
  if (typeof a !== 'object' || a === null || typeof a.host !== 'string' || !Number.isInteger(a.port) || a.port < 0 || a.port > 65535) {
    throw invalidType(name, '{ host: a numeric IPv4 or IPv6 address, port: an integer 0–65535 }', a);
  }
}
