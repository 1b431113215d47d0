// rdma_cm through the public API on one host: a process connects to its own
// NIC's address (the emulator: a machine at 10.99.0.1 on an emulated network;
// native: the guest's rxe1 in test:kernel). Two hosts: test/cluster.
import { afterEach, beforeEach, expect } from 'vitest';
import { createEmulator, createNetwork } from '../../emulator';
import type { DmaBridge } from '../../src';
import { withAdvice } from '../../src/advice';
import { DmaBridge as Bridge } from '../../src/dmabridge';
import { DEVICES, describeEachBackend, itWith, type BackendCase } from '../support/backends';
import { selfAddress } from '../support/rdmacm-addon';

const text = (s: string) => new TextEncoder().encode(s);
const untext = (b: Uint8Array) => new TextDecoder().decode(b.subarray(0, b.indexOf(0) < 0 ? b.length : b.indexOf(0)));
const TIMEOUT = 10_000;

function openNetworked(b: BackendCase): { dmb: DmaBridge; host: string } {
  if (b.name === 'native') return { dmb: new Bridge(withAdvice(b.create()), 'test on native'), host: selfAddress()?.host ?? '' };
  const backend = createEmulator({ network: createNetwork(), host: { name: 'a', address: '10.99.0.1' } });
  return { dmb: new Bridge(withAdvice(backend), 'test on an emulated host'), host: '10.99.0.1' };
}

describeEachBackend('rdma_cm on one host', (b) => {
  const it = itWith(b, DEVICES.nic);
  let dmb: DmaBridge;
  let host: string;
  beforeEach(() => ({ dmb, host } = openNetworked(b)));
  afterEach(() => dmb.close());

  it('connects to its own address: private data both ways, and a SEND the accept posted a receive for', async () => {
    using listener = dmb.listenRdma({ host, port: 0 });
    expect(listener.address).toMatchObject({ host });
    expect(listener.address.port).toBeGreaterThan(0);
    const inbox = new Uint8Array(new SharedArrayBuffer(64));
    const server = (async () => {
      using request = await listener.next({ timeout: TIMEOUT });
      // The CM delivers a connect's private data zero-padded to 56 bytes.
      expect(request.privateData.length).toBe(56);
      expect(untext(request.privateData)).toBe('hello');
      const pd = request.device.allocPd();
      const mr = pd.register(inbox, { access: ['local-write'] });
      return request.accept({ pd, privateData: text('welcome'), receives: [{ local: { mr }, id: 7n }], timeout: TIMEOUT });
    })();
    using client = await dmb.connectRdma({ host, port: listener.address.port }, { privateData: text('hello'), timeout: TIMEOUT });
    using conn = await server;
    expect(client.privateData.length).toBe(196);
    expect(untext(client.privateData)).toBe('welcome');
    expect(client.remote).toEqual({ host, port: listener.address.port });
    expect(conn.remote).toEqual(client.local);
    const outbox = new Uint8Array(new SharedArrayBuffer(12));
    outbox.set(text('over rdma_cm'));
    const mr = client.pd.register(outbox);
    client.qp.postSend([{ opcode: 'send', local: { mr }, id: 1n }]);
    expect(await client.cq.next({ timeout: TIMEOUT })).toMatchObject({ wrId: 1n, status: 'success', opcode: 'send' });
    expect(await conn.cq.next({ timeout: TIMEOUT })).toMatchObject({ wrId: 7n, status: 'success', opcode: 'recv', byteLen: outbox.length });
    expect(untext(inbox)).toBe('over rdma_cm');
    client.disconnect();
    await conn.disconnected({ timeout: TIMEOUT });
    await client.disconnected({ timeout: TIMEOUT });
  });

  it('a listener closed with a request nobody took refuses it: the connect fails with ECONNREFUSED, reason 28', async () => {
    const listener = dmb.listenRdma({ host, port: 0 });
    const connecting = dmb.connectRdma({ host, port: listener.address.port }, { timeout: TIMEOUT }).catch((e: unknown) => e);
    // Wait until the request has arrived (a connection request is queued on the listener), then close without taking it.
    const request = await listener.next({ timeout: TIMEOUT });
    request.close();
    listener.close();
    expect(await connecting).toMatchObject({ code: 'ECONNREFUSED', syscall: 'rdma_connect', rejectReason: 28 });
  });

  it('says what to do when an address is wrong: no such interface, or 127.0.0.1 (rxe on lo has no route)', async () => {
    expect(() => dmb.listenRdma({ host: '192.0.2.1', port: 0 })).toThrow(expect.objectContaining({
      code: 'EADDRNOTAVAIL', syscall: 'rdma_bind_addr', message: expect.stringMatching(/no interface has the address 192\.0\.2\.1/),
    }));
    using listener = dmb.listenRdma({ host, port: 0 });
    const e = await dmb.connectRdma({ host: '127.0.0.1', port: listener.address.port }, { timeout: TIMEOUT }).catch((err: unknown) => err);
    expect(e).toMatchObject({ code: 'ENODEV', syscall: 'rdma_resolve_route', message: expect.stringMatching(/cannot connect over rxe on lo/) });
    expect(() => dmb.listenRdma({ host: 'localhost', port: 1 })).toThrow(TypeError);
  });

  it('closing a DmaBridge closes its connections, and the peer sees them disconnect', async () => {
    using listener = dmb.listenRdma({ host, port: 0 });
    const server = listener.accept({ timeout: TIMEOUT });
    const clients = new Bridge(dmb.seam, 'a second DmaBridge of the same process');
    const client = await clients.connectRdma({ host, port: listener.address.port }, { timeout: TIMEOUT });
    using conn = await server;
    clients.close();
    expect(client.closed).toBe(true);
    await conn.disconnected({ timeout: TIMEOUT });
    expect(conn.state).toBe('disconnected');
  });

  /** Connects, expecting the listener to refuse; the error. */
  async function refused(port: number, privateData?: Uint8Array): Promise<unknown> {
    const e = await dmb.connectRdma({ host, port }, { privateData, timeout: TIMEOUT }).catch((err: unknown) => err);
    expect(e).toMatchObject({ code: 'ECONNREFUSED', syscall: 'rdma_connect', rejectReason: 28 });
    return e;
  }

  it('refuses peers its allow-list or predicate does not admit: the connect fails with ECONNREFUSED and the refusal; next() never sees them', async () => {
    using byAddress = dmb.listenRdma({ host, port: 0 }, { allow: ['192.0.2.0/24', 'fd00::1'] });
    const stop = new AbortController();
    const waiting = byAddress.next({ signal: stop.signal }).catch((err: unknown) => err);
    expect(await refused(byAddress.address.port)).toMatchObject({ refusal: 'not-allowed', message: expect.stringMatching(/not in its allow-list/) });
    stop.abort(new Error('stopped'));
    expect(await waiting).toMatchObject({ message: 'stopped' });
    expect(byAddress.connections).toBe(0);

    const seen: string[] = [];
    using byToken = dmb.listenRdma({ host, port: 0 }, {
      allow: async (r) => {
        seen.push(r.remote.host);
        return untext(r.privateData) === 'let me in';
      },
    });
    const accepted = byToken.accept({ timeout: TIMEOUT });
    await refused(byToken.address.port, text('guess'));
    using client = await dmb.connectRdma({ host, port: byToken.address.port }, { privateData: text('let me in'), timeout: TIMEOUT });
    using conn = await accepted;
    expect(untext(conn.privateData)).toBe('let me in');
    expect(seen).toEqual([host, host]);
    expect(byToken.connections).toBe(1);
    conn.close();
    expect(byToken.connections).toBe(0);
    expect(() => dmb.listenRdma({ host, port: 0 }, { allow: ['10.0.0.0/33'] })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => dmb.listenRdma({ host, port: 0 }, { maxConnections: 0 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
  });

  it('holds maxConnections: a request past it is refused until a connection closes', async () => {
    using listener = dmb.listenRdma({ host, port: 0 }, { maxConnections: 1 });
    const port = listener.address.port;
    const first = listener.accept({ timeout: TIMEOUT });
    using client1 = await dmb.connectRdma({ host, port }, { timeout: TIMEOUT });
    const conn1 = await first;
    const second = listener.accept({ timeout: TIMEOUT });
    expect(await refused(port)).toMatchObject({ refusal: 'connection-limit' });
    expect(listener.connections).toBe(1);
    conn1.close();
    using client2 = await dmb.connectRdma({ host, port }, { timeout: TIMEOUT });
    using conn2 = await second;
    expect(conn2.remote).toEqual(client2.local);
    expect(listener.connections).toBe(1);
    void client1;
  });

  it('holds maxPinnedBytes over its connections\' own PDs: a registration past it fails with ENOMEM, a request while it is spent is refused', async () => {
    using listener = dmb.listenRdma({ host, port: 0 }, { maxPinnedBytes: 8192 });
    const port = listener.address.port;
    const accepted = listener.accept({ timeout: TIMEOUT });
    using client = await dmb.connectRdma({ host, port }, { timeout: TIMEOUT });
    using conn = await accepted;
    const half = () => new Uint8Array(new SharedArrayBuffer(4096));
    const a = conn.pd.register(half());
    expect(() => conn.pd.register(new Uint8Array(new SharedArrayBuffer(8192)))).toThrow(expect.objectContaining({ code: 'ENOMEM', syscall: 'ibv_reg_mr', message: expect.stringMatching(/maxPinnedBytes/) }));
    const b2 = conn.pd.register(half());
    expect(listener.pinnedBytes).toBe(8192n);
    const next = listener.accept({ timeout: TIMEOUT });
    expect(await refused(port)).toMatchObject({ refusal: 'pinned-memory-limit' });
    a.close();
    expect(listener.pinnedBytes).toBe(4096n);
    using client2 = await dmb.connectRdma({ host, port }, { timeout: TIMEOUT });
    using conn2 = await next;
    b2.close();
    expect(listener.pinnedBytes).toBe(0n);
    void client; void client2; void conn2;
  });

  it("gives each accepted connection its own PD: one peer's rkey does not reach another connection's memory (remote access error)", async () => {
    using listener = dmb.listenRdma({ host, port: 0 });
    const port = listener.address.port;
    const memory = new Uint8Array(new SharedArrayBuffer(64));
    const server = (async () => {
      const conns = [await listener.accept({ timeout: TIMEOUT }), await listener.accept({ timeout: TIMEOUT })];
      return conns;
    })();
    using alice = await dmb.connectRdma({ host, port }, { timeout: TIMEOUT });
    using mallory = await dmb.connectRdma({ host, port }, { timeout: TIMEOUT });
    const [forAlice, forMallory] = await server;
    using _a = forAlice;
    using _m = forMallory;
    expect(forAlice.pd).not.toBe(forMallory.pd);
    const mr = forAlice.pd.register(memory, { access: ['local-write', 'remote-write'] });
    const source = (conn: typeof alice) => conn.pd.register(new Uint8Array(new SharedArrayBuffer(64)).fill(0x77));
    // Mallory learned Alice's rkey (it travels in the clear): through her own connection it reaches nothing.
    mallory.qp.postSend([{ opcode: 'write', local: { mr: source(mallory) }, remote: mr.remote(), id: 1n }]);
    expect(await mallory.cq.next({ timeout: TIMEOUT })).toMatchObject({ wrId: 1n, status: 'remote-access-error' });
    expect(memory.every((x) => x === 0)).toBe(true);
    alice.qp.postSend([{ opcode: 'write', local: { mr: source(alice) }, remote: mr.remote(), id: 2n }]);
    expect(await alice.cq.next({ timeout: TIMEOUT })).toMatchObject({ wrId: 2n, status: 'success' });
    expect(memory.every((x) => x === 0x77)).toBe(true);
  });
});
