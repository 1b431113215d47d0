// The emulator's rdma_cm on one machine, rule by rule: connections to the
// machine's own NIC address (rxe1), as `rping -s -a 10.99.0.1` and
// `rping -c -a 10.99.0.1` make on one guest of the two-guest VM, since
// rdma_cm counts 127.0.0.1 as a wildcard and cannot route over rxe on lo.
// test/emulator/network.test.ts has the rules between two machines.
import { describe, expect, it } from 'vitest';
import { createEmulator, createNetwork, controls } from '../../emulator';
import type { Process } from '../../emulator/process';
import { RDMA_CM_EVENT as E, RDMA_PS_TCP } from '../../seam/rdmacm-uapi';
import { POLLIN } from '../../seam/uapi';
import {
  completions, connect, dial, equip, expectEvent, fill, listen, newChannel, newFds, nextEvent, NIC_CONTEXT_FDS, param,
  post, postRecv, resolved, settle, teardown,
} from '../support/rdma-cm';
import { expectErrno } from '../support/errno';
import { wcWords } from '../../seam/work-requests';

const HERE = '10.99.0.1';
const machine = (manualClock = false) => createEmulator({ network: createNetwork({ manualClock }), host: { name: 'a', address: HERE } });

/** A machine with a channel and a listener on host (its NIC address unless said): where most connection tests start. */
function listening({ manualClock = false, host = HERE } = {}) {
  const b = machine(manualClock);
  const ch = newChannel(b);
  return { b, ch, port: listen(b, ch, host).port };
}

const bytes = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i + seed) & 0xff);

describe('rdma_cm on one emulated machine', () => {
  it('an event channel is a non-blocking fd of /dev/infiniband/rdma_cm, readable only while events are pending', async () => {
    const b = machine();
    const before = b.openFds();
    const ch = newChannel(b);
    expect(b.readlinkFd(ch.fd)).toBe('/dev/infiniband/rdma_cm');
    expect(b.poll(ch.fd, POLLIN)).toBe(0);
    expect(b.rdmaGetCmEvent(ch.handle)).toBeNull();
    const id = b.rdmaCreateId(ch.handle, RDMA_PS_TCP);
    b.rdmaResolveAddr(id, null, { host: HERE, port: 7471 }, 1000);
    await settle();
    expect(b.poll(ch.fd, POLLIN)).toBe(POLLIN);
    expect(b.rdmaGetCmEvent(ch.handle)).toMatchObject({ event: E.ADDR_RESOLVED, id, listenId: 0, status: 0, param: null });
    expect(b.poll(ch.fd, POLLIN)).toBe(0);
    expectErrno(() => b.rdmaDestroyEventChannel(ch.handle), 'EBUSY', 'rdma_destroy_event_channel');
    b.rdmaDestroyId(id);
    b.rdmaDestroyEventChannel(ch.handle);
    // The channel's fd is closed; the context the address resolution opened on rxe1 stays.
    expect(newFds(b, before)).toEqual(NIC_CONTEXT_FDS);
    expectErrno(() => b.rdmaCreateId(ch.handle, RDMA_PS_TCP), 'EBADF', 'rdma_create_id');
  });

  it('bind: an address no device has is EADDRNOTAVAIL; an address and port taken is EADDRINUSE; a port a wildcard holds is EADDRNOTAVAIL', () => {
    const b = machine();
    const ch = newChannel(b);
    const id = () => b.rdmaCreateId(ch.handle, RDMA_PS_TCP);
    expectErrno(() => b.rdmaBindAddr(id(), { host: '10.1.2.3', port: 0 }), 'EADDRNOTAVAIL', 'rdma_bind_addr');
    const first = id();
    b.rdmaBindAddr(first, { host: HERE, port: 7000 });
    expectErrno(() => b.rdmaBindAddr(id(), { host: HERE, port: 7000 }), 'EADDRINUSE', 'rdma_bind_addr');
    expectErrno(() => b.rdmaBindAddr(id(), { host: '0.0.0.0', port: 7000 }), 'EADDRNOTAVAIL', 'rdma_bind_addr');
    // mlx5_0's address is another address of the machine: the same port is free there.
    b.rdmaBindAddr(id(), { host: '192.168.100.1', port: 7000 });
    const any = id();
    b.rdmaBindAddr(any, { host: '0.0.0.0', port: 7001 });
    expectErrno(() => b.rdmaBindAddr(id(), { host: HERE, port: 7001 }), 'EADDRNOTAVAIL', 'rdma_bind_addr');
    // rdma_cm counts loopback addresses as wildcards: 127.0.0.1 shares its port with nobody (seen on 6.12 with rping).
    b.rdmaBindAddr(id(), { host: '127.0.0.1', port: 7003 });
    expectErrno(() => b.rdmaBindAddr(id(), { host: '127.0.0.1', port: 7003 }), 'EADDRNOTAVAIL', 'rdma_bind_addr');
    expectErrno(() => b.rdmaBindAddr(id(), { host: HERE, port: 7003 }), 'EADDRNOTAVAIL', 'rdma_bind_addr');
    expectErrno(() => b.rdmaBindAddr(first, { host: HERE, port: 7002 }), 'EINVAL', 'rdma_bind_addr');
    expect(() => b.rdmaBindAddr(id(), { host: 'localhost', port: 1 })).toThrow(TypeError);
    expectErrno(() => b.rdmaBindAddr(id(), { host: '2001:db8::1', port: 0 }), 'EADDRNOTAVAIL', 'rdma_bind_addr');
    // cma_check_linklocal: a link-local IPv6 address needs a scope id, which an RdmaAddress has no room for.
    expectErrno(() => b.rdmaBindAddr(id(), { host: 'fe80::1', port: 0 }), 'EINVAL', 'rdma_bind_addr');
    // A bind that failed on the port keeps the address's netdev in the id (rdma_translate_ip's bound_dev_if):
    // the id's next bind to an address that netdev lacks is ENODEV, where a fresh id's is EADDRNOTAVAIL (seen on 6.12).
    const failed = id();
    expectErrno(() => b.rdmaBindAddr(failed, { host: HERE, port: 7000 }), 'EADDRINUSE', 'rdma_bind_addr');
    expectErrno(() => b.rdmaBindAddr(failed, { host: '192.0.2.1', port: 0 }), 'ENODEV', 'rdma_bind_addr');
    b.rdmaBindAddr(failed, { host: HERE, port: 0 });
  });

  it('bind: port 0 takes an ephemeral port, and an address binds the id to its device, whose context handle is lent', () => {
    const b = machine();
    const ch = newChannel(b);
    const id = b.rdmaCreateId(ch.handle, RDMA_PS_TCP);
    expect(b.rdmaQueryId(id)).toEqual({ context: 0, deviceName: '', portNum: 0, local: { host: '0.0.0.0', port: 0 }, remote: { host: '0.0.0.0', port: 0 } });
    b.rdmaBindAddr(id, { host: HERE, port: 0 });
    const info = b.rdmaQueryId(id);
    expect(info).toMatchObject({ deviceName: 'rxe1', portNum: 1, local: { host: HERE } });
    expect(info.local.port).toBeGreaterThanOrEqual(32768);
    expect(info.local.port).toBeLessThanOrEqual(60999);
    expect(b.rdmaQueryId(id).context).toBe(info.context);
    expect(b.ibvQueryPort(info.context, 1).state).toBe(4);
    for (const host of ['0.0.0.0', '127.0.0.1']) {
      const wildcard = b.rdmaCreateId(ch.handle, RDMA_PS_TCP);
      b.rdmaBindAddr(wildcard, { host, port: 0 });
      expect(b.rdmaQueryId(wildcard)).toMatchObject({ context: 0, deviceName: '', local: { host } });
    }
  });

  it('listen on an unbound id binds it to the wildcard and a free port', () => {
    const b = machine();
    const ch = newChannel(b);
    const id = b.rdmaCreateId(ch.handle, RDMA_PS_TCP);
    b.rdmaListen(id, 4);
    const { local } = b.rdmaQueryId(id);
    expect(local.host).toBe('0.0.0.0');
    expect(local.port).toBeGreaterThan(0);
    expectErrno(() => b.rdmaListen(id, 4), 'EINVAL', 'rdma_listen');
  });

  it("resolve: the machine's own NIC address routes to its rxe1 (ADDR_RESOLVED, then ROUTE_RESOLVED); an address with no route is ENETUNREACH at once", async () => {
    const b = machine();
    const ch = newChannel(b);
    const id = await resolved(b, ch, HERE, 7471);
    expect(b.rdmaQueryId(id)).toMatchObject({ deviceName: 'rxe1', local: { host: HERE }, remote: { host: HERE, port: 7471 } });
    const lost = b.rdmaCreateId(ch.handle, RDMA_PS_TCP);
    expectErrno(() => b.rdmaResolveAddr(lost, null, { host: '192.0.2.1', port: 1 }, 100), 'ENETUNREACH', 'rdma_resolve_addr');
    expectErrno(() => b.rdmaResolveRoute(lost, 100), 'EINVAL', 'rdma_resolve_route');
    expectErrno(() => b.rdmaConnect(lost, param()), 'EINVAL', 'rdma_connect');
  });

  it('resolve 127.0.0.1: the first device with an active port (rxe0), the loopback source, and then no route: ENODEV (as 6.12 answers rping over rxe on lo)', async () => {
    for (const b of [machine(), createEmulator({ rdma: ['rxe'] })]) {
      const ch = newChannel(b);
      const id = b.rdmaCreateId(ch.handle, RDMA_PS_TCP);
      b.rdmaResolveAddr(id, null, { host: '127.0.0.1', port: 7471 }, 2000);
      await expectEvent(b, ch, 'ADDR_RESOLVED');
      expect(b.rdmaQueryId(id)).toMatchObject({ deviceName: 'rxe0', local: { host: '127.0.0.1' }, remote: { host: '127.0.0.1', port: 7471 } });
      expectErrno(() => b.rdmaResolveRoute(id, 2000), 'ENODEV', 'rdma_resolve_route');
      // Still resolved: the route may be asked again, and answers the same.
      expectErrno(() => b.rdmaResolveRoute(id, 2000), 'ENODEV', 'rdma_resolve_route');
    }
  });

  it('connect to a port nobody listens on: REJECTED with status 8 and the 148 bytes a REJ carries; the QP goes to ERR', async () => {
    const b = machine();
    const ch = newChannel(b);
    const side = await dial(b, ch, HERE, 9);
    b.rdmaConnect(side.id, param(bytes(8)));
    const e = await expectEvent(b, ch, 'REJECTED', 8);
    expect(e.privateData).toEqual(new Uint8Array(148));
    // librdmacm moved the QP to ERR as it returned the event: a send posted now completes flushed.
    post(side, 'SEND', 16);
    expect(await completions(side, 1)).toEqual([{ wrId: 1n, status: 5, byteLen: 0 }]);
    teardown(side);
  });

  it('connect and accept carry private data padded to what REQ (56) and REP (196) deliver, and the peer parameters as seen from each side', async () => {
    const { b, ch, port } = listening({ host: '0.0.0.0' });
    const client = await dial(b, ch, HERE, port);
    const { id } = client;
    b.rdmaConnect(id, param(bytes(56), { responderResources: 2, initiatorDepth: 3, retryCount: 5, rnrRetryCount: 6 }));
    const request = await expectEvent(b, ch, 'CONNECT_REQUEST');
    expect(request.listenId).not.toBe(0);
    expect(request.privateData).toEqual(bytes(56));
    // The requester's initiator depth is the listener's responder resources, and the other way round.
    expect(request.param).toEqual({ responderResources: 3, initiatorDepth: 2, retryCount: 5, rnrRetryCount: 6, qpNum: client.qp.qpNum });
    expect(b.rdmaQueryId(request.id)).toMatchObject({ deviceName: 'rxe1', local: { host: HERE, port }, remote: b.rdmaQueryId(id).local });
    const server = equip(b, ch, request.id);
    b.rdmaAccept(request.id, param(bytes(3, 9), { responderResources: 1, initiatorDepth: 2, rnrRetryCount: 4 }));
    const established = await expectEvent(b, ch, 'ESTABLISHED');
    expect(established.id).toBe(id);
    const welcome = new Uint8Array(196);
    welcome.set(bytes(3, 9));
    expect(established.privateData).toEqual(welcome);
    expect(established.param).toEqual({ responderResources: 2, initiatorDepth: 1, retryCount: 0, rnrRetryCount: 4, qpNum: server.qp.qpNum });
    const passive = await expectEvent(b, ch, 'ESTABLISHED');
    expect(passive.id).toBe(request.id);
    expect(passive.privateData.length).toBe(0);
    for (const s of [client, server]) b.rdmaDisconnect(s.id);
    await settle();
  });

  it('private data beyond the transport limit is EINVAL: 57 bytes on connect, 149 on reject, and 197 on accept, which rejects the request', async () => {
    const { b, ch, port } = listening();
    const { id } = await dial(b, ch, HERE, port);
    expectErrno(() => b.rdmaConnect(id, param(new Uint8Array(57))), 'EINVAL', 'rdma_connect');
    b.rdmaConnect(id, param(new Uint8Array(56)));
    const request = await expectEvent(b, ch, 'CONNECT_REQUEST');
    equip(b, ch, request.id);
    expectErrno(() => b.rdmaReject(request.id, new Uint8Array(149)), 'EINVAL', 'rdma_reject');
    expectErrno(() => b.rdmaConnect(id, param()), 'EINVAL', 'rdma_connect');
    // The kernel's rdma_accept rejects the request it could not accept (seen on 6.12).
    expectErrno(() => b.rdmaAccept(request.id, param(new Uint8Array(197))), 'EINVAL', 'rdma_accept');
    expect((await expectEvent(b, ch, 'REJECTED', 28)).privateData).toEqual(new Uint8Array(148));
    expectErrno(() => b.rdmaAccept(request.id, param()), 'EINVAL', 'rdma_accept');
    expectErrno(() => b.rdmaReject(request.id, new Uint8Array(0)), 'EINVAL', 'rdma_reject');
  });

  it('reject: the requester gets REJECTED with status 28 and the private data, padded to 148 bytes', async () => {
    const { b, ch, port } = listening();
    const client = await dial(b, ch, HERE, port);
    b.rdmaConnect(client.id, param());
    const request = await expectEvent(b, ch, 'CONNECT_REQUEST');
    b.rdmaReject(request.id, bytes(5));
    const e = await expectEvent(b, ch, 'REJECTED', 28);
    expect(e.privateData.subarray(0, 5)).toEqual(bytes(5));
    expect(e.privateData.length).toBe(148);
    expectErrno(() => b.rdmaAccept(request.id, param()), 'EINVAL', 'rdma_accept');
    b.rdmaDestroyId(request.id);
    teardown(client);
  });

  it('an active id waiting for its reply: rdma_reject withdraws the request, and so does a failed rdma_accept without a QP; neither side hears of it (seen on 6.12)', async () => {
    const { b, ch, port } = listening();
    for (const withQp of [true, false]) {
      const id = await resolved(b, ch, HERE, port);
      if (withQp) equip(b, ch, id);
      b.rdmaConnect(id, param());
      await expectEvent(b, ch, 'CONNECT_REQUEST');
      if (withQp) b.rdmaReject(id, bytes(5));
      else expectErrno(() => b.rdmaAccept(id, param()), 'EINVAL', 'rdma_accept');
      await settle();
      expect(b.rdmaGetCmEvent(ch.handle)).toBeNull();
      // The id's ib_cm id is idle: nothing is left to reject.
      expectErrno(() => b.rdmaReject(id, new Uint8Array(0)), 'EINVAL', 'rdma_reject');
    }
  });

  it('the CM moves the QPs: INIT after rdma_create_qp, the passive side RTS after rdma_accept, the active side after the reply is taken', async () => {
    const { b, ch, port } = listening({ manualClock: true });
    const client = await dial(b, ch, HERE, port);
    // rxe refuses to post sends on a QP not in RTS (the request stays queued, though: see below).
    expectErrno(() => post(client, 'SEND', 1), 'EINVAL', 'ibv_post_send');
    b.rdmaConnect(client.id, param());
    const request = await expectEvent(b, ch, 'CONNECT_REQUEST');
    const server = equip(b, ch, request.id);
    expectErrno(() => post(server, 'SEND', 1), 'EINVAL', 'ibv_post_send');
    expectErrno(() => b.rdmaAccept(request.id + 1000, param()), 'EBADF', 'rdma_accept');
    b.rdmaAccept(request.id, param());
    postRecv(client, 64);
    post(server, 'SEND', 64);
    await settle();
    // The client's QP stays in INIT until its ESTABLISHED is taken: the server's SEND reaches no QP ready to
    // receive, and goes again after the ACK timeout the CM set (4.096 µs × 2^17, about 537 ms).
    expect(b.ibvPollCq(server.cq, 1)).toBe(0);
    await expectEvent(b, ch, 'ESTABLISHED');
    await settle();
    expect(b.ibvPollCq(client.cq, 1)).toBe(0);
    controls(b).clock.advance(537);
    // The 1-byte SEND the server's doorbell refused before RTS was still queued: it goes first.
    expect((await completions(client, 1))[0]).toMatchObject({ status: 0, byteLen: 1 });
    expect((await completions(server, 1))[0]).toMatchObject({ status: 0 });
  });

  it('moves real bytes through the connected QPs on loopback: SEND, RDMA WRITE and RDMA READ', async () => {
    const { b, ch, port } = listening();
    const { client, server } = await connect(b, ch, b, ch, HERE, port);
    fill(client.buf, 3);
    postRecv(server, 1024);
    post(client, 'SEND', 1024);
    expect((await completions(server, 1))[0]).toMatchObject({ status: 0, byteLen: 1024 });
    expect(server.buf.subarray(0, 1024)).toEqual(client.buf.subarray(0, 1024));
    fill(client.buf, 7);
    post(client, 'RDMA_WRITE', 4096, { addr: server.mr.addr, rkey: server.mr.rkey });
    await completions(client, 2);
    expect(server.buf).toEqual(client.buf);
    fill(server.buf, 11);
    post(client, 'RDMA_READ', 4096, { addr: server.mr.addr, rkey: server.mr.rkey });
    expect((await completions(client, 1))[0]).toMatchObject({ status: 0, byteLen: 4096 });
    expect(client.buf).toEqual(server.buf);
  });

  it('RDMA READ needs responder resources: a side that accepted with 0 gives its QP no remote reads', async () => {
    const { b, ch, port } = listening();
    const { client, server } = await connect(
      b, ch, b, ch, HERE, port, param(undefined, { initiatorDepth: 0 }), param(undefined, { responderResources: 0 }),
    );
    post(client, 'RDMA_READ', 64, { addr: server.mr.addr, rkey: server.mr.rkey });
    // The responder's QP lacks REMOTE_READ: an invalid request (class C).
    expect((await completions(client, 1))[0].status).toBe(9);
  });

  it('disconnect: the QP goes to ERR and its receives flush; the peer gets DISCONNECTED, and the initiator once the peer answers', async () => {
    const { b, ch, port } = listening();
    const { client, server } = await connect(b, ch, b, ch, HERE, port);
    postRecv(client, 64, 41n);
    postRecv(client, 64, 42n);
    b.rdmaDisconnect(client.id);
    expect(await completions(client, 2)).toEqual([{ wrId: 41n, status: 5, byteLen: 0 }, { wrId: 42n, status: 5, byteLen: 0 }]);
    const peer = await expectEvent(b, ch, 'DISCONNECTED');
    expect(peer.id).toBe(server.id);
    await settle();
    expect(b.rdmaGetCmEvent(ch.handle)).toBeNull();
    b.rdmaDisconnect(server.id);
    expect((await expectEvent(b, ch, 'DISCONNECTED')).id).toBe(client.id);
    // Each side's timewait (cm_convert_to_ms of the path's timeout, 512 ms) ends with TIMEWAIT_EXIT.
    const exits = [await expectEvent(b, ch, 'TIMEWAIT_EXIT'), await expectEvent(b, ch, 'TIMEWAIT_EXIT')];
    expect(exits.map((e) => e.id).sort()).toEqual([client.id, server.id].sort());
    const never = b.rdmaCreateId(ch.handle, RDMA_PS_TCP);
    expectErrno(() => b.rdmaDisconnect(never), 'EINVAL', 'rdma_disconnect');
  });

  it('destroy: EBUSY while the id has a QP, which ibvDestroyQp clears; a destroyed id is EBADF, and handles are never reused', async () => {
    const b = machine();
    const ch = newChannel(b);
    const side = await dial(b, ch, HERE, 1);
    const { id } = side;
    expectErrno(() => b.rdmaCreateQp(id, side.pd, { sendCq: side.cq, recvCq: side.cq, qpType: 2, sqSigAll: false, cap: { maxSendWr: 1, maxRecvWr: 1, maxSendSge: 1, maxRecvSge: 1, maxInlineData: 0 } }), 'EINVAL', 'rdma_create_qp');
    expectErrno(() => b.rdmaDestroyId(id), 'EBUSY', 'rdma_destroy_id');
    b.ibvDestroyQp(side.qp.handle);
    b.rdmaDestroyId(id);
    expectErrno(() => b.rdmaQueryId(id), 'EBADF', 'rdma_get_local_addr');
    expect(b.rdmaCreateId(ch.handle, RDMA_PS_TCP)).toBeGreaterThan(id);
    // rdma_cm handles and verbs handles are one numbering: neither names the other's objects.
    expectErrno(() => b.ibvAllocPd(ch.handle), 'EBADF', 'ibv_alloc_pd');
    expectErrno(() => b.rdmaQueryId(side.pd), 'EBADF', 'rdma_get_local_addr');
  });

  it("the id's context is borrowed: the same handle for the same device, EBUSY on close while objects made on it live, and a PD of another context is EINVAL", async () => {
    const b = machine();
    const before = b.openFds();
    const ch = newChannel(b);
    const id = await resolved(b, ch, HERE, 1);
    const other = await resolved(b, ch, HERE, 2);
    const ctx = b.rdmaQueryId(id).context;
    expect(b.rdmaQueryId(other).context).toBe(ctx);
    const own = b.ibvOpenDevice('rxe1');
    expect(own).not.toBe(ctx);
    const foreignPd = b.ibvAllocPd(own);
    const cq = b.ibvCreateCq(ctx, 4, -1, wcWords(1));
    expectErrno(() => b.rdmaCreateQp(id, foreignPd, { sendCq: cq, recvCq: cq, qpType: 2, sqSigAll: false, cap: { maxSendWr: 1, maxRecvWr: 1, maxSendSge: 1, maxRecvSge: 1, maxInlineData: 0 } }), 'EINVAL', 'rdma_create_qp');
    expectErrno(() => b.ibvCloseDevice(ctx), 'EBUSY', 'ibv_close_device');
    b.ibvDestroyCq(cq);
    b.ibvCloseDevice(ctx);
    expectErrno(() => b.ibvQueryPort(ctx, 1), 'EBADF', 'ibv_query_port');
    // The ids still use the device: asked again, the context has a new handle.
    const again = b.rdmaQueryId(id).context;
    expect(again).toBeGreaterThan(ctx);
    b.ibvDeallocPd(foreignPd);
    b.ibvCloseDevice(own);
    b.ibvCloseDevice(again);
    b.rdmaDestroyId(id);
    b.rdmaDestroyId(other);
    b.rdmaDestroyEventChannel(ch.handle);
    expect(newFds(b, before)).toEqual(NIC_CONTEXT_FDS);
    // The next id on the device finds the same context open.
    const again2 = newChannel(b);
    const third = await resolved(b, again2, HERE, 3);
    expect(newFds(b, before).sort()).toEqual([...NIC_CONTEXT_FDS, '/dev/infiniband/rdma_cm'].sort());
    b.rdmaDestroyId(third);
    b.rdmaDestroyEventChannel(again2.handle);
  });

  it('backlog: requests beyond it are dropped unanswered, and the requester sends again until one is taken', async () => {
    const b = machine(true);
    const ch = newChannel(b);
    const { port } = listen(b, ch, HERE, 0, 1);
    const first = await resolved(b, ch, HERE, port);
    const second = await resolved(b, ch, HERE, port);
    b.rdmaConnect(first, param());
    b.rdmaConnect(second, param());
    await settle();
    const waiting = [b.rdmaGetCmEvent(ch.handle)!];
    await settle();
    expect(b.rdmaGetCmEvent(ch.handle)).toBeNull();
    // The REQ goes again after the CM timeout (2 × 256 + 4096 ms).
    controls(b).clock.advance(4608);
    const request = await expectEvent(b, ch, 'CONNECT_REQUEST');
    expect(waiting[0].event).toBe(E.CONNECT_REQUEST);
    expect(request.param!.qpNum).toBe(0);
    for (const e of [...waiting, request]) b.rdmaReject(e.id, new Uint8Array(0));
    expect((await nextEvent(b, ch)).status).toBe(28);
    expect((await nextEvent(b, ch)).status).toBe(28);
  });

  it("a peer that goes away: closing its channel fd destroys its ids, and the other side gets DISCONNECTED; nothing is left behind but the CM's context", async () => {
    const server = machine();
    const client = controls(server).spawn();
    const clientFds = client.openFds();
    const sch = newChannel(server);
    const cch = newChannel(client);
    const { port } = listen(server, sch, HERE);
    const { client: c, server: s } = await connect(client, cch, server, sch, HERE, port);
    // As its exit would: the program cannot close a library's fd (EBUSY).
    expectErrno(() => server.close(sch.fd), 'EBUSY', 'close');
    (server as Process).fdTable.close(sch.fd);
    expect((await expectEvent(client, cch, 'DISCONNECTED')).id).toBe(c.id);
    expectErrno(() => server.rdmaQueryId(s.id), 'EBADF', 'rdma_get_local_addr');
    // The channel's fd is gone: reading it is EBADF, and it can only be destroyed.
    expectErrno(() => server.rdmaGetCmEvent(sch.handle), 'EBADF', 'rdma_get_cm_event');
    server.rdmaDestroyEventChannel(sch.handle);
    teardown(c);
    client.ibvCloseDevice(c.ctx);
    client.rdmaDestroyEventChannel(cch.handle);
    expect(newFds(client, clientFds)).toEqual(NIC_CONTEXT_FDS);
  });

  it('refuses what it does not model or what is malformed, with clear errors', () => {
    const b = machine();
    const ch = newChannel(b);
    expectErrno(() => b.rdmaCreateId(ch.handle, 0x0111), 'EOPNOTSUPP', 'rdma_create_id');
    expectErrno(() => b.rdmaCreateId(ch.handle, 0x9999), 'EINVAL', 'rdma_create_id');
    const id = b.rdmaCreateId(ch.handle, RDMA_PS_TCP);
    expect(() => b.rdmaResolveAddr(id, null, { host: HERE, port: 70000 }, 10)).toThrow(TypeError);
    expect(() => b.rdmaResolveAddr(id, null, { host: HERE, port: 1 }, -1)).toThrow(TypeError);
    expect(() => b.rdmaConnect(id, { ...param(), retryCount: 256 })).toThrow(TypeError);
    expectErrno(() => b.rdmaCreateQp(id, 1, { sendCq: 1, recvCq: 1, qpType: 2, sqSigAll: false, cap: { maxSendWr: 1, maxRecvWr: 1, maxSendSge: 1, maxRecvSge: 1, maxInlineData: 0 } }), 'EINVAL', 'rdma_create_qp');
  });
});
