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
    const inbox = new Uint8Array(64);
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
    const outbox = text('over rdma_cm');
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
});
