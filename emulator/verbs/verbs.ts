// libibverbs as one emulated process calls it: the VerbsCalls of the seam,
// over the machine's RDMA devices. Objects are small-integer handles, never
// reused; a handle that names no live object of the right kind answers EBADF,
// as the addon's do.
import type {
  IbvAsyncEvent, IbvCompChannel, IbvDeviceAttr, IbvDeviceEntry, IbvPortAttr, IbvQp, IbvQpAttr, IbvQpInit,
  VerbsCalls,
} from '../../seam/backend-verbs';
import { isSystemError, systemError, systemErrorWhy } from '../../seam/system-error';
import { O_RDWR } from '../../seam/uapi';
import { WC_WORDS } from '../../seam/work-requests';
import { encodeMr, MR_WORDS } from '../../seam/mr-words';
import { O_LARGEFILE } from '../abi';
import { FdTable, OpenFile } from '../files';
import type { Machine } from '../machine';
import { AddressSpace } from './address-space';
import { CompChannel, IbCq, cqCapacity } from './cq';
import { IbDevice, UverbsDevice, UverbsFile } from './device';
import { EventFile } from './event-file';
import { Memlock } from './memlock';
import { adviseMr, IbMr, regDmabufMr, regUserMr } from './mr';
import { IbPd } from './pd';
import { IbQp } from './qp';
import { IBV_ACCESS, IBV_EVENT } from '../../seam/verbs-uapi';

const UVERBS_DIR = '/dev/infiniband';

/** An open device (ibv_context): its command fd, its async event fd, and what was made on it. */
class DeviceContext {
  /** Objects made on the context and still alive: ibv_close_device waits for none, so the addon answers EBUSY. */
  children = 0;
  /** Its host-memory MRs by key, where inline data may be read from. */
  readonly hostMrs = new Map<number, IbMr>();
  /**
   * Where the connection manager opened it: the handle the program was shown
   * (undefined until asked, and again once given up with ibvCloseDevice).
   * librdmacm keeps such a context open for the life of the process.
   */
  cm: { handle: number | undefined } | undefined;

  constructor(
    readonly device: IbDevice,
    readonly cmd: { fd: number; file: OpenFile },
    readonly events: EventFile<IbvAsyncEvent>,
    readonly async: { fd: number; file: OpenFile },
  ) {}
}

type Handle =
  | { kind: 'context'; ctx: DeviceContext }
  | { kind: 'pd'; ctx: DeviceContext; pd: IbPd }
  | { kind: 'mr'; ctx: DeviceContext; mr: IbMr; unpin?: () => void }
  | { kind: 'channel'; ctx: DeviceContext; channel: CompChannel; fd: number; file: OpenFile }
  | { kind: 'cq'; ctx: DeviceContext; cq: IbCq; out: BigUint64Array }
  | { kind: 'qp'; ctx: DeviceContext; qp: IbQp };
type Kind = Handle['kind'];

const KIND_NAMES: Record<Kind, string> = {
  context: 'device context', pd: 'protection domain', mr: 'memory region', channel: 'completion channel',
  cq: 'completion queue', qp: 'queue pair',
};

/**
 * What the process lends: its fd table, whether a view is an mmap of a dma-buf
 * (a PFN mapping), the mapping holding a view (whose MR count makes munmap
 * refuse), and whether it is a mapping without PROT_WRITE.
 */
export interface ProcessView {
  readonly fds: FdTable;
  pfnMapped(view: Uint8Array): boolean;
  mappingHolding(view: Uint8Array): { mrs: number } | undefined;
  readOnly(view: Uint8Array): boolean;
}

export class Verbs implements VerbsCalls {
  readonly #handles = new Map<number, Handle>();
  #nextHandle = 1;
  readonly #memlock = new Memlock();
  readonly #addresses = new AddressSpace();
  readonly #cmContexts = new Map<IbDevice, DeviceContext>();
  /** What to tell the connection manager when the program destroys a QP it made with rdma_create_qp. */
  readonly #cmQps = new Map<number, () => void>();

  constructor(private readonly machine: Machine, private readonly process: ProcessView) {}

  ibvGetDeviceList(): IbvDeviceEntry[] {
    return this.#nodes().map((node) => node.rdma.entry());
  }

  ibvOpenDevice(name: string): number {
    if (typeof name !== 'string' || name.includes('\0')) throw new TypeError('name must be a string without NUL characters');
    const node = this.#nodes().find((n) => n.rdma.name === name);
    if (!node) throw systemErrorWhy('ENODEV', 'ibv_open_device', `no RDMA device is named '${name}'`);
    return this.#add({ kind: 'context', ctx: this.#open(node) });
  }

  #open(device: UverbsDevice): DeviceContext {
    const { fds } = this.process;
    const node = device.open();
    const cmdFile = new OpenFile(node, O_RDWR | O_LARGEFILE);
    const events = new EventFile<IbvAsyncEvent>(this.machine.anonInode);
    const asyncFile = events.open();
    const cmd = { fd: fds.install(cmdFile, true, true), file: cmdFile };
    const ctx = new DeviceContext(node.rdma, cmd, events, { fd: fds.install(asyncFile, true, true), file: asyncFile });
    node.rdma.listen(events);
    node.onRelease = () => this.#teardown(ctx);
    return ctx;
  }

  /**
   * The program closed the command fd itself (ib_uverbs_close): what was made
   * on the context is destroyed as uverbs_destroy_ufile_hw does, QPs first,
   * and its handles go stale; its other files (the async event fd,
   * completion channels) stay open until closed, and hear no more.
   */
  #teardown(ctx: DeviceContext): void {
    for (const kind of ['qp', 'mr', 'cq', 'channel', 'pd', 'context'] as const) {
      for (const [handle, entry] of [...this.#handles]) {
        if (entry.ctx !== ctx || entry.kind !== kind) continue;
        if (entry.kind === 'qp') {
          this.#cmQps.get(handle)?.();
          this.#cmQps.delete(handle);
          entry.qp.destroy();
        } else if (entry.kind === 'mr') {
          entry.mr.deregister();
          entry.unpin?.();
        }
        this.#handles.delete(handle);
      }
    }
    ctx.children = 0;
    ctx.hostMrs.clear();
    ctx.device.unlisten(ctx.events);
    if (this.#cmContexts.get(ctx.device) === ctx) this.#cmContexts.delete(ctx.device);
  }

  ibvCloseDevice(ctxHandle: number): void {
    const { ctx } = this.#get(ctxHandle, 'context', 'ctx', 'ibv_close_device');
    if (ctx.children > 0) {
      throw systemErrorWhy('EBUSY', 'ibv_close_device', `${ctx.children} objects made on this context are still alive`);
    }
    this.#handles.delete(ctxHandle);
    // The connection manager's context stays open: the program only gives up the handle.
    if (ctx.cm) ctx.cm.handle = undefined;
    else this.#close(ctx);
  }

  #close(ctx: DeviceContext): void {
    (ctx.cmd.file.object as UverbsFile).onRelease = undefined;
    ctx.device.unlisten(ctx.events);
    this.#closeFd(ctx.cmd.fd, ctx.cmd.file);
    this.#closeFd(ctx.async.fd, ctx.async.file);
  }

  // --- the connection manager's contexts (emulator/rdmacm) -------------------

  /**
   * The connection manager's context on `device`, opened on first use (as
   * librdmacm's ucma_init_device) and open from then on; again where the
   * program tore it down by closing its fd.
   */
  #cmContext(device: IbDevice): DeviceContext {
    let ctx = this.#cmContexts.get(device);
    if (!ctx) {
      const node = this.#nodes().find((n) => n.rdma === device);
      if (!node) throw new Error(`${device.name} has no uverbs node`);
      ctx = this.#open(node);
      ctx.cm = { handle: undefined };
      this.#cmContexts.set(device, ctx);
    }
    return ctx;
  }

  /** A handle number no verbs object has or will have: the connection manager's ids and channels are numbered with them. */
  reserveHandle(): number {
    return this.#nextHandle++;
  }

  /** An id of the connection manager now uses `device`. */
  cmAcquire(device: IbDevice): void {
    this.#cmContext(device);
  }

  /** The handle of the connection manager's context on `device`: the same one while the program keeps it. */
  cmHandle(device: IbDevice): number {
    const ctx = this.#cmContext(device);
    return (ctx.cm!.handle ??= this.#add({ kind: 'context', ctx }));
  }

  /**
   * rdma_create_qp's ibv_create_qp: on the connection manager's context on
   * `device` (the PD must be of it), with `onDestroy` run when the program
   * destroys it.
   */
  cmCreateQp(device: IbDevice, pdHandle: number, init: IbvQpInit, onDestroy: () => void): { qp: IbvQp; queuePair: IbQp } {
    const { ctx } = this.#get(pdHandle, 'pd', 'pd', 'rdma_create_qp');
    if (ctx !== this.#cmContext(device)) {
      throw systemErrorWhy('EINVAL', 'rdma_create_qp', `the PD belongs to another device context than the id's ${device.name}`);
    }
    const qp = this.ibvCreateQp(pdHandle, init);
    this.#cmQps.set(qp.handle, onDestroy);
    return { qp, queuePair: this.#get(qp.handle, 'qp', 'qp', 'rdma_create_qp').qp };
  }


  ibvQueryDevice(ctx: number): IbvDeviceAttr {
    return { ...this.#get(ctx, 'context', 'ctx', 'ibv_query_device').ctx.device.profile.attr };
  }

  ibvQueryPort(ctx: number, port: number): IbvPortAttr {
    return this.#get(ctx, 'context', 'ctx', 'ibv_query_port').ctx.device.portAttr(port, 'ibv_query_port');
  }

  ibvQueryGid(ctx: number, port: number, index: number): Uint8Array {
    return this.#get(ctx, 'context', 'ctx', 'ibv_query_gid').ctx.device.gid(port, index, 'ibv_query_gid');
  }

  ibvGetAsyncEvent(ctx: number): IbvAsyncEvent | null {
    return this.#get(ctx, 'context', 'ctx', 'ibv_get_async_event').ctx.events.take() ?? null;
  }

  ibvAsyncFd(ctx: number): number {
    return this.#get(ctx, 'context', 'ctx', 'ibv_get_async_event').ctx.async.fd;
  }

  ibvAllocPd(ctxHandle: number): number {
    const { ctx } = this.#get(ctxHandle, 'context', 'ctx', 'ibv_alloc_pd');
    return this.#add({ kind: 'pd', ctx, pd: new IbPd(ctx.device) });
  }

  ibvDeallocPd(pdHandle: number): void {
    const { pd } = this.#get(pdHandle, 'pd', 'pd', 'ibv_dealloc_pd');
    if (pd.users > 0) throw systemError('EBUSY', 'ibv_dealloc_pd');
    this.#remove(pdHandle);
  }

  /**
   * Host memory JS cannot free or move while the MR lives, as the addon
   * takes: a view of a SharedArrayBuffer, or of a mapping (pinned).
   */
  ibvRegMr(pdHandle: number, view: Uint8Array, access: number, out: BigUint64Array): number {
    if (!(view instanceof Uint8Array)) throw new TypeError('view must be a Uint8Array');
    const mapping = view.buffer instanceof SharedArrayBuffer ? undefined : this.process.mappingHolding(view);
    if (!(view.buffer instanceof SharedArrayBuffer) && !mapping) {
      throw new TypeError('view must be over a SharedArrayBuffer or a mapping mmap made: any other ArrayBuffer can be transferred away and freed while the device uses it');
    }
    mrOut(out);
    const bits = uint32(access, 'access');
    const { ctx, pd } = this.#get(pdHandle, 'pd', 'pd', 'ibv_reg_mr');
    const memory = { view, addr: this.#addresses.addressOf(view), pfnMapped: this.process.pfnMapped(view), readOnly: this.process.readOnly(view) };
    const mr = regUserMr(pd, memory, bits, this.#memlock);
    ctx.hostMrs.set(mr.key, mr);
    let unpin: (() => void) | undefined;
    // An on-demand MR follows the page tables: after munmap its accesses fail,
    // they never reach freed memory, so it holds nothing in place.
    if (mapping && !(bits & IBV_ACCESS.ON_DEMAND)) {
      mapping.mrs++;
      unpin = () => { mapping.mrs--; };
    }
    encodeMr(out, { lkey: mr.key, rkey: mr.key, addr: mr.addr, length: mr.length });
    return this.#add({ kind: 'mr', ctx, mr, unpin });
  }

  ibvRegDmabufMr(pdHandle: number, offset: bigint, length: bigint, iova: bigint, fd: number, access: number, out: BigUint64Array): number {
    const { ctx, pd } = this.#get(pdHandle, 'pd', 'pd', 'ibv_reg_dmabuf_mr');
    for (const [name, value] of [['offset', offset], ['length', length], ['iova', iova]] as const) u64(value, name);
    if (!Number.isInteger(fd)) throw new TypeError('fd must be an integer');
    const bits = uint32(access, 'access');
    mrOut(out);
    const mr = regDmabufMr(pd, offset, length, iova, this.process.fds.get(fd)?.file, bits);
    encodeMr(out, { lkey: mr.key, rkey: mr.key, addr: mr.addr, length: mr.length });
    return this.#add({ kind: 'mr', ctx, mr });
  }

  ibvDeregMr(mrHandle: number): void {
    const { ctx, mr, unpin } = this.#get(mrHandle, 'mr', 'mr', 'ibv_dereg_mr');
    mr.deregister();
    unpin?.();
    ctx.hostMrs.delete(mr.key);
    this.#remove(mrHandle);
  }

  /** The addon's check first: a pinned MR of `pd` never reaches the kernel (rxe in 7.3 does not check). */
  ibvAdviseMr(pdHandle: number, advice: number, flags: number, lkey: number, addr: bigint, length: number): void {
    const syscall = 'ibv_advise_mr';
    const [adviceBits, flagBits, key, size] = [uint32(advice, 'advice'), uint32(flags, 'flags'), uint32(lkey, 'lkey'), uint32(length, 'length')];
    u64(addr, 'addr');
    const { ctx, pd } = this.#get(pdHandle, 'pd', 'pd', syscall);
    const mine = ctx.hostMrs.get(key);
    if (mine?.pd === pd && !(mine.access & IBV_ACCESS.ON_DEMAND)) {
      throw systemErrorWhy('EINVAL', syscall, 'the lkey names an MR that was not registered on demand');
    }
    adviseMr(pd, key, adviceBits, flagBits, addr, size);
  }

  ibvCreateCompChannel(ctxHandle: number): IbvCompChannel {
    const { ctx } = this.#get(ctxHandle, 'context', 'ctx', 'ibv_create_comp_channel');
    const channel = new CompChannel(this.machine);
    const file = channel.file.open();
    const fd = this.process.fds.install(file, true, true);
    return { handle: this.#add({ kind: 'channel', ctx, channel, fd, file }), fd };
  }

  ibvDestroyCompChannel(channelHandle: number): void {
    const entry = this.#get(channelHandle, 'channel', 'channel', 'ibv_destroy_comp_channel');
    if (entry.channel.users > 0) throw systemError('EBUSY', 'ibv_destroy_comp_channel');
    this.#closeFd(entry.fd, entry.file);
    this.#remove(channelHandle);
  }

  ibvCreateCq(ctxHandle: number, cqe: number, channelHandle: number, out: BigUint64Array): number {
    const syscall = 'ibv_create_cq';
    const { ctx } = this.#get(ctxHandle, 'context', 'ctx', syscall);
    if (!Number.isInteger(cqe)) throw new TypeError('cqe must be an integer');
    let channel: CompChannel | undefined;
    if (channelHandle !== -1) {
      const entry = this.#get(channelHandle, 'channel', 'channel', syscall);
      if (entry.ctx !== ctx) throw systemErrorWhy('EINVAL', syscall, 'the channel belongs to another device context');
      channel = entry.channel;
    }
    // As the addon binds it: memory JS cannot detach, room for a completion.
    if (!(out instanceof BigUint64Array) || !(out.buffer instanceof SharedArrayBuffer)) {
      throw new TypeError('out must be a BigUint64Array over a SharedArrayBuffer');
    }
    if (out.length < WC_WORDS) throw new TypeError(`out must hold at least one completion (${WC_WORDS} words)`);
    // rxe_cq_chk_attr.
    if (cqe < 1 || cqe > ctx.device.profile.attr.maxCqe) throw systemError('EINVAL', syscall);
    const handle = this.#nextHandle++;
    const cq = new IbCq(handle, cqCapacity(cqe), channel, () => ctx.events.push({ eventType: IBV_EVENT.CQ_ERR, element: handle }));
    if (channel) channel.users++;
    return this.#add({ kind: 'cq', ctx, cq, out }, handle);
  }

  /** Events taken and not acknowledged are acknowledged first, as the addon does; those still queued are dropped. */
  ibvDestroyCq(cqHandle: number): void {
    const { cq } = this.#get(cqHandle, 'cq', 'cq', 'ibv_destroy_cq');
    if (cq.users > 0) throw systemError('EBUSY', 'ibv_destroy_cq');
    if (cq.channel) {
      cq.channel.file.remove((queued) => queued === cq);
      cq.channel.users--;
    }
    this.#remove(cqHandle);
  }

  ibvReqNotifyCq(cq: number, solicitedOnly: boolean): void {
    const entry = this.#get(cq, 'cq', 'cq', 'ibv_req_notify_cq');
    if (typeof solicitedOnly !== 'boolean') throw new TypeError('solicitedOnly must be a boolean');
    entry.cq.arm(solicitedOnly);
  }

  ibvGetCqEvent(channel: number): number {
    const cq = this.#get(channel, 'channel', 'channel', 'ibv_get_cq_event').channel.file.take();
    if (!cq) return -1;
    cq.unacked++;
    return cq.handle;
  }

  ibvAckCqEvents(cqHandle: number, count: number): void {
    const { cq } = this.#get(cqHandle, 'cq', 'cq', 'ibv_ack_cq_events');
    uint32(count, 'count');
    if (count > cq.unacked) {
      throw systemErrorWhy('EINVAL', 'ibv_ack_cq_events',
        `acknowledging ${count} events, but ${cq.unacked} were taken from this CQ and not yet acknowledged`);
    }
    cq.unacked -= count;
  }

  ibvPollCq(cq: number, max: number): number {
    const entry = this.#get(cq, 'cq', 'cq', 'ibv_poll_cq');
    if (!Number.isInteger(max) || max < 0 || max > 0x7fffffff) throw new TypeError('max must be an integer in [0, 2147483647]');
    this.machine.progress();
    return entry.cq.poll(entry.out, max);
  }

  ibvCreateQp(pdHandle: number, qpInit: IbvQpInit): IbvQp {
    const syscall = 'ibv_create_qp';
    const init = plainQpInit(qpInit);
    const { ctx, pd } = this.#get(pdHandle, 'pd', 'pd', syscall);
    const send = this.#get(init.sendCq, 'cq', 'init.sendCq', syscall);
    const recv = this.#get(init.recvCq, 'cq', 'init.recvCq', syscall);
    if (send.ctx !== ctx || recv.ctx !== ctx) {
      throw systemErrorWhy('EINVAL', syscall, `its CQs must belong to the PD's device context`);
    }
    for (const [name, value] of Object.entries(init.cap)) uint32(value, `init.cap.${name}`);
    const cap = IbQp.grant(pd, init);
    const qp = new IbQp(pd, pd.device.allocQpn(syscall), send.cq, recv.cq, cap, init.sqSigAll);
    pd.device.addQp(qp);
    pd.users++;
    send.cq.users++;
    recv.cq.users++;
    return { handle: this.#add({ kind: 'qp', ctx, qp }), qpNum: qp.qpn, cap: { ...cap } };
  }

  ibvModifyQp(qp: number, attr: IbvQpAttr, mask: number): void {
    const plain = plainQpAttr(attr);
    this.#get(qp, 'qp', 'qp', 'ibv_modify_qp').qp.modify(plain, uint32(mask, 'mask'));
  }

  ibvDestroyQp(qpHandle: number): void {
    const { qp } = this.#get(qpHandle, 'qp', 'qp', 'ibv_destroy_qp');
    this.#cmQps.get(qpHandle)?.();
    this.#cmQps.delete(qpHandle);
    qp.destroy();
    qp.pd.users--;
    qp.sendCq.users--;
    qp.recvCq.users--;
    this.#remove(qpHandle);
  }

  ibvPostSend(qpHandle: number, wrs: BigUint64Array, count: number): void {
    const { ctx, qp } = this.#get(qpHandle, 'qp', 'qp', 'ibv_post_send');
    qp.postSend(wrs, count, (lkey, addr, length) => {
      const mr = ctx.hostMrs.get(lkey);
      return mr?.contains(addr, length) ? mr.read(addr, length) : undefined;
    });
  }

  ibvPostRecv(qp: number, wrs: BigUint64Array, count: number): void {
    this.#get(qp, 'qp', 'qp', 'ibv_post_recv').qp.postRecv(wrs, count);
  }

  /** The process's pinned memory (VmPin). */
  get pinnedBytes(): number {
    return this.#memlock.pinnedBytes;
  }

  getMemlockLimit(): { soft: bigint; hard: bigint } {
    return this.#memlock.get();
  }

  setMemlockLimit(soft: bigint, hard: bigint): void {
    this.#memlock.set(soft, hard);
  }

  /** The uverbs nodes (as sysfs would be read) in the order of their numbers. */
  #nodes(): UverbsDevice[] {
    let names: string[];
    try {
      names = this.machine.readdir(UVERBS_DIR);
    } catch (e) {
      if (isSystemError(e) && e.code === 'ENOENT') return [];
      throw e;
    }
    return names
      .filter((name) => /^uverbs\d+$/.test(name))
      .sort((a, b) => Number(a.slice(6)) - Number(b.slice(6)))
      .map((name) => this.machine.device(`${UVERBS_DIR}/${name}`))
      .filter((node): node is UverbsDevice => node instanceof UverbsDevice);
  }

  #add(entry: Handle, handle = this.#nextHandle++): number {
    this.#handles.set(handle, entry);
    if (entry.kind !== 'context') entry.ctx.children++;
    return handle;
  }

  #remove(handle: number): void {
    const entry = this.#handles.get(handle);
    if (entry && entry.kind !== 'context') entry.ctx.children--;
    this.#handles.delete(handle);
  }

  #get<K extends Kind>(handle: number, kind: K, name: string, syscall: string): Extract<Handle, { kind: K }> {
    if (typeof handle !== 'number') throw new TypeError(`${name} must be a handle (a number)`);
    const entry = this.#handles.get(handle);
    if (entry?.kind !== kind) {
      throw systemErrorWhy('EBADF', syscall, `${name} ${handle} is not a live ${KIND_NAMES[kind]}`);
    }
    return entry as Extract<Handle, { kind: K }>;
  }

  /** Closes the fd the object was installed at, unless the program closed it already. */
  #closeFd(fd: number, file: OpenFile): void {
    if (this.process.fds.get(fd)?.file === file) this.process.fds.close(fd);
  }
}

function uint32(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new TypeError(`${name} must be a 32-bit unsigned integer`);
  return value;
}

/** As the addon checks where a registration's result goes. */
function mrOut(out: BigUint64Array): void {
  if (!(out instanceof BigUint64Array) || out.length < MR_WORDS) throw new TypeError(`out must be a BigUint64Array of at least ${MR_WORDS} words`);
}

function u64(value: bigint, name: string): void {
  if (typeof value !== 'bigint' || value < 0n || value >= 2n ** 64n) throw new TypeError(`${name} must be a bigint from 0 to 2n**64n-1n`);
}

// Arguments are read once, into plain objects, before any handle is looked
// up (as the addon does): a getter or Proxy trap on them may destroy any
// object, and must find the call not yet started.

/** The fields of an IbvQpInit, each read once. */
export function plainQpInit(init: IbvQpInit): IbvQpInit {
  if (typeof init !== 'object' || init === null) throw new TypeError('init must be an object');
  const { sendCq, recvCq, qpType, sqSigAll, cap } = init;
  if (typeof cap !== 'object' || cap === null) throw new TypeError('init.cap must be an object');
  const { maxSendWr, maxRecvWr, maxSendSge, maxRecvSge, maxInlineData } = cap;
  return { sendCq, recvCq, qpType, sqSigAll, cap: { maxSendWr, maxRecvWr, maxSendSge, maxRecvSge, maxInlineData } };
}

function plainQpAttr(attr: IbvQpAttr): IbvQpAttr {
  if (typeof attr !== 'object' || attr === null) throw new TypeError('attr must be an object');
  const plain = { ...attr };
  if (plain.ahAttr !== undefined) {
    if (typeof plain.ahAttr !== 'object' || plain.ahAttr === null) throw new TypeError('attr.ahAttr must be an object');
    plain.ahAttr = { ...plain.ahAttr };
    if (plain.ahAttr.dgid instanceof Uint8Array) plain.ahAttr.dgid = plain.ahAttr.dgid.slice();
  }
  return plain;
}
