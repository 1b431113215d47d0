// What the rdma_cm tests share: waiting for events through the channel's fd,
// and a connected pair of QPs with memory to move bytes between.
import { expect } from 'vitest';
import type { Backend } from '../../seam/backend';
import type { RdmaCmEvent, RdmaConnParam } from '../../seam/backend-rdmacm';
import type { IbvMr, IbvQp } from '../../seam/backend-verbs';
import { RDMA_CM_EVENT as E, RDMA_PS_TCP } from '../../seam/rdmacm-uapi';
import { IBV_ACCESS, IBV_QPT_RC, IBV_SEND, IBV_WR } from '../../seam/verbs-uapi';
import { decodeWc, encodeRecv, encodeSend, RECV_WR_WORDS, SEND_WR_WORDS, wcWords } from '../../seam/work-requests';
import { POLLIN } from '../../seam/uapi';
import { regMr } from '../../seam/mr-words';


export interface Channel {
  handle: number;
  fd: number;
}

export function param(privateData: Uint8Array = new Uint8Array(0), more: Partial<RdmaConnParam> = {}): RdmaConnParam {
  return { privateData, responderResources: 4, initiatorDepth: 4, retryCount: 7, rnrRetryCount: 7, ...more };
}

/** The next event on the channel, waited for as a program would: by watching its fd. */
export function nextEvent(b: Backend, channel: Channel, timeoutMs = 2000): Promise<RdmaCmEvent> {
  const now = b.rdmaGetCmEvent(channel.handle);
  if (now) return Promise.resolve(now);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      watch.stop();
      reject(new Error(`no rdma_cm event within ${timeoutMs} ms`));
    }, timeoutMs);
    const watch = b.watch(channel.fd, POLLIN, () => {
      const e = b.rdmaGetCmEvent(channel.handle);
      if (!e) return;
      watch.stop();
      clearTimeout(timer);
      resolve(e);
    });
  });
}

/** The next event, which must be `name`. */
export async function expectEvent(b: Backend, channel: Channel, name: keyof typeof E, status = 0): Promise<RdmaCmEvent> {
  const e = await nextEvent(b, channel);
  expect({ event: e.event, status: e.status }).toEqual({ event: E[name], status });
  return e;
}

/** Lets the CM's messages and the QPs' work run (they go on later turns of the event loop). */
export async function settle(turns = 20): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
}

/** One side of a connection: its id, and the verbs objects made on the id's context. */
export interface Side {
  b: Backend;
  channel: Channel;
  id: number;
  ctx: number;
  pd: number;
  cq: number;
  /** Where the CQ's completions are written. */
  wcs: BigUint64Array;
  qp: IbvQp;
  buf: Uint8Array;
  mr: IbvMr;
}

const ACCESS = IBV_ACCESS.LOCAL_WRITE | IBV_ACCESS.REMOTE_WRITE | IBV_ACCESS.REMOTE_READ;

/** A PD, a CQ, an RC QP made by rdma_create_qp, and 4 KiB of registered memory, on the id's context. */
export function equip(b: Backend, channel: Channel, id: number): Side {
  const ctx = b.rdmaQueryId(id).context;
  const pd = b.ibvAllocPd(ctx);
  const wcs = wcWords(8);
  const cq = b.ibvCreateCq(ctx, 16, -1, wcs);
  const qp = b.rdmaCreateQp(id, pd, {
    sendCq: cq, recvCq: cq, qpType: IBV_QPT_RC, sqSigAll: false,
    cap: { maxSendWr: 8, maxRecvWr: 8, maxSendSge: 1, maxRecvSge: 1, maxInlineData: 0 },
  });
  const buf = new Uint8Array(new SharedArrayBuffer(4096));
  return { b, channel, id, ctx, pd, cq, wcs, qp, buf, mr: regMr(b, pd, buf, ACCESS) };
}

/** Everything equip() made, destroyed in order, then the id. */
export function teardown(s: Side): void {
  s.b.ibvDeregMr(s.mr.handle);
  s.b.ibvDestroyQp(s.qp.handle);
  s.b.ibvDestroyCq(s.cq);
  s.b.ibvDeallocPd(s.pd);
  s.b.rdmaDestroyId(s.id);
}

export function newChannel(b: Backend): Channel {
  return b.rdmaCreateEventChannel();
}

/** A listener on host:port (0: any port); returns its id and the port it got. */
export function listen(b: Backend, channel: Channel, host: string, port = 0, backlog = 8): { id: number; port: number } {
  const id = b.rdmaCreateId(channel.handle, RDMA_PS_TCP);
  b.rdmaBindAddr(id, { host, port });
  b.rdmaListen(id, backlog);
  return { id, port: b.rdmaQueryId(id).local.port };
}

/** An active id with its address and route resolved to host:port. */
export async function resolved(b: Backend, channel: Channel, host: string, port: number): Promise<number> {
  const id = b.rdmaCreateId(channel.handle, RDMA_PS_TCP);
  b.rdmaResolveAddr(id, null, { host, port }, 2000);
  await expectEvent(b, channel, 'ADDR_RESOLVED');
  b.rdmaResolveRoute(id, 2000);
  await expectEvent(b, channel, 'ROUTE_RESOLVED');
  return id;
}

/** An active id resolved to host:port and equipped: ready to connect. */
export async function dial(b: Backend, channel: Channel, host: string, port: number): Promise<Side> {
  return equip(b, channel, await resolved(b, channel, host, port));
}

export interface Connection {
  client: Side;
  server: Side;
  /** The events each side got: CONNECT_REQUEST, and the two ESTABLISHED. */
  request: RdmaCmEvent;
  clientEstablished: RdmaCmEvent;
  serverEstablished: RdmaCmEvent;
}

/** The whole exchange: resolve, connect with `connectWith`, accept with `acceptWith`, ESTABLISHED on both sides. */
export async function connect(
  client: Backend, clientChannel: Channel, server: Backend, serverChannel: Channel, host: string, port: number,
  connectWith = param(), acceptWith = param(),
): Promise<Connection> {
  const c = await dial(client, clientChannel, host, port);
  client.rdmaConnect(c.id, connectWith);
  const request = await expectEvent(server, serverChannel, 'CONNECT_REQUEST');
  const s = equip(server, serverChannel, request.id);
  server.rdmaAccept(request.id, acceptWith);
  const clientEstablished = await expectEvent(client, clientChannel, 'ESTABLISHED');
  const serverEstablished = await expectEvent(server, serverChannel, 'ESTABLISHED');
  return { client: c, server: s, request, clientEstablished, serverEstablished };
}

/** Posts one signalled send-queue request: SEND (no remote), or an RDMA WRITE or READ of `length` bytes at `offset` on both sides. */
export function post(s: Side, opcode: keyof typeof IBV_WR, length: number, remote?: { addr: bigint; rkey: number }, wrId = 1n): void {
  const wr = new BigUint64Array(SEND_WR_WORDS);
  encodeSend(wr, 0, {
    wrId, opcode: IBV_WR[opcode], flags: IBV_SEND.SIGNALED, sge: { addr: s.mr.addr, length, lkey: s.mr.lkey },
    remoteAddr: remote?.addr ?? 0n, rkey: remote?.rkey ?? 0, imm: 0,
  });
  s.b.ibvPostSend(s.qp.handle, wr, 1);
}

export function postRecv(s: Side, length: number, wrId = 2n): void {
  const wr = new BigUint64Array(RECV_WR_WORDS);
  encodeRecv(wr, 0, { wrId, sge: { addr: s.mr.addr, length, lkey: s.mr.lkey } });
  s.b.ibvPostRecv(s.qp.handle, wr, 1);
}

export interface Completion {
  wrId: bigint;
  status: number;
  byteLen: number;
}

/** Polls the side's CQ until `n` completions came (or `timeoutMs` passed), letting the event loop run between polls. */
export async function completions(s: Side, n: number, timeoutMs = 2000): Promise<Completion[]> {
  const got: Completion[] = [];
  const deadline = Date.now() + timeoutMs;
  while (got.length < n) {
    if (Date.now() > deadline) throw new Error(`${got.length} of ${n} completions within ${timeoutMs} ms`);
    const k = s.b.ibvPollCq(s.cq, 8);
    for (let i = 0; i < k; i++) {
      const { wrId, status, byteLen } = decodeWc(s.wcs, i);
      got.push({ wrId, status, byteLen });
    }
    if (k === 0) await new Promise((r) => setImmediate(r));
  }
  return got;
}

/**
 * The fds open now that were not in `before`, as readlink names them. What
 * the connection manager opened stays: librdmacm keeps the context of each
 * device it used (its uverbs node and async event fd) for the life of the
 * process.
 */
export function newFds(b: Backend, before: number[]): string[] {
  return b.openFds().filter((fd) => !before.includes(fd)).map((fd) => b.readlinkFd(fd));
}

/** The fds of the connection manager's context on the NIC's rxe1 (uverbs3, after rxe0, mlx5_0 and efa_0). */
export const NIC_CONTEXT_FDS = ['/dev/infiniband/uverbs3', 'anon_inode:[infinibandevent]'];

export function fill(view: Uint8Array, seed: number): void {
  for (let i = 0; i < view.length; i++) view[i] = (i * 31 + seed) & 0xff;
}
