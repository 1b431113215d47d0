// rdma_cm set-up made of recorded steps, over the NIC's rxe1: a process
// connects to its own NIC address (NIC_ADDRESS), as one guest of the VM can.
// Handles, ephemeral ports and QP numbers differ between runs, so records
// name ids and QPs by their role in the scenario ('client', 'server QP') and
// ports by how they relate to others.
import { setTimeout as sleep } from 'node:timers/promises';
import type { RdmaCmEvent, RdmaConnParam, RdmaIdInfo } from '../seam/backend-rdmacm';
import type { IbvMr, IbvQp } from '../seam/backend-verbs';
import { RDMA_CM_EVENT, RDMA_PS_TCP } from '../seam/rdmacm-uapi';
import { byValue, Kebab } from '../src/enum-names';
import * as v from '../seam/verbs-uapi';
import { completions, cq, mr, pd, post, postRecv, type Send } from './rdma';
import { outcomeOf } from './record';

/** Events by the names the records hold: 'addr-resolved', … */
const EVENT_NAMES = byValue(RDMA_CM_EVENT);
import { NIC_ADDRESS } from './scenario';
import { Abort, type Trial } from './trial';

export const HERE = NIC_ADDRESS;
/** A port nobody listens on. */
export const UNUSED_PORT = 9;
/** How long a scenario waits for an event that must come (it comes in milliseconds; the VM is slow). */
const EVENT_WAIT_MS = 8000;
/** How long it waits to see that an event does not come. */
export const QUIET_MS = 300;

export interface Channel {
  handle: number;
  fd: number;
}

export const param = (privateData: Uint8Array = new Uint8Array(0), more: Partial<RdmaConnParam> = {}): RdmaConnParam =>
  ({ privateData, responderResources: 1, initiatorDepth: 1, retryCount: 7, rnrRetryCount: 7, ...more });

export const bytes = (n: number, seed = 1): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);

/** One side of a connection: its id, and a PD, CQ, QP (rdma_create_qp) and 4 KiB MR on the id's context. */
export interface Side {
  id: number;
  pd: number;
  cq: number;
  qp: IbvQp;
  buf: Uint8Array;
  mr: IbvMr;
}

/** The roles of a scenario's ids and QP numbers, by which its records name them. */
export class Cm {
  readonly #ids = new Map<number, string>();
  readonly #qps = new Map<number, string>();

  constructor(readonly t: Trial) {}

  channel(label = 'create event channel'): Channel {
    return this.t.own('channel', label, (k) => k.rdmaCreateEventChannel(), (c) => this.t.k.rdmaDestroyEventChannel(c.handle));
  }

  id(ch: Channel, role: string): number {
    const id = this.t.own('id', `create id ${role}`, (k) => k.rdmaCreateId(ch.handle, RDMA_PS_TCP), (i) => this.t.k.rdmaDestroyId(i));
    this.#ids.set(id, role);
    return id;
  }

  role(id: number): string {
    return this.#ids.get(id) ?? (id === 0 ? '0' : 'another id');
  }

  /** An event as a user reads it: its name, status, private data (length and checksum), the ids and QP numbers by role. */
  show(e: RdmaCmEvent): unknown {
    return {
      event: EVENT_NAMES.get(e.event) ?? e.event,
      id: this.role(e.id),
      listenId: this.role(e.listenId),
      status: e.status,
      privateData: e.privateData,
      param: e.param && { ...e.param, qpNum: e.param.qpNum === 0 ? 0 : this.#qps.get(e.param.qpNum) ?? 'another QP' },
    };
  }

  /**
   * Waits for the channel's next event and records it. A CONNECT_REQUEST's
   * new id gets `role` and is destroyed after the scenario. Null when none
   * came within `waitMs` (recorded as such).
   */
  async event(label: string, ch: Channel, role = 'request', waitMs = EVENT_WAIT_MS): Promise<RdmaCmEvent | null> {
    let e: RdmaCmEvent | null;
    try {
      e = await nextEvent(this.t, ch, waitMs);
    } catch (err) {
      this.t.record.push({ step: label, ...outcomeOf(err) });
      return null;
    }
    if (e && e.listenId !== 0 && !this.#ids.has(e.id)) {
      this.#ids.set(e.id, role);
      const made = e.id;
      this.t.adopt('id', made, () => this.t.k.rdmaDestroyId(made));
    }
    this.t.note(label, e ? this.show(e) : `no event within ${waitMs} ms`);
    return e;
  }

  /** The next event, which must be `name`: anything else ends the scenario. */
  async expect(label: string, ch: Channel, name: Kebab<keyof typeof RDMA_CM_EVENT>, role?: string): Promise<RdmaCmEvent> {
    const e = await this.event(label, ch, role);
    if (!e || EVENT_NAMES.get(e.event) !== name) throw new Abort(label);
    return e;
  }

  /** Records that no event came for QUIET_MS. */
  async quiet(label: string, ch: Channel): Promise<void> {
    await this.event(label, ch, undefined, QUIET_MS);
  }

  /** rdmaQueryId as recorded: the device and addresses; the context only as whether there is one; ports as `ports` relates them. */
  query(label: string, id: number, ports: (info: RdmaIdInfo) => unknown = showPorts): RdmaIdInfo | undefined {
    return this.t.step(label, (k) => k.rdmaQueryId(id), (info) => ({
      hasContext: info.context !== 0, deviceName: info.deviceName, portNum: info.portNum,
      localHost: info.local.host, remoteHost: info.remote.host, ports: ports(info),
    }));
  }

  /** A listener bound to host port 0: its id and the port it got. */
  listener(ch: Channel, host = HERE): { id: number; port: number } {
    const id = this.id(ch, 'listener');
    this.t.must(`bind listener to ${host}:0`, (k) => k.rdmaBindAddr(id, { host, port: 0 }));
    this.t.must('listen', (k) => k.rdmaListen(id, 8));
    return { id, port: this.t.k.rdmaQueryId(id).local.port };
  }

  /** An id 'first' bound to host:0 and a fresh id 'second' on its channel: the port first got, for second to try. */
  portHeld(host: string): { port: number; second: number } {
    const ch = this.channel();
    const first = this.id(ch, 'first');
    this.t.must(`bind first to ${host}:0`, (k) => k.rdmaBindAddr(first, { host, port: 0 }));
    const port = this.t.k.rdmaQueryId(first).local.port;
    return { port, second: this.id(ch, 'second') };
  }

  /** An active id with its address and route resolved to HERE:port. */
  async resolved(ch: Channel, port: number, role = 'client'): Promise<number> {
    const id = this.id(ch, role);
    this.t.must(`resolve_addr ${role}`, (k) => k.rdmaResolveAddr(id, null, { host: HERE, port }, 2000));
    await this.expect(`${role}: address resolved`, ch, 'addr-resolved');
    this.t.must(`resolve_route ${role}`, (k) => k.rdmaResolveRoute(id, 2000));
    await this.expect(`${role}: route resolved`, ch, 'route-resolved');
    return id;
  }

  /** A PD, CQ, rdma_create_qp QP and registered 4 KiB on the id's context; the QP's number gets `role` QP. */
  equip(id: number, role: string): Side {
    const t = this.t;
    const ctx = t.own('context', `${role}: the id's context`, (k) => k.rdmaQueryId(id).context, (c) => t.k.ibvCloseDevice(c), (c) => c !== 0);
    const p = pd(t, ctx);
    const c = cq(t, ctx);
    const qp = t.own('qp', `${role}: rdma_create_qp`, (k) => k.rdmaCreateQp(id, p, {
      sendCq: c, recvCq: c, qpType: v.IBV_QPT_RC, sqSigAll: false,
      cap: { maxSendWr: 8, maxRecvWr: 8, maxSendSge: 1, maxRecvSge: 1, maxInlineData: 0 },
    }), (q) => t.k.ibvDestroyQp(q.handle));
    this.#qps.set(qp.qpNum, `${role} QP`);
    const buf = new Uint8Array(4096);
    const m = mr(t, p, buf, v.IBV_ACCESS.LOCAL_WRITE | v.IBV_ACCESS.REMOTE_WRITE | v.IBV_ACCESS.REMOTE_READ, `${role}: reg_mr`);
    return { id, pd: p, cq: c, qp, buf, mr: m };
  }

  /** Two channels, a listener on the server's, and an equipped client resolved to it: all set to connect. */
  async readyToConnect(): Promise<{ cch: Channel; sch: Channel; listener: { id: number; port: number }; client: Side }> {
    const cch = this.channel('create the client channel');
    const sch = this.channel('create the server channel');
    const listener = this.listener(sch);
    const client = this.equip(await this.resolved(cch, listener.port), 'client');
    return { cch, sch, listener, client };
  }

  /** As readyToConnect, then the client connects with `conn` and the server takes the CONNECT_REQUEST (its new id named 'server'). */
  async requested(conn = param()): Promise<{ cch: Channel; sch: Channel; client: Side; request: RdmaCmEvent }> {
    const { cch, sch, client } = await this.readyToConnect();
    this.t.must('connect', (k) => k.rdmaConnect(client.id, conn));
    const request = await this.expect('server: connect request', sch, 'connect-request', 'server');
    return { cch, sch, client, request };
  }

  /** A client connected with `hello` and accepted with `welcome` by an equipped server, both ESTABLISHED. */
  async connected(hello = new Uint8Array(0), welcome = new Uint8Array(0)): Promise<{ cch: Channel; sch: Channel; client: Side; server: Side }> {
    const { cch, sch, client, request } = await this.requested(param(hello));
    const server = this.equip(request.id, 'server');
    this.t.must('accept', (k) => k.rdmaAccept(server.id, param(welcome)));
    await this.expect('client: established', cch, 'established');
    await this.expect('server: established', sch, 'established');
    return { cch, sch, client, server };
  }
}

/** A local port as recorded: 0, or that it is an ephemeral one (cma_alloc_any_port: 32768 to 60999). */
export function ephemeral(port: number): unknown {
  return port === 0 ? 0 : port >= 32768 && port <= 60999 ? 'ephemeral' : 'outside the ephemeral range';
}

function showPorts(info: RdmaIdInfo): unknown {
  return { local: ephemeral(info.local.port), remote: info.remote.port === 0 ? 0 : 'set' };
}

/** The channel's next event, waited for by polling it; null when none came within `waitMs`. */
async function nextEvent(t: Trial, ch: Channel, waitMs: number): Promise<RdmaCmEvent | null> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const e = t.k.rdmaGetCmEvent(ch.handle);
    if (e || Date.now() >= deadline) return e;
    await sleep(2);
  }
}

/** A signalled request on the side's QP, from (and for RDMA, to the same offset in) its MR. */
export function postOn(t: Trial, label: string, s: Side, opcode: Send['opcode'], length: number, wrId: bigint, remote?: Side): void {
  post(t, label, s.qp.handle, [{ opcode, id: wrId, local: { mr: s.mr, length }, remote: remote && { addr: remote.mr.addr, rkey: remote.mr.rkey } }]);
}

export function recvOn(t: Trial, label: string, s: Side, length: number, wrId: bigint): void {
  postRecv(t, label, s.qp.handle, wrId, { mr: s.mr, length });
}

export async function completed(t: Trial, label: string, s: Side, count: number): Promise<void> {
  await completions(t, label, s.cq, count, EVENT_WAIT_MS);
}
