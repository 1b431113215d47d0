// JavaScript that runs inside a call (a getter or Proxy trap on an argument, a
// setter on a polluted Object.prototype) must not reach what the call uses:
// both backends read every argument into plain data first, look the handles
// up after, and build results by definition, so a destroyed handle reads as
// EBADF and no setter runs.
import { afterEach, beforeEach, expect } from 'vitest';
import type { Backend } from '../../seam/backend';
import type { RdmaCmCalls } from '../../seam/backend-rdmacm';
import type { IbvQpInit, VerbsCalls } from '../../seam/backend-verbs';
import { RDMA_PS_TCP } from '../../seam/rdmacm-uapi';
import { DEVICES, describeEachBackend, itWith } from '../support/backends';
import { expectErrno } from '../support/errno';
import { wcWords } from '../../seam/work-requests';
import { regMr } from '../../seam/mr-words';

type Kernel = Backend & VerbsCalls & RdmaCmCalls;
const IBV_QPT_RC = 2, IBV_QPS_INIT = 1, IBV_QP_STATE = 1;
const cap = { maxSendWr: 4, maxRecvWr: 4, maxSendSge: 1, maxRecvSge: 1, maxInlineData: 0 };

describeEachBackend('JS run inside a call cannot free what the call uses', (b) => {
  const it = itWith(b, DEVICES.rxe);
  const itCm = itWith(b, DEVICES.nic);
  let k: Kernel;
  // A Map, not an array: the polluted prototype below has a setter for '0'.
  let cleanups: Map<number, () => void>;
  let ctx: number, pd: number, cq: number;
  const init = (over: Partial<IbvQpInit> = {}): IbvQpInit => ({ sendCq: cq, recvCq: cq, qpType: IBV_QPT_RC, sqSigAll: false, cap, ...over });
  /** Runs `fn` when the test ends (the last first), ignoring EBADF from what the test destroyed itself. */
  const later = (fn: () => void) => cleanups.set(cleanups.size, () => { try { fn(); } catch (e) { if ((e as { code?: string }).code !== 'EBADF') throw e; } });

  beforeEach(() => {
    k = b.create() as Kernel;
    cleanups = new Map();
  });
  afterEach(() => { for (const fn of [...cleanups.values()].reverse()) fn(); });

  function openVerbs(): void {
    ctx = k.ibvOpenDevice('rxe0');
    later(() => k.ibvCloseDevice(ctx));
    pd = k.ibvAllocPd(ctx);
    later(() => k.ibvDeallocPd(pd));
    cq = k.ibvCreateCq(ctx, 16, -1, wcWords(1));
    later(() => k.ibvDestroyCq(cq));
  }

  it('ibvCreateQp: a getter that deallocates the PD or destroys a CQ gets EBADF, not a QP on freed objects', () => {
    openVerbs();
    const doomedPd = k.ibvAllocPd(ctx);
    expectErrno(() => k.ibvCreateQp(doomedPd, init({ get sendCq() { k.ibvDeallocPd(doomedPd); return cq; } })), 'EBADF', 'ibv_create_qp');
    const doomedCq = k.ibvCreateCq(ctx, 16, -1, wcWords(1));
    const poisoned = { ...init(), recvCq: doomedCq, get qpType() { k.ibvDestroyCq(doomedCq); return IBV_QPT_RC; } };
    expectErrno(() => k.ibvCreateQp(pd, poisoned), 'EBADF', 'ibv_create_qp');
  });

  it('ibvCreateQp: a Proxy whose traps destroy the CQ gets EBADF', () => {
    openVerbs();
    const doomedCq = k.ibvCreateCq(ctx, 16, -1, wcWords(1));
    const proxy = new Proxy(init({ sendCq: doomedCq, recvCq: doomedCq }), {
      get(target, key) {
        if (key === 'cap') { try { k.ibvDestroyCq(doomedCq); } catch { /* destroyed already */ } }
        return Reflect.get(target, key);
      },
    });
    expectErrno(() => k.ibvCreateQp(pd, proxy), 'EBADF', 'ibv_create_qp');
  });

  it('ibvModifyQp: a getter that destroys the QP gets EBADF', () => {
    openVerbs();
    const qp = k.ibvCreateQp(pd, init()).handle;
    later(() => k.ibvDestroyQp(qp));
    expectErrno(() => k.ibvModifyQp(qp, { get qpState() { k.ibvDestroyQp(qp); return IBV_QPS_INIT; } }, IBV_QP_STATE), 'EBADF', 'ibv_modify_qp');
    const other = k.ibvCreateQp(pd, init()).handle;
    later(() => k.ibvDestroyQp(other));
    const ahAttr = { dlid: 0, portNum: 1, get isGlobal() { k.ibvDestroyQp(other); return true; } };
    expectErrno(() => k.ibvModifyQp(other, { ahAttr }, 0), 'EBADF', 'ibv_modify_qp');
  });

  it('builds results without running setters of a polluted Object.prototype', () => {
    const keys = ['handle', 'qpNum', 'cap', 'fd', 'maxSendWr', 'lkey', 'rkey', 'addr', 'length', 'name', 'guid', 'state', 'maxQp', '0'];
    let ran = '';  // not an array: its push would run the setter for '0'
    for (const key of keys) {
      Object.defineProperty(Object.prototype, key, { configurable: true, set() { ran += `${key} `; } });
    }
    let qp, channel, mr;
    try {
      k.ibvGetDeviceList();
      openVerbs();
      k.ibvQueryDevice(ctx);
      k.ibvQueryPort(ctx, 1);
      channel = k.ibvCreateCompChannel(ctx);
      qp = k.ibvCreateQp(pd, init());
      mr = regMr(k, pd, new Uint8Array(new SharedArrayBuffer(4096)), 1);
    } finally {
      // Before anything else runs: vitest's own checks assign too.
      for (const key of keys) delete (Object.prototype as Record<string, unknown>)[key];
    }
    later(() => k.ibvDestroyCompChannel(channel.handle));
    later(() => k.ibvDestroyQp(qp.handle));
    later(() => k.ibvDeregMr(mr.handle));
    expect(ran).toBe('');
    expect(Object.keys(qp)).toEqual(['handle', 'qpNum', 'cap']);
    expect(Object.hasOwn(channel, 'fd') && Object.hasOwn(qp.cap, 'maxSendWr') && Object.hasOwn(mr, 'lkey')).toBe(true);
  });

  function cmId(): { channel: number; id: number } {
    const channel = k.rdmaCreateEventChannel().handle;
    later(() => k.rdmaDestroyEventChannel(channel));
    const id = k.rdmaCreateId(channel, RDMA_PS_TCP);
    later(() => k.rdmaDestroyId(id));
    return { channel, id };
  }

  itCm('rdma_cm: getters that destroy the id get EBADF from connect, accept, bind, resolve and create_qp', () => {
    const param = (destroy: () => void) => ({
      privateData: new Uint8Array(4), responderResources: 1, initiatorDepth: 1, retryCount: 7,
      get rnrRetryCount() { destroy(); return 7; },
    });
    let { id } = cmId();
    expectErrno(() => k.rdmaConnect(id, param(() => k.rdmaDestroyId(id))), 'EBADF', 'rdma_connect');
    ({ id } = cmId());
    expectErrno(() => k.rdmaAccept(id, param(() => k.rdmaDestroyId(id))), 'EBADF', 'rdma_accept');
    ({ id } = cmId());
    expectErrno(() => k.rdmaBindAddr(id, { get host() { k.rdmaDestroyId(id); return '127.0.0.1'; }, port: 0 }), 'EBADF', 'rdma_bind_addr');
    ({ id } = cmId());
    expectErrno(() => k.rdmaResolveAddr(id, null, { host: '127.0.0.1', get port() { k.rdmaDestroyId(id); return 1; } }, 1000), 'EBADF', 'rdma_resolve_addr');
    openVerbs();
    ({ id } = cmId());
    expectErrno(() => k.rdmaCreateQp(id, pd, init({ get sqSigAll() { k.rdmaDestroyId(id); return false; } })), 'EBADF', 'rdma_create_qp');
  });
});
