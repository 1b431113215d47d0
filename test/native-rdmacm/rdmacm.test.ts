// The native rdma_cm calls on a real kernel: one process connects to itself
// through its RDMA device's own address (test:kernel: rxe1 on the guest's
// NIC), as server and client. Every status, length and errno asserted here
// is what Linux 6.12 answered; the emulator must answer alike.
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../../seam/backend';
import type { RdmaCmEvent, RdmaConnParam } from '../../seam/backend-rdmacm';
import { IB_CM_REJ, RDMA_CM_EVENT, RDMA_PS_TCP } from '../../seam/rdmacm-uapi';
import { IBV_ACCESS, IBV_QPT_RC, IBV_SEND, IBV_WC_OPCODE, IBV_WR } from '../../seam/verbs-uapi';
import { decodeWc, encodeRecv, encodeSend, RECV_WR_WORDS, SEND_WR_WORDS, wcWords } from '../../seam/work-requests';
import { canHideLibraries, runWithout } from '../support/hidden-library';
import { describeNeeds, inKernelVm, itNeeds } from '../support/skip';
import { addonPath, hasDefaultRoute, librdmacm, loadAddon, openFds, selfAddress } from '../support/rdmacm-addon';
import { expectErrno } from '../support/errno';
import { regMr } from '../../seam/mr-words';

const { addon, reason } = loadAddon();
const address = selfAddress();

const ACCESS_ALL = IBV_ACCESS.LOCAL_WRITE | IBV_ACCESS.REMOTE_WRITE | IBV_ACCESS.REMOTE_READ;

const cmMissing = !librdmacm ? 'librdmacm.so.1 is not installed (apt-get install librdmacm1)'
  : !existsSync('/dev/infiniband/rdma_cm') ? 'the kernel has no rdma_cm (/dev/infiniband/rdma_cm; modprobe rdma_ucm)' : null;
const withCm = itNeeds(cmMissing);
const withDevice = itNeeds(cmMissing ?? (address ? null
  : 'no RDMA device on a network interface with an IPv4 address other than lo (npm run test:kernel gives the guest rxe1 on eth0)'));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const connParam = (privateData: number[]): RdmaConnParam => ({
  privateData: Uint8Array.from(privateData), responderResources: 1, initiatorDepth: 1, retryCount: 7, rnrRetryCount: 7,
});

describeNeeds(addon ? null : reason)('native rdma_cm', () => {
  const a = addon as Backend;

  /** Waits for the next event on `channel`, skipping TIMEWAIT_EXIT (which trails a closed connection by ~1 s on its own). */
  async function nextEvent(channel: number, timeoutMs = 10000): Promise<RdmaCmEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const event = a.rdmaGetCmEvent(channel);
      if (event && event.event !== RDMA_CM_EVENT.TIMEWAIT_EXIT) return event;
      if (!event && Date.now() > deadline) throw new Error(`no rdma_cm event on channel ${channel} within ${timeoutMs} ms`);
      if (!event) await sleep(5);
    }
  }

  async function expectEvent(channel: number, name: keyof typeof RDMA_CM_EVENT, id: number, timeoutMs?: number): Promise<RdmaCmEvent> {
    const event = await nextEvent(channel, timeoutMs);
    expect({ event: event.event, id: event.id }).toEqual({ event: RDMA_CM_EVENT[name], id });
    return event;
  }

  /** An id on `channel` whose address and route lead to `port` on our own address. */
  async function resolved(channel: number, port: number): Promise<number> {
    const id = a.rdmaCreateId(channel, RDMA_PS_TCP);
    a.rdmaResolveAddr(id, null, { host: address!.host, port }, 2000);
    expect((await expectEvent(channel, 'ADDR_RESOLVED', id)).status).toBe(0);
    a.rdmaResolveRoute(id, 2000);
    expect((await expectEvent(channel, 'ROUTE_RESOLVED', id)).status).toBe(0);
    return id;
  }

  /** Where each CQ endpoint() made has its completions written. */
  const cqWords = new Map<number, BigUint64Array>();

  async function pollOne(cq: number, timeoutMs = 5000): Promise<{ wrId: bigint; status: number; opcode: number; byteLen: number }> {
    const wc = cqWords.get(cq)!;
    const deadline = Date.now() + timeoutMs;
    while (a.ibvPollCq(cq, 1) === 0) {
      if (Date.now() > deadline) throw new Error(`no completion on CQ ${cq} within ${timeoutMs} ms`);
      await sleep(2);
    }
    const { wrId, status, opcode, byteLen } = decodeWc(wc, 0);
    return { wrId, status, opcode, byteLen };
  }

  const sendWr = (wrId: number, opcode: number, addr: bigint, length: number, lkey: number, remoteAddr = 0n, rkey = 0) => {
    const w = new BigUint64Array(SEND_WR_WORDS);
    encodeSend(w, 0, { wrId: BigInt(wrId), opcode, flags: IBV_SEND.SIGNALED, sge: { addr, length, lkey }, remoteAddr, rkey, imm: 0 });
    return w;
  };

  /** One side's verbs objects on an id's context: PD, CQ, QP and a registered buffer. */
  function endpoint(id: number, size = 4096) {
    const context = a.rdmaQueryId(id).context;
    const pd = a.ibvAllocPd(context);
    const out = wcWords(1);
    const cq = a.ibvCreateCq(context, 16, -1, out);
    cqWords.set(cq, out);
    const qp = a.rdmaCreateQp(id, pd, {
      sendCq: cq, recvCq: cq, qpType: IBV_QPT_RC, sqSigAll: false,
      cap: { maxSendWr: 8, maxRecvWr: 8, maxSendSge: 1, maxRecvSge: 1, maxInlineData: 0 },
    });
    const buffer = new Uint8Array(new SharedArrayBuffer(size));
    const mr = regMr(a, pd, buffer, ACCESS_ALL);
    return {
      context, pd, cq, qp, buffer, mr,
      release() {
        a.ibvDestroyQp(qp.handle);
        a.ibvDeregMr(mr.handle);
        a.ibvDestroyCq(cq);
        a.ibvDeallocPd(pd);
      },
    };
  }

  let server = 0, client = 0, listener = 0, port = 0;
  let baseline: string[] = [];

  beforeAll(async () => {
    if (cmMissing || !address) return;
    // librdmacm opens every device's context once per process and keeps it
    // (cma.c): take the fd baseline after it has.
    const channel = a.rdmaCreateEventChannel().handle;
    const id = a.rdmaCreateId(channel, RDMA_PS_TCP);
    a.rdmaBindAddr(id, { host: address.host, port: 0 });
    a.ibvCloseDevice(a.rdmaQueryId(id).context);
    a.rdmaDestroyId(id);
    a.rdmaDestroyEventChannel(channel);
    baseline = openFds();

    server = a.rdmaCreateEventChannel().handle;
    client = a.rdmaCreateEventChannel().handle;
    listener = a.rdmaCreateId(server, RDMA_PS_TCP);
    a.rdmaBindAddr(listener, { host: address.host, port: 0 });
    a.rdmaListen(listener, 8);
    port = a.rdmaQueryId(listener).local.port;
  });

  afterAll(() => {
    if (!listener) return;
    a.rdmaDestroyId(listener);
    a.rdmaDestroyEventChannel(server);
    a.rdmaDestroyEventChannel(client);
  });

  withCm('answers EBADF, with the call as syscall, for a handle that names no live id or channel', () => {
    const channel = a.rdmaCreateEventChannel();
    const id = a.rdmaCreateId(channel.handle, RDMA_PS_TCP);
    a.rdmaDestroyId(id);
    const to = { host: '10.0.0.1', port: 1 };
    const param = connParam([]);
    const cases: Array<[string, () => unknown]> = [
      ['rdma_destroy_id', () => a.rdmaDestroyId(id)],
      ['rdma_bind_addr', () => a.rdmaBindAddr(id, to)],
      ['rdma_listen', () => a.rdmaListen(id, 1)],
      ['rdma_resolve_addr', () => a.rdmaResolveAddr(id, null, to, 100)],
      ['rdma_resolve_route', () => a.rdmaResolveRoute(id, 100)],
      ['rdma_connect', () => a.rdmaConnect(id, param)],
      ['rdma_accept', () => a.rdmaAccept(id, param)],
      ['rdma_reject', () => a.rdmaReject(id, new Uint8Array(0))],
      ['rdma_disconnect', () => a.rdmaDisconnect(id)],
      ['rdma_get_local_addr', () => a.rdmaQueryId(id)],
      ['rdma_create_qp', () => a.rdmaCreateQp(id, 1, { sendCq: 1, recvCq: 1, qpType: 2, sqSigAll: true, cap: { maxSendWr: 1, maxRecvWr: 1, maxSendSge: 1, maxRecvSge: 1, maxInlineData: 0 } })],
      // A channel's handle is no id, and an id's no channel.
      ['rdma_destroy_id', () => a.rdmaDestroyId(channel.handle)],
      ['rdma_create_id', () => a.rdmaCreateId(id, RDMA_PS_TCP)],
      ['rdma_get_cm_event', () => a.rdmaGetCmEvent(0)],
      ['rdma_destroy_event_channel', () => a.rdmaDestroyEventChannel(2 ** 40)],
    ];
    for (const [syscall, call] of cases) expectErrno(call, 'EBADF', syscall);
    a.rdmaDestroyEventChannel(channel.handle);
    expectErrno(() => a.rdmaGetCmEvent(channel.handle), 'EBADF', 'rdma_get_cm_event');
    // Nor does an rdma_cm handle name a verbs object.
    expectErrno(() => a.ibvAllocPd(id), 'EBADF', 'ibv_alloc_pd');
  });

  withCm('rejects arguments of the wrong type with a TypeError, and names no host', () => {
    const channel = a.rdmaCreateEventChannel().handle;
    const id = a.rdmaCreateId(channel, RDMA_PS_TCP);
    const loose = a as unknown as Record<string, (...args: unknown[]) => unknown>;
    expect(() => loose.rdmaBindAddr!(id, { host: 'localhost', port: 0 })).toThrow(/numeric IPv4 or IPv6/);
    expect(() => loose.rdmaBindAddr!(id, { host: '10.0.0.1', port: 65536 })).toThrow(TypeError);
    expect(() => loose.rdmaBindAddr!(id, '10.0.0.1')).toThrow(TypeError);
    expect(() => loose.rdmaResolveAddr!(id, undefined, { host: '10.0.0.1', port: 1 }, 100)).toThrow(TypeError);
    expect(() => loose.rdmaReject!(id, [1, 2])).toThrow(TypeError);
    expect(() => loose.rdmaConnect!(id, { ...connParam([]), initiatorDepth: 256 })).toThrow(TypeError);
    expect(() => loose.rdmaCreateId!(channel, '0x106')).toThrow(TypeError);
    // Longer than rdma_conn_param's one-byte length: EINVAL, as the CM answers past its own limits.
    expectErrno(() => a.rdmaReject(id, new Uint8Array(256)), 'EINVAL', 'rdma_reject');
    expectErrno(() => a.rdmaCreateId(channel, 0x999), 'EINVAL', 'rdma_create_id');
    a.rdmaDestroyId(id);
    a.rdmaDestroyEventChannel(channel);
  });

  withCm('reports an unbound id as bound to nothing', () => {
    const channel = a.rdmaCreateEventChannel().handle;
    const id = a.rdmaCreateId(channel, RDMA_PS_TCP);
    expect(a.rdmaQueryId(id)).toEqual({
      context: 0, deviceName: '', portNum: 0, local: { host: '0.0.0.0', port: 0 }, remote: { host: '0.0.0.0', port: 0 },
    });
    expectErrno(() => a.rdmaResolveRoute(id, 100), 'EINVAL', 'rdma_resolve_route');
    expectErrno(() => a.rdmaConnect(id, connParam([])), 'EINVAL', 'rdma_connect');
    a.rdmaDestroyId(id);
    a.rdmaDestroyEventChannel(channel);
  });

  withDevice('listens on an ephemeral port, connects with private data both ways, and moves SEND and RDMA WRITE', async () => {
    const bound = a.rdmaQueryId(listener);
    expect(bound.local.host).toBe(address!.host);
    expect(port).toBeGreaterThan(0);
    expect(bound.deviceName).not.toBe('');
    expect(bound.portNum).toBe(1);

    const active = await resolved(client, port);
    const activeInfo = a.rdmaQueryId(active);
    expect(activeInfo.remote).toEqual({ host: address!.host, port });
    expect(activeInfo.local.host).toBe(address!.host);
    expect(activeInfo.deviceName).toBe(bound.deviceName);
    // One device, one context: librdmacm shares it between its ids.
    expect(activeInfo.context).toBe(bound.context);
    const c = endpoint(active);
    a.rdmaConnect(active, connParam([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));

    const request = await nextEvent(server);
    expect(request.event).toBe(RDMA_CM_EVENT.CONNECT_REQUEST);
    expect(request.listenId).toBe(listener);
    expect(request.id).not.toBe(listener);
    expect(request.status).toBe(0);
    // The REQ's private data arrives padded to its 56 bytes.
    expect(Array.from(request.privateData)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, ...new Array(46).fill(0)]);
    expect(request.param).toEqual({ responderResources: 1, initiatorDepth: 1, retryCount: 7, rnrRetryCount: 7, qpNum: c.qp.qpNum });
    const passive = request.id;
    expect(a.rdmaQueryId(passive)).toMatchObject({
      context: bound.context, deviceName: bound.deviceName, portNum: 1, local: { host: address!.host, port }, remote: activeInfo.local,
    });

    const s = endpoint(passive);
    const recv = new BigUint64Array(RECV_WR_WORDS);
    encodeRecv(recv, 0, { wrId: 7n, sge: { addr: s.mr.addr, length: 64, lkey: s.mr.lkey } });
    a.ibvPostRecv(s.qp.handle, recv, 1);
    a.rdmaAccept(passive, connParam([0xaa, 0xbb, 0xcc]));

    const established = await expectEvent(client, 'ESTABLISHED', active);
    expect(established.status).toBe(0);
    // The REP's private data arrives padded to its 196 bytes.
    expect(Array.from(established.privateData)).toEqual([0xaa, 0xbb, 0xcc, ...new Array(193).fill(0)]);
    expect(established.param).toMatchObject({ qpNum: s.qp.qpNum, rnrRetryCount: 7 });
    const passiveEstablished = await expectEvent(server, 'ESTABLISHED', passive);
    expect(passiveEstablished.privateData.length).toBe(0);

    // The id keeps its QP, its channel its ids, the context its objects.
    expectErrno(() => a.rdmaDestroyId(active), 'EBUSY', 'rdma_destroy_id');
    expectErrno(() => a.rdmaDestroyEventChannel(client), 'EBUSY', 'rdma_destroy_event_channel');
    expectErrno(() => a.ibvCloseDevice(c.context), 'EBUSY', 'ibv_close_device');
    expectErrno(() => a.rdmaCreateQp(active, c.pd, {
      sendCq: c.cq, recvCq: c.cq, qpType: IBV_QPT_RC, sqSigAll: false,
      cap: { maxSendWr: 1, maxRecvWr: 1, maxSendSge: 1, maxRecvSge: 1, maxInlineData: 0 },
    }), 'EINVAL', 'rdma_create_qp');

    // SEND: the client's first 64 bytes into the server's posted receive.
    c.buffer.set(new TextEncoder().encode('sent over an rdma_cm connection'));
    a.ibvPostSend(c.qp.handle, sendWr(1, IBV_WR.SEND, c.mr.addr, 64, c.mr.lkey), 1);
    expect(await pollOne(c.cq)).toMatchObject({ wrId: 1n, status: 0, opcode: IBV_WC_OPCODE.SEND });
    expect(await pollOne(s.cq)).toMatchObject({ wrId: 7n, status: 0, opcode: IBV_WC_OPCODE.RECV, byteLen: 64 });
    expect(Array.from(s.buffer.subarray(0, 64))).toEqual(Array.from(c.buffer.subarray(0, 64)));

    // RDMA WRITE: 4 KiB of the client's buffer into the server's, at its address and rkey.
    for (let i = 0; i < c.buffer.length; i++) c.buffer[i] = (i * 7 + 3) & 0xff;
    a.ibvPostSend(c.qp.handle, sendWr(2, IBV_WR.RDMA_WRITE, c.mr.addr, 4096, c.mr.lkey, s.mr.addr, s.mr.rkey), 1);
    expect(await pollOne(c.cq)).toMatchObject({ wrId: 2n, status: 0, opcode: IBV_WC_OPCODE.RDMA_WRITE });
    expect(s.buffer).toEqual(c.buffer);

    // The active side disconnects: the passive side hears at once, and the
    // active side once the passive one answers with its own disconnect.
    a.rdmaDisconnect(active);
    expect((await expectEvent(server, 'DISCONNECTED', passive)).status).toBe(0);
    a.rdmaDisconnect(passive);
    expect((await expectEvent(client, 'DISCONNECTED', active)).status).toBe(0);

    c.release();
    s.release();
    a.rdmaDestroyId(active);
    a.rdmaDestroyId(passive);
    // The borrowed context gives up its handle and nothing else.
    a.ibvCloseDevice(bound.context);
    expectErrno(() => a.ibvAllocPd(bound.context), 'EBADF', 'ibv_alloc_pd');
    const again = a.rdmaQueryId(listener).context;
    expect(again).toBeGreaterThan(bound.context);
    const pd = a.ibvAllocPd(again);
    a.ibvDeallocPd(pd);
    a.ibvCloseDevice(again);
    await sleep(1500);  // the TIMEWAIT_EXITs
    while (a.rdmaGetCmEvent(client) || a.rdmaGetCmEvent(server));
  });

  withDevice('rejects with private data: REJECTED status 28 on the active side', async () => {
    const active = await resolved(client, port);
    a.rdmaConnect(active, connParam([9]));
    const request = await nextEvent(server);
    expect(request.event).toBe(RDMA_CM_EVENT.CONNECT_REQUEST);
    // Over the REJ's 148 bytes: refused before anything is sent.
    expectErrno(() => a.rdmaReject(request.id, new Uint8Array(149)), 'EINVAL', 'rdma_reject');
    a.rdmaReject(request.id, Uint8Array.from([0xde, 0xad]));
    const rejected = await expectEvent(client, 'REJECTED', active);
    expect(rejected.status).toBe(IB_CM_REJ.CONSUMER_DEFINED);
    expect(Array.from(rejected.privateData)).toEqual([0xde, 0xad, ...new Array(146).fill(0)]);
    expect(rejected.param).toBeNull();
    a.rdmaDestroyId(request.id);
    a.rdmaDestroyId(active);
  });

  withDevice('sends the private data it read, though a later getter detached its buffer', async () => {
    const active = await resolved(client, port);
    const privateData = Uint8Array.from([1, 2, 3, 4]);
    const param = {
      ...connParam([]), privateData,
      // Read after privateData: the buffer goes (transferred and dropped), and
      // its memory with it.
      get rnrRetryCount() { structuredClone(privateData.buffer, { transfer: [privateData.buffer] }); return 7; },
    };
    a.rdmaConnect(active, param);
    expect(privateData.byteLength).toBe(0);
    const request = await nextEvent(server);
    expect(request.event).toBe(RDMA_CM_EVENT.CONNECT_REQUEST);
    expect(Array.from(request.privateData.subarray(0, 4))).toEqual([1, 2, 3, 4]);
    a.rdmaReject(request.id, new Uint8Array(0));
    await expectEvent(client, 'REJECTED', active);
    a.rdmaDestroyId(request.id);
    a.rdmaDestroyId(active);
  });

  withDevice('refuses private data over the REQ\'s 56 bytes, and the REP\'s 196, with EINVAL', async () => {
    const active = await resolved(client, port);
    expectErrno(() => a.rdmaConnect(active, connParam(new Array(57).fill(1))), 'EINVAL', 'rdma_connect');
    a.rdmaConnect(active, connParam(new Array(56).fill(1)));
    const request = await nextEvent(server);
    expect(Array.from(request.privateData)).toEqual(new Array(56).fill(1));
    // A failed accept rejects the connection itself (kernel cma.c rdma_accept).
    expectErrno(() => a.rdmaAccept(request.id, connParam(new Array(197).fill(2))), 'EINVAL', 'rdma_accept');
    const rejected = await expectEvent(client, 'REJECTED', active);
    expect(rejected.status).toBe(IB_CM_REJ.CONSUMER_DEFINED);
    expect(Array.from(rejected.privateData)).toEqual(new Array(148).fill(0));
    a.rdmaDestroyId(request.id);
    a.rdmaDestroyId(active);
  });

  withDevice('connecting to a port nobody listens on gives REJECTED status 8', async () => {
    const probe = a.rdmaCreateId(client, RDMA_PS_TCP);
    a.rdmaBindAddr(probe, { host: address!.host, port: 0 });
    const free = a.rdmaQueryId(probe).local.port;
    a.rdmaDestroyId(probe);
    const active = await resolved(client, free);
    a.rdmaConnect(active, connParam([1]));
    const rejected = await expectEvent(client, 'REJECTED', active);
    expect(rejected.status).toBe(IB_CM_REJ.INVALID_SERVICE_ID);
    expect(rejected.privateData.length).toBe(148);
    a.rdmaDestroyId(active);
  });

  withDevice('a peer that destroys its id without disconnecting gives DISCONNECTED on the other side', async () => {
    const active = await resolved(client, port);
    const c = endpoint(active);
    a.rdmaConnect(active, connParam([]));
    const request = await nextEvent(server);
    const s = endpoint(request.id);
    a.rdmaAccept(request.id, connParam([]));
    await expectEvent(client, 'ESTABLISHED', active);
    await expectEvent(server, 'ESTABLISHED', request.id);
    c.release();
    a.rdmaDestroyId(active);
    expect((await expectEvent(server, 'DISCONNECTED', request.id)).status).toBe(0);
    s.release();
    a.rdmaDestroyId(request.id);
    a.ibvCloseDevice(c.context);
  });

  withDevice('resolving an address on the subnet that nobody answers gives ADDR_ERROR -110 (ETIMEDOUT)', async () => {
    // The subnet's last host address, unless it is ours.
    const [net, bits] = address!.cidr.split('/') as [string, string];
    const toInt = (ip: string) => ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
    const size = 2 ** (32 - Number(bits));
    const last = Math.floor(toInt(net) / size) * size + size - 2;
    const target = last === toInt(address!.host) ? last - 1 : last;
    const host = [24, 16, 8, 0].map((shift) => Math.floor(target / 2 ** shift) % 256).join('.');
    const id = a.rdmaCreateId(client, RDMA_PS_TCP);
    a.rdmaResolveAddr(id, null, { host, port: 1 }, 1000);
    const error = await expectEvent(client, 'ADDR_ERROR', id, 15000);
    expect(error.status).toBe(-110);
    a.rdmaDestroyId(id);
  }, 20000);

  (hasDefaultRoute() ? itNeeds(inKernelVm ? 'the guest has a default route' : 'this machine has a default route') : withCm)(
    'resolving an address with no route fails at once with ENETUNREACH', () => {
      const channel = a.rdmaCreateEventChannel().handle;
      const id = a.rdmaCreateId(channel, RDMA_PS_TCP);
      expectErrno(() => a.rdmaResolveAddr(id, null, { host: '192.0.2.1', port: 1 }, 1000), 'ENETUNREACH', 'rdma_resolve_addr');
      expect(a.rdmaGetCmEvent(channel)).toBeNull();
      a.rdmaDestroyId(id);
      a.rdmaDestroyEventChannel(channel);
    });

  withDevice('binding answers EADDRINUSE for a port taken, EADDRNOTAVAIL for an address no interface has', () => {
    // Each on an id of its own: after a failed bind the kernel's answers for
    // the same id differ (a bind to 192.0.2.1 then gave ENODEV).
    for (const [host, bindPort, code] of [[address!.host, port, 'EADDRINUSE'], ['192.0.2.1', 0, 'EADDRNOTAVAIL']] as const) {
      const id = a.rdmaCreateId(client, RDMA_PS_TCP);
      expectErrno(() => a.rdmaBindAddr(id, { host, port: bindPort }), code, 'rdma_bind_addr');
      a.rdmaDestroyId(id);
    }
  });

  withDevice('leaves no fd open once everything is destroyed', () => {
    // Everything above has been destroyed; the listener and its channels
    // remain until afterAll, so count them in.
    const now = openFds();
    const channelFd = expect.stringMatching(/ \/dev\/infiniband\/rdma_cm$/);
    expect(now.filter((fd) => !baseline.includes(fd))).toEqual([channelFd, channelFd]);
    expect(baseline.filter((fd) => !now.includes(fd))).toEqual([]);
  });

  withDevice('destroys what an environment leaves (QPs, ids, channels) when it exits', async () => {
    // A worker thread is an environment of its own: it connects to our
    // listener and exits holding everything.
    const worker = new Worker(`
      const a = require(${JSON.stringify(addonPath)});
      const { parentPort } = require('node:worker_threads');
      const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
      async function next(ch) { for (;;) { const e = a.rdmaGetCmEvent(ch); if (e) return e; await sleep(5); } }
      (async () => {
        const ch = a.rdmaCreateEventChannel().handle;
        const id = a.rdmaCreateId(ch, ${RDMA_PS_TCP});
        a.rdmaResolveAddr(id, null, { host: ${JSON.stringify(address?.host)}, port: ${port} }, 2000);
        await next(ch);
        a.rdmaResolveRoute(id, 2000);
        await next(ch);
        const ctx = a.rdmaQueryId(id).context;
        const pd = a.ibvAllocPd(ctx), cq = a.ibvCreateCq(ctx, 4, -1, new BigUint64Array(new SharedArrayBuffer(40)));
        a.ibvRegMr(pd, new Uint8Array(new SharedArrayBuffer(4096)), 7, new BigUint64Array(3));
        const qp = a.rdmaCreateQp(id, pd, { sendCq: cq, recvCq: cq, qpType: 2, sqSigAll: false,
          cap: { maxSendWr: 1, maxRecvWr: 1, maxSendSge: 1, maxRecvSge: 1, maxInlineData: 0 } });
        a.rdmaConnect(id, { privateData: new Uint8Array(0), responderResources: 1, initiatorDepth: 1, retryCount: 7, rnrRetryCount: 7 });
        const e = await next(ch);
        parentPort.postMessage({ event: e.event, qpNum: qp.qpNum });
      })();`, { eval: true });
    const request = await nextEvent(server);
    expect(request.event).toBe(RDMA_CM_EVENT.CONNECT_REQUEST);
    const s = endpoint(request.id);
    a.rdmaAccept(request.id, connParam([]));
    const reported = await new Promise<{ event: number; qpNum: number }>((resolve, reject) => worker.once('message', resolve).once('error', reject));
    expect(reported).toEqual({ event: RDMA_CM_EVENT.ESTABLISHED, qpNum: request.param!.qpNum });
    await expectEvent(server, 'ESTABLISHED', request.id);
    await worker.terminate();
    // Its cleanup destroyed its id, which sends a DREQ.
    expect((await expectEvent(server, 'DISCONNECTED', request.id)).status).toBe(0);
    s.release();
    a.rdmaDestroyId(request.id);
    a.ibvCloseDevice(s.context);
    // Left open: our own two channels, nothing of the worker's.
    const channelFd = expect.stringMatching(/ \/dev\/infiniband\/rdma_cm$/);
    expect(openFds().filter((fd) => !baseline.includes(fd))).toEqual([channelFd, channelFd]);
  });

  // With librdmacm.so.1 hidden from a child, the addon still loads and every
  // rdma_cm call says what to install.
  (librdmacm && canHideLibraries ? it : itNeeds(inKernelVm ? 'cannot unshare a mount namespace' : 'needs root and unshare -m'))(
    'throws ENOSYS from dlopen, naming the package, where librdmacm is missing', () => {
      const script = `
        const a = require(${JSON.stringify(addonPath)});
        const out = {};
        for (const [name, call] of [['channel', () => a.rdmaCreateEventChannel()], ['id', () => a.rdmaCreateId(1, 0x106)],
                                    ['event', () => a.rdmaGetCmEvent(1)], ['qp', () => a.rdmaCreateQp(1, 1, {})]]) {
          try { call(); out[name] = 'returned'; } catch (e) { out[name] = { code: e.code, errno: e.errno, syscall: e.syscall, message: e.message }; }
        }
        out.verbs = Array.isArray(a.ibvGetDeviceList());
        console.log(JSON.stringify(out));`;
      const child = runWithout(librdmacm!, script);
      expect(child.stderr).toBe('');
      const enosys = {
        code: 'ENOSYS', errno: -38, syscall: 'dlopen', message: 'librdmacm.so.1 not found: install librdmacm (Debian: librdmacm1)',
      };
      expect(JSON.parse(child.stdout)).toEqual({ channel: enosys, id: enosys, event: enosys, qp: enosys, verbs: true });
    });
});
