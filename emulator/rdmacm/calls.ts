// librdmacm as one emulated process calls it: the RdmaCmCalls of the seam,
// over its machine's connection manager (host.ts) and its verbs (the
// contexts ids are bound to, the QPs rdma_create_qp makes). Channels and ids
// are small-integer handles numbered with the verbs objects', never reused;
// a stale one answers EBADF.
import type { RdmaAddress, RdmaCmCalls, RdmaCmEvent, RdmaConnParam, RdmaIdInfo } from '../../seam/backend-rdmacm';
import type { IbvQp, IbvQpInit } from '../../seam/backend-verbs';
import { PRIVATE_DATA_MAX, RDMA_CM_EVENT as E, RDMA_PS_TCP } from '../../seam/rdmacm-uapi';
import { systemError, systemErrorWhy } from '../../seam/system-error';
import { O_RDWR } from '../../seam/uapi';
import type { FdTable, OpenFile } from '../files';
import type { Machine } from '../machine';
import type { Verbs } from '../verbs/verbs';
import { checkAddress } from './address';
import { ChannelFile } from './channel';
import { CmId } from './id';
import { toErr, toInit, connAccess } from './qp-states';

/** The node librdmacm opens for each event channel. */
export const RDMA_CM_PATH = '/dev/infiniband/rdma_cm';
/** RDMA_PS_UDP, RDMA_PS_IB and RDMA_PS_IPOIB: port spaces the kernel has and the emulator does not model. */
const OTHER_PORT_SPACES = new Set([0x0111, 0x013f, 0x0002]);

type Handle =
  | { kind: 'channel'; channel: ChannelFile; fd: number; file: OpenFile }
  | { kind: 'id'; id: CmId };

export class RdmaCm implements RdmaCmCalls {
  readonly #handles = new Map<number, Handle>();

  constructor(private readonly machine: Machine, private readonly fds: FdTable, private readonly verbs: Verbs) {}

  rdmaCreateEventChannel(): { handle: number; fd: number } {
    const channel = this.machine.open(RDMA_CM_PATH, O_RDWR);
    if (!(channel instanceof ChannelFile)) throw systemError('ENODEV', 'rdma_create_event_channel');
    channel.lend({ acquire: (d) => this.verbs.cmAcquire(d) });
    const file = channel.open();
    const fd = this.fds.install(file, true);
    return { handle: this.#add({ kind: 'channel', channel, fd, file }), fd };
  }

  rdmaDestroyEventChannel(handle: number): void {
    const { channel, fd, file } = this.#get(handle, 'channel', 'rdma_destroy_event_channel', false);
    if (channel.ids.size > 0) {
      throw systemErrorWhy('EBUSY', 'rdma_destroy_event_channel', `${channel.ids.size} ids still use the channel`);
    }
    if (this.fds.get(fd)?.file === file) this.fds.close(fd);
    this.#handles.delete(handle);
  }

  rdmaCreateId(channelHandle: number, portSpace: number): number {
    const { channel } = this.#get(channelHandle, 'channel', 'rdma_create_id');
    if (portSpace !== RDMA_PS_TCP) {
      if (!Number.isInteger(portSpace)) throw new TypeError('portSpace must be an integer (RDMA_PS_TCP)');
      if (OTHER_PORT_SPACES.has(portSpace)) {
        throw systemErrorWhy('EOPNOTSUPP', 'rdma_create_id', 'the emulator models RDMA_PS_TCP (RC) ids only');
      }
      throw systemErrorWhy('EINVAL', 'rdma_create_id', `0x${portSpace.toString(16)} is no port space`);
    }
    const id = new CmId(channel.host, channel);
    return this.#adopt(id);
  }

  rdmaDestroyId(handle: number): void {
    const { id } = this.#get(handle, 'id', 'rdma_destroy_id');
    if (id.qp) {
      throw systemErrorWhy('EBUSY', 'rdma_destroy_id', 'the id has a QP: destroy it with ibvDestroyQp first');
    }
    id.destroy();
    this.#handles.delete(handle);
  }

  rdmaBindAddr(handle: number, address: RdmaAddress): void {
    this.#get(handle, 'id', 'rdma_bind_addr').id.bind(checkAddress(address, 'address'));
  }

  rdmaListen(handle: number, backlog: number): void {
    const { id } = this.#get(handle, 'id', 'rdma_listen');
    if (!Number.isInteger(backlog)) throw new TypeError('backlog must be an integer');
    id.listen(backlog);
  }

  rdmaResolveAddr(handle: number, src: RdmaAddress | null, dst: RdmaAddress, timeoutMs: number): void {
    const { id } = this.#get(handle, 'id', 'rdma_resolve_addr');
    const source = src === null ? null : checkAddress(src, 'src');
    const destination = checkAddress(dst, 'dst');
    id.resolveAddr(source, destination, timeout(timeoutMs));
  }

  rdmaResolveRoute(handle: number, timeoutMs: number): void {
    const { id } = this.#get(handle, 'id', 'rdma_resolve_route');
    timeout(timeoutMs);
    id.resolveRoute();
  }

  /** rdma_create_qp: an RC QP on the id's context, moved to INIT with the access the connection gives so far. */
  rdmaCreateQp(handle: number, pd: number, init: IbvQpInit): IbvQp {
    const syscall = 'rdma_create_qp';
    const { id } = this.#get(handle, 'id', syscall);
    if (!id.device) throw systemErrorWhy('EINVAL', syscall, 'the id is bound to no device yet: resolve an address or bind to one first');
    if (id.qp) throw systemErrorWhy('EINVAL', syscall, 'the id has a QP already');
    const made = this.verbs.cmCreateQp(id.device, pd, init, () => {
      id.qp = undefined;
    });
    try {
      // rdma_init_qp_attr: an active id has no ib_cm id yet (no access); a request's id has the requester's initiator depth.
      toInit(made.queuePair, id.ib === 'req-rcvd' ? connAccess(id.requesterDepth()) : 0);
    } catch (e) {
      this.verbs.ibvDestroyQp(made.qp.handle);
      throw e;
    }
    id.qp = { handle: made.qp.handle, queuePair: made.queuePair };
    return made.qp;
  }

  rdmaConnect(handle: number, param: RdmaConnParam): void {
    const { id } = this.#get(handle, 'id', 'rdma_connect');
    checkParam(param, PRIVATE_DATA_MAX.connect, 'rdma_connect', id);
    id.connect(param);
  }

  rdmaAccept(handle: number, param: RdmaConnParam): void {
    const { id } = this.#get(handle, 'id', 'rdma_accept');
    // The REP's limit is the kernel's to check (id.accept), after librdmacm has moved the QP.
    checkParam(param, Infinity, 'rdma_accept', id);
    id.accept(param);
  }

  rdmaReject(handle: number, privateData: Uint8Array): void {
    const { id } = this.#get(handle, 'id', 'rdma_reject');
    if (!(privateData instanceof Uint8Array)) throw new TypeError('privateData must be a Uint8Array');
    tooMuch(privateData, PRIVATE_DATA_MAX.reject, 'rdma_reject', 'a REJ');
    id.reject(privateData);
  }

  rdmaDisconnect(handle: number): void {
    this.#get(handle, 'id', 'rdma_disconnect').id.disconnect();
  }

  /**
   * rdma_get_cm_event, with what librdmacm does before it returns: a
   * request's id gets its handle; a CONNECT_RESPONSE to an id with a QP moves
   * the QP to RTS and sends the RTU (ESTABLISHED, or CONNECT_ERROR where the
   * QP refuses); a REJECTED id's QP goes to ERR.
   */
  rdmaGetCmEvent(channelHandle: number): RdmaCmEvent | null {
    const { channel } = this.#get(channelHandle, 'channel', 'rdma_get_cm_event');
    const e = channel.take();
    if (!e) return null;
    let { event, status } = e;
    if (event === E.CONNECT_REQUEST) {
      this.#adopt(e.id);
      e.id.listener!.pending--;
      e.id.listener = undefined;
    } else if (event === E.CONNECT_RESPONSE && e.id.qp) {
      // Established already where the program accepted before it took the event.
      const ok = e.id.ib === 'established' || e.id.establish();
      event = ok ? E.ESTABLISHED : E.CONNECT_ERROR;
      if (!ok) status = -1;
    } else if (event === E.REJECTED && e.id.qp) {
      toErr(e.id.qp.queuePair);
    }
    return {
      event, id: e.id.handle!, listenId: e.listen?.handle ?? 0, status,
      privateData: Uint8Array.from(e.privateData), param: e.param && { ...e.param },
    };
  }

  rdmaQueryId(handle: number): RdmaIdInfo {
    const { id } = this.#get(handle, 'id', 'rdma_get_local_addr');
    return {
      context: id.device ? this.verbs.cmHandle(id.device) : 0,
      deviceName: id.device?.name ?? '',
      portNum: id.device ? 1 : 0,
      local: { ...id.local },
      remote: { ...id.remote },
    };
  }

  #adopt(id: CmId): number {
    id.handle = this.#add({ kind: 'id', id });
    return id.handle;
  }

  #add(entry: Handle): number {
    // One numbering with the verbs objects: an rdma_cm handle never names one of those.
    const handle = this.verbs.reserveHandle();
    this.#handles.set(handle, entry);
    return handle;
  }

  /**
   * The live object a handle names. An id whose channel's fd was closed is
   * gone; so, but for rdma_destroy_event_channel, is the channel (librdmacm
   * would read and write a closed fd).
   */
  #get<K extends Handle['kind']>(handle: number, kind: K, syscall: string, fdOpen = true): Extract<Handle, { kind: K }> {
    if (typeof handle !== 'number') throw new TypeError(`${kind} must be a handle (a number)`);
    const entry = this.#handles.get(handle);
    if (entry?.kind === 'id' && entry.id.state === 'destroyed') this.#handles.delete(handle);
    const live = entry?.kind === 'id' ? entry.id.state !== 'destroyed' : !fdOpen || this.fds.get(entry?.fd ?? -1)?.file === entry?.file;
    if (entry?.kind === kind && live) return entry as Extract<Handle, { kind: K }>;
    const what = kind === 'id' ? 'rdma_cm id' : 'event channel';
    throw systemErrorWhy('EBADF', syscall, `${handle} is not a live ${what}`);
  }
}

function timeout(ms: number): number {
  if (!Number.isInteger(ms) || ms < 0 || ms > 0x7fffffff) throw new TypeError('timeoutMs must be an integer number of milliseconds');
  return ms;
}

/** The checks librdmacm (ucma_valid_param) and the kernel make of struct rdma_conn_param. */
function checkParam(param: RdmaConnParam, max: number, syscall: string, id: CmId): void {
  if (typeof param !== 'object' || param === null) throw new TypeError('param must be an RdmaConnParam');
  if (!(param.privateData instanceof Uint8Array)) throw new TypeError('param.privateData must be a Uint8Array');
  for (const name of ['responderResources', 'initiatorDepth', 'retryCount', 'rnrRetryCount'] as const) {
    const value = param[name];
    if (!Number.isInteger(value) || value < 0 || value > 0xff) throw new TypeError(`param.${name} must be an integer from 0 to 255`);
  }
  tooMuch(param.privateData, max, syscall, syscall === 'rdma_connect' ? 'a REQ' : 'a REP');
  const attr = id.device?.profile.attr;
  if (!attr) return;
  for (const [name, value, most] of [
    ['responderResources', param.responderResources, attr.maxQpRdAtom],
    ['initiatorDepth', param.initiatorDepth, attr.maxQpInitRdAtom],
  ] as const) {
    if (value !== 0xff && value > most) {
      throw systemErrorWhy('EINVAL', syscall, `${name} ${value} is more than ${id.device!.name} allows, ${most}; 255 asks for the most`);
    }
  }
}

function tooMuch(data: Uint8Array, max: number, syscall: string, message: string): void {
  if (data.length > max) {
    throw systemErrorWhy('EINVAL', syscall, `${data.length} bytes of private data; ${message} carries at most ${max} on RoCE and InfiniBand`);
  }
}
