import { randomInt } from 'node:crypto';
import type { IbvQp, IbvQpCap, IbvQpInit } from '../../seam/backend-verbs';
import { advise } from '../advice';
import { instanceArg, invalidType, invalidValue, optionsArg, outOfRange, toBoolean, toInt, toSize, toU64 } from '../args';
import { systemError } from '../../seam/system-error';
import { assertOpen, closeWith, Resource, teardown } from '../resource';
import { byteSwap32, encodeRecv, encodeSend, RECV_WR_WORDS, SEND_WR_WORDS, SendWr, Sge } from '../../seam/work-requests';
import { IBV_ACCESS, IBV_QP, IBV_QPS, IBV_QPT_RC, IBV_SEND, IBV_WR } from '../../seam/verbs-uapi';
import { AccessFlag, accessBits } from './access-flags';
import { CompletionQueue } from './cq';
import { gidBytes } from './device';
import { MemoryRegion, type RemoteBuffer } from './mr';
import type { ProtectionDomain } from './pd';

/** The API's opcodes. */
const SEND_OPCODES = {
  write: IBV_WR.RDMA_WRITE, 'write-imm': IBV_WR.RDMA_WRITE_WITH_IMM, send: IBV_WR.SEND, 'send-imm': IBV_WR.SEND_WITH_IMM, read: IBV_WR.RDMA_READ,
} as const;
export type SendOpcode = keyof typeof SEND_OPCODES;

/** ibv_qp_state by its API name. */
export type QpState = Lowercase<keyof typeof IBV_QPS>;

export interface QueuePairOptions {
  maxSendWr?: number;
  maxRecvWr?: number;
  /** The most bytes a request may carry inline (default 0); sends and writes that fit go inline by default. */
  maxInlineData?: number;
  /** Every send request completes on the CQ (default), or only those posted with signaled: true. */
  signalAll?: boolean;
}

/** What a peer needs to connect its RC QP to this one. */
export interface Endpoint {
  qpNum: number;
  /** Packet sequence number the peer's sends start at. */
  psn: number;
  /** GID in IPv6 notation (RoCE, or IB with a GRH). */
  gid: string;
  lid: number;
  /** Active MTU in bytes. */
  mtu: number;
}

export interface ConnectOptions {
  port?: number;
  /** Which entry of the port's GID table to send from; default: see QueuePair.endpoint. */
  gidIndex?: number;
  /** What the peer may do to our MRs through this QP; default: remote read and write. */
  access?: AccessFlag[];
  /**
   * Transport retries before a request fails with retry-exceeded-error
   * (0–7, default 7). On rxe 7 means retry for ever: a peer that has gone
   * away then never completes, so pass less to notice it.
   */
  retryCount?: number;
}

/** The local memory of a request: a range of a registered MR. */
export interface LocalRange {
  mr: MemoryRegion;
  offset?: number;
  /** Default: from offset to the end of the MR. */
  length?: number;
}

export interface SendRequest {
  opcode: SendOpcode;
  local?: LocalRange;
  /** For write and read: where in the peer's memory, plus an offset into it. */
  remote?: RemoteBuffer & { offset?: bigint | number };
  /** Immediate data (32 bits, host order) for write-imm and send-imm. */
  imm?: number;
  /** Echoed in the completion; default 0n. */
  id?: bigint;
  /** Ask for a completion when the QP does not signal every request. */
  signaled?: boolean;
  /**
   * Copy the data into the request as it is posted (IBV_SEND_INLINE): no DMA
   * read of the MR, and the memory is free to change at once. Default: true
   * for a send or write whose data fits the QP's maxInlineData.
   */
  inline?: boolean;
  solicited?: boolean;
  fence?: boolean;
}

export interface RecvRequest {
  local?: LocalRange;
  id?: bigint;
}

/**
 * A QP of `pd` over the CQs, made by `make`: ibv_create_qp (by default), or
 * rdma_create_qp for a connection's. ProtectionDomain.createQp() calls it.
 */
export let createQp: (
  pd: ProtectionDomain, sendCq: CompletionQueue, recvCq: CompletionQueue, o: QueuePairOptions, make?: (init: IbvQpInit) => IbvQp,
) => QueuePair;

/** The connection manager moved `qp` to RTS. */
export let markConnected: (qp: QueuePair) => void;

/** A reliable-connected queue pair. */
export class QueuePair extends Resource {
  readonly psn = randomInt(1 << 24);
  #state: QpState = 'reset';
  #sendScratch = new BigUint64Array(SEND_WR_WORDS * 16);
  #recvScratch = new BigUint64Array(RECV_WR_WORDS * 16);
  /** Held so that a CQ in use is never collected. */
  readonly #cqs: readonly CompletionQueue[];

  private constructor(
    readonly pd: ProtectionDomain,
    readonly handle: number,
    readonly qpNum: number,
    readonly cap: IbvQpCap,
    cqs: readonly CompletionQueue[],
  ) {
    super(pd);
    this.#cqs = cqs;
    const { seam } = pd.device;
    teardown(this, () => seam.ibvDestroyQp(handle));
    for (const cq of cqs) closeWith(cq, this);
  }

  static {
    createQp = (pd, sendCq, recvCq, o, make) => QueuePair.#create(pd, sendCq, recvCq, o, make);
    markConnected = (qp) => {
      qp.#state = 'rts';
    };
  }

  static #create(
    pd: ProtectionDomain, sendCq: CompletionQueue, recvCq: CompletionQueue, o: QueuePairOptions,
    make: (init: IbvQpInit) => IbvQp = (init) => pd.device.seam.ibvCreateQp(pd.handle, init),
  ): QueuePair {
    assertOpen(instanceArg(sendCq, CompletionQueue, 'sendCq'));
    assertOpen(instanceArg(recvCq, CompletionQueue, 'recvCq'));
    optionsArg(o);
    const count = (value: number | undefined, name: string, fallback: number) => (value === undefined ? fallback : toInt(value, `options.${name}`, 0, 0x7fffffff));
    const qp = make({
      sendCq: sendCq.handle,
      recvCq: recvCq.handle,
      qpType: IBV_QPT_RC,
      cap: { maxSendWr: count(o.maxSendWr, 'maxSendWr', 128), maxRecvWr: count(o.maxRecvWr, 'maxRecvWr', 128), maxSendSge: 1, maxRecvSge: 1, maxInlineData: count(o.maxInlineData, 'maxInlineData', 0) },
      sqSigAll: o.signalAll === undefined ? true : toBoolean(o.signalAll, 'options.signalAll'),
    });
    try {
      return new QueuePair(pd, qp.handle, qp.qpNum, qp.cap, [sendCq, recvCq]);
    } catch (e) {
      pd.device.seam.ibvDestroyQp(qp.handle);
      throw e;
    }
  }

  get state(): QpState {
    return this.#state;
  }

  /**
   * This QP's side of a connection, to hand to the peer. The GID defaults to
   * the port's first IPv4-mapped entry (RoCE v2 over IPv4), else its first
   * non-zero one.
   */
  endpoint(opts?: { port?: number; gidIndex?: number }): Endpoint {
    assertOpen(this);
    const options = optionsArg(opts);
    const port = options.port ?? 1;
    const device = this.pd.device;
    const info = device.port(port);
    const gidIndex = options.gidIndex === undefined ? defaultGidIndex(device, port, info.gidTableLength) : toInt(options.gidIndex, 'options.gidIndex', 0, 0x7fffffff);
    return { qpNum: this.qpNum, psn: this.psn, gid: device.gid(port, gidIndex), lid: info.lid, mtu: info.mtu };
  }

  /** Moves the QP through INIT, RTR and RTS towards `remote`. */
  connect(remote: Endpoint, opts?: ConnectOptions): void {
    assertOpen(this);
    const options = optionsArg(opts);
    optionsArg(remote, 'remote');
    const u32 = (value: unknown, name: string, max = 0xffffffff) => toInt(value, `remote.${name}`, 0, max);
    u32(remote.qpNum, 'qpNum', 0xffffff);
    u32(remote.psn, 'psn', 0xffffff);
    u32(remote.lid, 'lid', 0xffff);
    u32(remote.mtu, 'mtu');
    const dgid = gidBytes(remote.gid, 'remote.gid');
    const access = accessBits(options.access ?? ['remote-read', 'remote-write'], 'options.access');
    const retryCount = options.retryCount === undefined ? 7 : toInt(options.retryCount, 'options.retryCount', 0, 7);
    const { seam } = this.pd.device;
    const port = options.port ?? 1;
    const device = this.pd.device;
    const info = device.port(port);
    const sgidIndex = options.gidIndex === undefined ? defaultGidIndex(device, port, info.gidTableLength) : toInt(options.gidIndex, 'options.gidIndex', 0, 0x7fffffff);
    const mtu = mtuEnum(Math.min(info.mtu, remote.mtu));
    seam.ibvModifyQp(this.handle, {
      qpState: IBV_QPS.INIT, pkeyIndex: 0, portNum: port,
      qpAccessFlags: access & ~IBV_ACCESS.LOCAL_WRITE,
    }, IBV_QP.STATE | IBV_QP.PKEY_INDEX | IBV_QP.PORT | IBV_QP.ACCESS_FLAGS);
    this.#state = 'init';
    seam.ibvModifyQp(this.handle, {
      qpState: IBV_QPS.RTR, pathMtu: mtu, destQpNum: remote.qpNum, rqPsn: remote.psn,
      maxDestRdAtomic: 1, minRnrTimer: 12,
      ahAttr: { dlid: remote.lid, portNum: port, isGlobal: true, dgid, sgidIndex, hopLimit: 64 },
    }, IBV_QP.STATE | IBV_QP.AV | IBV_QP.PATH_MTU | IBV_QP.DEST_QPN | IBV_QP.RQ_PSN | IBV_QP.MAX_DEST_RD_ATOMIC | IBV_QP.MIN_RNR_TIMER);
    this.#state = 'rtr';
    seam.ibvModifyQp(this.handle, {
      qpState: IBV_QPS.RTS, timeout: 14, retryCnt: retryCount, rnrRetry: 7, sqPsn: this.psn, maxRdAtomic: 1,
    }, IBV_QP.STATE | IBV_QP.TIMEOUT | IBV_QP.RETRY_CNT | IBV_QP.RNR_RETRY | IBV_QP.SQ_PSN | IBV_QP.MAX_QP_RD_ATOMIC);
    this.#state = 'rts';
  }

  /** Posts send requests in one call (one ibv_post_send of a chain). */
  postSend(requests: readonly SendRequest[]): void {
    assertOpen(this);
    if (!Array.isArray(requests)) throw invalidType('requests', 'an array of send requests', requests);
    const n = requests.length;
    if (this.#sendScratch.length < n * SEND_WR_WORDS) this.#sendScratch = new BigUint64Array(n * SEND_WR_WORDS);
    const w = this.#sendScratch;
    for (let i = 0; i < n; i++) encodeSend(w, i, sendWr(requests[i], i, this.cap.maxInlineData));
    try {
      this.pd.device.seam.ibvPostSend(this.handle, w, n);
    } catch (e) {
      throw advise(e, []);
    }
  }

  /** Posts receive requests in one call. */
  postRecv(requests: readonly RecvRequest[]): void {
    assertOpen(this);
    if (!Array.isArray(requests)) throw invalidType('requests', 'an array of receive requests', requests);
    const n = requests.length;
    if (this.#recvScratch.length < n * RECV_WR_WORDS) this.#recvScratch = new BigUint64Array(n * RECV_WR_WORDS);
    const w = this.#recvScratch;
    for (let i = 0; i < n; i++) {
      const r = request<RecvRequest>(requests[i], i);
      encodeRecv(w, i, { wrId: r.id === undefined ? 0n : toU64(r.id, `requests[${i}].id`), sge: r.local === undefined ? undefined : sge(r.local, i) });
    }
    try {
      this.pd.device.seam.ibvPostRecv(this.handle, w, n);
    } catch (e) {
      throw advise(e, []);
    }
  }
}

function request<T extends object>(r: unknown, i: number): T {
  if (typeof r !== 'object' || r === null) throw invalidType(`requests[${i}]`, 'of type object', r);
  return r as T;
}

/** Request `i`, checked: every field a JS value of the right type and range, its MR open. */
function sendWr(value: unknown, i: number, maxInline: number): SendWr {
  const r = request<SendRequest>(value, i);
  if (typeof r.opcode !== 'string' || !Object.hasOwn(SEND_OPCODES, r.opcode)) {
    throw invalidValue(`requests[${i}].opcode`, r.opcode, `must be one of ${Object.keys(SEND_OPCODES).map((o) => `'${o}'`).join(', ')}`);
  }
  const local = r.local === undefined ? undefined : sge(r.local, i);
  const inline = r.inline ?? (local !== undefined && local.length > 0 && local.length <= maxInline && r.opcode !== 'read');
  const flags = (r.signaled ? IBV_SEND.SIGNALED : 0) | (inline ? IBV_SEND.INLINE : 0) |
    (r.solicited ? IBV_SEND.SOLICITED : 0) | (r.fence ? IBV_SEND.FENCE : 0);
  const needsRemote = r.opcode === 'write' || r.opcode === 'write-imm' || r.opcode === 'read';
  if (needsRemote && r.remote === undefined) throw invalidType(`requests[${i}].remote`, `{ addr, rkey } for a ${r.opcode}`, r.remote);
  const remote = r.remote === undefined ? undefined : request<NonNullable<SendRequest['remote']>>(r.remote, i);
  const remoteAddr = remote === undefined ? 0n
    : toU64(remote.addr, `requests[${i}].remote.addr`) + (remote.offset === undefined ? 0n : toSize(remote.offset, `requests[${i}].remote.offset`));
  if (remoteAddr > U64_MAX) throw outOfRange(`requests[${i}].remote.offset`, 'such that addr + offset < 2^64', remote?.offset);
  return {
    wrId: r.id === undefined ? 0n : toU64(r.id, `requests[${i}].id`), opcode: SEND_OPCODES[r.opcode], flags,
    sge: local,
    remoteAddr,
    rkey: remote === undefined ? 0 : toInt(remote.rkey, `requests[${i}].remote.rkey`, 0, 0xffffffff),
    imm: r.imm === undefined ? 0 : byteSwap32(toInt(r.imm, `requests[${i}].imm`, 0, 0xffffffff)),
  };
}

/** The scatter-gather entry of request `i`: a range of an open MR of this process. */
function sge(value: unknown, i: number): Sge {
  const local = request<LocalRange>(value, i);
  const mr = instanceArg(local.mr, MemoryRegion, `requests[${i}].local.mr`);
  assertOpen(mr);
  const size = Number(mr.length);
  const offset = local.offset === undefined ? 0 : toInt(local.offset, `requests[${i}].local.offset`, 0, size);
  const length = local.length === undefined ? size - offset : toInt(local.length, `requests[${i}].local.length`, 0, Math.min(size - offset, 0xffffffff));
  return { addr: mr.addr + BigInt(offset), length, lkey: mr.lkey };
}

const U64_MAX = (1n << 64n) - 1n;


function mtuEnum(bytes: number): number {
  for (let e = 5; e >= 1; e--) if (bytes >= 128 << e) return e;
  return 1;
}

function defaultGidIndex(device: ProtectionDomain['device'], port: number, tableLength: number): number {
  let firstNonZero = -1;
  for (let i = 0; i < tableLength; i++) {
    let gid: string;
    try {
      gid = device.gid(port, i);
    } catch {
      continue;
    }
    if (gid === '0:0:0:0:0:0:0:0') continue;
    if (gid.startsWith('0:0:0:0:0:ffff:')) return i;
    if (firstNonZero < 0) firstNonZero = i;
  }
  if (firstNonZero < 0) throw systemError('ENODEV', 'ibv_query_gid', `port ${port} of ${device.name} has no GID: is its network interface up?`);
  return firstNonZero;
}
