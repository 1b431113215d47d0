// Two emulated machines on one emulated network, as the two-guest VM has
// them (10.99.0.1 and 10.99.0.2, rxe1 on each NIC), and rdma_cm between
// them, rule by rule.
import { describe, expect, it } from 'vitest';
import { controls, createEmulator, createNetwork } from '../../emulator';
import type { Backend } from '../../seam/backend';
import { RDMA_PS_TCP } from '../../seam/rdmacm-uapi';
import { POLLIN } from '../../seam/uapi';
import {
  type Channel, completions, connect, dial, equip, expectEvent, fill, listen, newChannel, newFds, NIC_CONTEXT_FDS, param,
  post, postRecv, resolved, settle, teardown,
} from '../support/rdma-cm';
import { expectErrno } from '../support/errno';

const A = '10.99.0.1';
const B = '10.99.0.2';

function twoHosts(manualClock = false) {
  const network = createNetwork({ manualClock });
  const a = createEmulator({ network, host: { name: 'a', address: A } });
  const b = createEmulator({ network, host: { name: 'b', address: B } });
  return { network, a, b };
}

/** Two hosts with a channel each, and b listening on host (its NIC address unless said): where most tests start. */
function bListening({ manualClock = false, host = B } = {}) {
  const { network, a, b } = twoHosts(manualClock);
  const ach = newChannel(a);
  const bch = newChannel(b);
  return { network, a, b, ach, bch, port: listen(b, bch, host).port };
}

/** How long the CM waits for an answer before it sends again: 2 × 256 + 4096 ms (packet life time 16, CM response timeout 20). */
const CM_TRY_MS = 4608;

/**
 * Lets 15 of the CM's 16 sends of a message the peer never answers (a REQ, REP or DREQ) go, and sees that m's
 * channel has no event yet: CM_TRY_MS more, and the last try is over.
 */
async function allButTheLastTry(m: Backend, ch: Channel): Promise<void> {
  await settle();
  for (let i = 0; i < 15; i++) controls(m).clock.advance(CM_TRY_MS);
  await settle();
  expect(m.poll(ch.fd, POLLIN)).toBe(0);
}

const gid = (ip: string) => Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...ip.split('.').map(Number)]);

describe('two emulated machines on one network', () => {
  it('each machine keeps rxe0 on lo and gets rxe1 on its NIC, with the IPv4-mapped GID of its address', () => {
    const { a, b } = twoHosts();
    for (const [m, ip] of [[a, A], [b, B]] as const) {
      expect(m.ibvGetDeviceList().map((d) => d.name)).toEqual(['rxe0', 'mlx5_0', 'efa_0', 'rxe1']);
      const lo = m.ibvOpenDevice('rxe0');
      const nic = m.ibvOpenDevice('rxe1');
      expect(m.ibvQueryGid(lo, 1, 1)).toEqual(gid('127.0.0.1'));
      expect(m.ibvQueryGid(nic, 1, 1)).toEqual(gid(ip));
      // A 1500-byte Ethernet MTU: 1024 is the largest IB MTU that fits.
      expect(m.ibvQueryPort(nic, 1)).toMatchObject({ state: 4, activeMtu: 3, linkLayer: 2 });
    }
  });

  it('a machine joins with a unique name and a host address of the subnet, or not at all', () => {
    const network = createNetwork();
    createEmulator({ network, host: { name: 'a', address: A } });
    expect(() => createEmulator({ network, host: { name: 'a', address: B } })).toThrow(/named 'a'/);
    expect(() => createEmulator({ network, host: { name: 'c', address: A } })).toThrow(/another machine/);
    expect(() => createEmulator({ network, host: { name: 'c', address: '10.98.0.3' } })).toThrow(/subnet/);
    expect(() => createEmulator({ network, host: { name: 'c', address: '10.99.0.255' } })).toThrow(/subnet/);
    expect(() => createEmulator({ network })).toThrow(/needs host/);
    expect(() => createEmulator({ host: { name: 'c', address: B } })).toThrow(/needs a network/);
    expect(() => controls(createEmulator()).network).toThrow(/no network/);
  });

  it("the subnet routes to the NIC's rxe1, and a listener bound to 127.0.0.1 hears it: rdma_cm counts loopback addresses as wildcards", async () => {
    const { a, b, ach, bch, port } = bListening({ host: '127.0.0.1' });
    expect(b.rdmaQueryId(b.rdmaCreateId(bch.handle, RDMA_PS_TCP)).context).toBe(0);
    const id = await resolved(a, ach, B, port);
    expect(a.rdmaQueryId(id)).toMatchObject({ deviceName: 'rxe1', local: { host: A }, remote: { host: B, port } });
    const side = equip(a, ach, id);
    a.rdmaConnect(id, param());
    const request = await expectEvent(b, bch, 'CONNECT_REQUEST');
    expect(b.rdmaQueryId(request.id)).toMatchObject({ deviceName: 'rxe1', local: { host: B, port } });
    b.rdmaReject(request.id, new Uint8Array(0));
    await expectEvent(a, ach, 'REJECTED', 28);
    teardown(side);
  });

  it('a listener bound to an address of one device hears only requests to that address', async () => {
    // mlx5_0's address on b: b listens there, not on its NIC.
    const { a, ach, port } = bListening({ host: '192.168.100.1' });
    const side = await dial(a, ach, B, port);
    a.rdmaConnect(side.id, param());
    await expectEvent(a, ach, 'REJECTED', 8);
    teardown(side);
  });

  it('an address with no route is ENETUNREACH at once; one on the subnet that no machine has is ADDR_ERROR -ETIMEDOUT after the timeout', async () => {
    const { a } = twoHosts(true);
    const ch = newChannel(a);
    const off = a.rdmaCreateId(ch.handle, RDMA_PS_TCP);
    expectErrno(() => a.rdmaResolveAddr(off, null, { host: '10.98.0.2', port: 1 }, 2000), 'ENETUNREACH', 'rdma_resolve_addr');
    const id = a.rdmaCreateId(ch.handle, RDMA_PS_TCP);
    a.rdmaResolveAddr(id, null, { host: '10.99.0.9', port: 1 }, 2000);
    await settle();
    controls(a).clock.advance(1999);
    await settle();
    expect(a.poll(ch.fd, POLLIN)).toBe(0);
    controls(a).clock.advance(1);
    await expectEvent(a, ch, 'ADDR_ERROR', -110);
    // The id is bound again, and may try another address.
    a.rdmaResolveAddr(id, null, { host: B, port: 1 }, 2000);
    await expectEvent(a, ch, 'ADDR_RESOLVED');
  });

  it('a machine that exists with nobody listening on the port: REJECTED with status 8', async () => {
    const { a } = twoHosts();
    const ch = newChannel(a);
    const side = await dial(a, ch, B, 4791);
    a.rdmaConnect(side.id, param());
    expect((await expectEvent(a, ch, 'REJECTED', 8)).privateData).toEqual(new Uint8Array(148));
    teardown(side);
  });

  it('moves real bytes between the machines through connected QPs: SEND, RDMA WRITE and RDMA READ', async () => {
    const { a, b, ach, bch, port } = bListening({ host: '0.0.0.0' });
    const hello = new TextEncoder().encode('hello from a');
    const { client, server, request } = await connect(a, ach, b, bch, B, port, param(hello));
    expect(request.privateData.subarray(0, hello.length)).toEqual(hello);
    expect(b.rdmaQueryId(request.id)).toMatchObject({ deviceName: 'rxe1', local: { host: B, port }, remote: a.rdmaQueryId(client.id).local });
    fill(client.buf, 5);
    postRecv(server, 4096);
    post(client, 'SEND', 4096);
    expect((await completions(server, 1))[0]).toMatchObject({ status: 0, byteLen: 4096 });
    expect(server.buf).toEqual(client.buf);
    fill(client.buf, 9);
    post(client, 'RDMA_WRITE', 2048, { addr: server.mr.addr + 1024n, rkey: server.mr.rkey });
    await completions(client, 2);
    expect(server.buf.subarray(1024, 3072)).toEqual(client.buf.subarray(0, 2048));
    fill(server.buf, 13);
    post(server, 'RDMA_READ', 4096, { addr: client.mr.addr, rkey: client.mr.rkey });
    expect((await completions(server, 1))[0]).toMatchObject({ status: 0, byteLen: 4096 });
    expect(server.buf).toEqual(client.buf);
  });

  it("disconnect across the network: DISCONNECTED on both sides once both have disconnected, TIMEWAIT_EXIT after, and nothing left behind but the CM's contexts", async () => {
    const { a, b } = twoHosts();
    const fds = [a.openFds(), b.openFds()];
    const ach = newChannel(a);
    const bch = newChannel(b);
    const listener = listen(b, bch, B);
    const { client, server } = await connect(a, ach, b, bch, B, listener.port);
    b.rdmaDisconnect(server.id);
    await expectEvent(a, ach, 'DISCONNECTED');
    a.rdmaDisconnect(client.id);
    await expectEvent(b, bch, 'DISCONNECTED');
    await expectEvent(a, ach, 'TIMEWAIT_EXIT');
    await expectEvent(b, bch, 'TIMEWAIT_EXIT');
    for (const s of [client, server]) {
      teardown(s);
      s.b.ibvCloseDevice(s.ctx);
    }
    b.rdmaDestroyId(listener.id);
    a.rdmaDestroyEventChannel(ach.handle);
    b.rdmaDestroyEventChannel(bch.handle);
    expect([newFds(a, fds[0]), newFds(b, fds[1])]).toEqual([NIC_CONTEXT_FDS, NIC_CONTEXT_FDS]);
  });

  it('a machine unplugged mid-transfer: requests complete with retry-exceeded (12) after the retry count, and its NIC reports the port down', async () => {
    const { network, a, b, ach, bch, port } = bListening({ manualClock: true });
    const { client, server } = await connect(a, ach, b, bch, B, port, param(undefined, { retryCount: 2 }));
    post(client, 'RDMA_WRITE', 64, { addr: server.mr.addr, rkey: server.mr.rkey }, 1n);
    await completions(client, 1);
    controls(a).network.unplug('b');
    expect(b.ibvGetAsyncEvent(server.ctx)).toEqual({ eventType: 10, element: 1 });
    post(client, 'RDMA_WRITE', 64, { addr: server.mr.addr, rkey: server.mr.rkey }, 2n);
    post(client, 'RDMA_WRITE', 64, { addr: server.mr.addr, rkey: server.mr.rkey }, 3n);
    await settle();
    // retry_cnt 2: sent three times, an ACK timeout (4.096 µs × 2^17) apart.
    for (let i = 0; i < 2; i++) {
      controls(a).clock.advance(537);
      await settle();
    }
    expect(a.ibvPollCq(client.cq, 1)).toBe(0);
    controls(a).clock.advance(537);
    expect(await completions(client, 2)).toEqual([{ wrId: 2n, status: 12, byteLen: 0 }, { wrId: 3n, status: 5, byteLen: 0 }]);
    network.plug('b');
    expect(b.ibvGetAsyncEvent(server.ctx)).toEqual({ eventType: 9, element: 1 });
  });

  it('connect to a machine that was unplugged after the route was resolved: UNREACHABLE -ETIMEDOUT once the REQ was sent 16 times', async () => {
    const { network, a, b, ach, bch, port } = bListening({ manualClock: true });
    const side = await dial(a, ach, B, port);
    network.unplug('b');
    a.rdmaConnect(side.id, param());
    await allButTheLastTry(a, ach);
    expect(b.poll(bch.fd, POLLIN)).toBe(0);
    controls(a).clock.advance(CM_TRY_MS);
    expect((await expectEvent(a, ach, 'UNREACHABLE', -110)).privateData.length).toBe(0);
    teardown(side);
  });

  it('a request the program never answers: the listener asked for time (an MRA), and the requester gives up after it: UNREACHABLE -ETIMEDOUT after 65536 + 512 ms', async () => {
    const { a, b, ach, bch, port } = bListening({ manualClock: true });
    const id = await resolved(a, ach, B, port);
    a.rdmaConnect(id, param());
    await expectEvent(b, bch, 'CONNECT_REQUEST');
    await settle();
    // Past the 16 sends a REQ alone would have: the MRA stretched the wait instead.
    controls(a).clock.advance(65536 + 511);
    await settle();
    expect(a.poll(ach.fd, POLLIN)).toBe(0);
    controls(a).clock.advance(1);
    await expectEvent(a, ach, 'UNREACHABLE', -110);
  });

  it('an accepted request whose requester is cut off: the REP goes 16 times, then the listener side gets UNREACHABLE -ETIMEDOUT', async () => {
    const { network, a, b, ach, bch, port } = bListening({ manualClock: true });
    const { id } = await dial(a, ach, B, port);
    a.rdmaConnect(id, param());
    const request = await expectEvent(b, bch, 'CONNECT_REQUEST');
    equip(b, bch, request.id);
    network.unplug('a');
    b.rdmaAccept(request.id, param());
    await allButTheLastTry(b, bch);
    controls(b).clock.advance(CM_TRY_MS);
    expect((await expectEvent(b, bch, 'UNREACHABLE', -110)).id).toBe(request.id);
    expectErrno(() => b.rdmaAccept(request.id, param()), 'EINVAL', 'rdma_accept');
  });

  it('a REQ lost while the cable was out gets through when it is back, before the retries run out', async () => {
    const { network, a, b, ach, bch, port } = bListening({ manualClock: true });
    const { id } = await dial(a, ach, B, port);
    network.unplug('a');
    a.rdmaConnect(id, param());
    await settle();
    network.plug('a');
    controls(b).clock.advance(CM_TRY_MS);
    await expectEvent(b, bch, 'CONNECT_REQUEST');
  });

  it('a peer machine whose program goes away (all its fds closed): its ids and QPs are gone, the other side gets DISCONNECTED, and its writes retry in vain', async () => {
    const { a, b, ach, bch, port } = bListening({ manualClock: true });
    const { client, server } = await connect(a, ach, b, bch, B, port, param(undefined, { retryCount: 1 }));
    controls(b).kill(b);
    expect((await expectEvent(a, ach, 'DISCONNECTED')).id).toBe(client.id);
    expectErrno(() => b.rdmaQueryId(server.id), 'EBADF', 'rdma_get_local_addr');
    expectErrno(() => b.ibvPostRecv(server.qp.handle, new BigUint64Array(3), 1), 'EBADF', 'ibv_post_recv');
    post(client, 'RDMA_WRITE', 64, { addr: server.mr.addr, rkey: server.mr.rkey });
    await settle();
    for (let i = 0; i < 2; i++) {
      controls(a).clock.advance(537);
      await settle();
    }
    expect(await completions(client, 1)).toEqual([{ wrId: 1n, status: 12, byteLen: 0 }]);
  });

  it('a disconnect the unplugged peer never answers: DISCONNECTED -ETIMEDOUT once the DREQ was sent 16 times', async () => {
    const { network, a, b, ach, bch, port } = bListening({ manualClock: true });
    const { client } = await connect(a, ach, b, bch, B, port);
    network.unplug('b');
    a.rdmaDisconnect(client.id);
    await allButTheLastTry(a, ach);
    controls(a).clock.advance(CM_TRY_MS);
    await expectEvent(a, ach, 'DISCONNECTED', -110);
  });
});
