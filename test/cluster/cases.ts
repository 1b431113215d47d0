// What two hosts do together, written once: each case has a server half (host
// A) and a client half (host B) that meet at named points. test/cluster runs
// them between two real kernels, test/api/rdma-cm-hosts.test.ts between two
// emulated hosts in one process.
import { expect } from 'vitest';
import type { DmaBridge } from '../../src';
import { decodeRemoteBuffer, encodeRemoteBuffer } from '../../src';
import type { Rendezvous } from './rendezvous';

export interface HostContext {
  dmb: DmaBridge;
  /** This host's address on the link between the two, and the peer's. */
  self: string;
  peer: string;
  meet: Rendezvous;
  /** Bytes of memory this process has pinned (VmPin); 0 when all is released. */
  pinned(): number;
  /**
   * Starts, in another process on this host, a server that accepts one
   * connection on `port` and offers a 1 MiB buffer for writing; `vanish`
   * ends that process abruptly, as a crash would.
   */
  startDoomedServer(port: number): Promise<{ vanish(): Promise<void> }>;
  /**
   * Starts, in another process on this host, a client that connects to the
   * peer's `port` and RDMA-writes into the buffer the accept offered, without
   * end; `vanish` waits for its first write, then ends it abruptly.
   */
  startDoomedClient(port: number): { vanish(): Promise<void> };
}

export interface TwoHostCase {
  name: string;
  server(ctx: HostContext): Promise<void>;
  client(ctx: HostContext): Promise<void>;
}

const MiB = 1 << 20;
const PAGE = 4096;
/** The path MTU between the two guests' rxe1 (1500-byte NICs). */
const PACKET = 1024;
const ODP_PAGES = 4;
const pageIndexes = [0, 1, 2, 3];
const TIMEOUT = 20_000;
const text = (s: string) => new TextEncoder().encode(s);
const pattern = (i: number) => (i * 7 + 3) & 0xff;

export const cases: TwoHostCase[] = [
  {
    name: 'RDMA-writes and RDMA-reads a udmabuf whose location the server sent with its accept; both check through their dma-buf views',
    async server({ dmb, self, meet, pinned }) {
      using listener = dmb.listenRdma({ host: self, port: 7471 });
      const client = await meet.sync('listening');
      using request = await listener.next({ timeout: TIMEOUT });
      expect(request.remote.host).toBe(client);
      using pd = request.device.allocPd();
      using buf = dmb.createUdmabuf(MiB, { name: 'server' });
      using map = buf.map('rw');
      map.view.fill(0x5a);
      const mr = pd.registerDmaBuf(buf, { fallback: 'memfd-pages', access: ['local-write', 'remote-read', 'remote-write'] });
      using conn = await request.accept({ pd, privateData: encodeRemoteBuffer(mr.remote()), timeout: TIMEOUT });
      expect(conn.qp.state).toBe('rts');
      await meet.sync('written');
      let ok: boolean;
      {
        using _ = map.begin('read');
        const v = map.view;
        ok = v.subarray(0, MiB / 2).every((b, i) => b === pattern(i)) && v.subarray(MiB / 2).every((b) => b === 0x5a);
      }
      await meet.sync('verified', ok);
      expect(ok).toBe(true);
      await conn.disconnected({ timeout: TIMEOUT });
      expect(conn.state).toBe('disconnected');
      conn.close();
      mr.close();
      expect(pinned()).toBe(0);
    },
    async client({ dmb, self, peer, meet, pinned }) {
      await meet.sync('listening', self);
      using route = await dmb.resolveRdma({ host: peer, port: 7471 }, { timeout: TIMEOUT });
      using pd = route.device.allocPd();
      using buf = dmb.createUdmabuf(MiB, { name: 'client' });
      using map = buf.map('rw');
      const mr = pd.registerDmaBuf(buf, { fallback: 'memfd-pages', access: ['local-write'] });
      using conn = await route.connect({ pd, timeout: TIMEOUT });
      const remote = decodeRemoteBuffer(conn.privateData);
      expect(remote.length).toBe(BigInt(MiB));
      // Read the server's second half into ours, then write our first half into its.
      conn.qp.postSend([{ opcode: 'read', local: { mr, offset: MiB / 2, length: MiB / 2 }, remote: { ...remote, offset: MiB / 2 }, id: 1n }]);
      expect(await conn.cq.next({ timeout: TIMEOUT })).toMatchObject({ wrId: 1n, status: 'success', opcode: 'rdma-read', byteLen: MiB / 2 });
      {
        using _ = map.begin('rw');
        expect(map.view.subarray(MiB / 2).every((b) => b === 0x5a)).toBe(true);
        for (let i = 0; i < MiB / 2; i++) map.view[i] = pattern(i);
      }
      conn.qp.postSend([{ opcode: 'write', local: { mr, length: MiB / 2 }, remote, id: 2n }]);
      expect(await conn.cq.next({ timeout: TIMEOUT })).toMatchObject({ wrId: 2n, status: 'success', opcode: 'rdma-write' });
      await meet.sync('written');
      expect(await meet.sync('verified')).toBe(true);
      conn.disconnect();
      await conn.disconnected({ timeout: TIMEOUT });
      conn.close();
      mr.close();
      expect(pinned()).toBe(0);
    },
  },
  {
    name: 'a rejected connection fails with ECONNREFUSED, reason 28 and the private data of the rejection',
    async server({ dmb, self, meet }) {
      using listener = dmb.listenRdma({ host: self, port: 7472 });
      await meet.sync('listening');
      const request = await listener.next({ timeout: TIMEOUT });
      expect(new TextDecoder().decode(request.privateData.subarray(0, 5))).toBe('hello');
      request.reject(text('busy'));
      expect(request.closed).toBe(true);
      await meet.sync('done');
    },
    async client({ dmb, peer, meet, pinned }) {
      await meet.sync('listening');
      const e = await dmb.connectRdma({ host: peer, port: 7472 }, { privateData: text('hello'), timeout: TIMEOUT }).catch((err: unknown) => err);
      expect(e).toMatchObject({ code: 'ECONNREFUSED', syscall: 'rdma_connect', rejectReason: 28 });
      expect(new TextDecoder().decode((e as { privateData: Uint8Array }).privateData.subarray(0, 4))).toBe('busy');
      await meet.sync('done');
      expect(pinned()).toBe(0);
    },
  },
  {
    name: 'a connection to a port nobody listens on fails with ECONNREFUSED, reason 8',
    async server({ meet }) {
      await meet.sync('done');
    },
    async client({ dmb, peer, meet }) {
      const e = await dmb.connectRdma({ host: peer, port: 7479 }, { timeout: TIMEOUT }).catch((err: unknown) => err);
      expect(e).toMatchObject({ code: 'ECONNREFUSED', syscall: 'rdma_connect', rejectReason: 8 });
      expect((e as Error).message).toMatch(/nobody listens on/);
      await meet.sync('done');
    },
  },
  {
    name: 'a server that dies mid-transfer disconnects the client: its writes end in errors, and nothing stays pinned',
    async server({ meet, startDoomedServer }) {
      const doomed = await startDoomedServer(7473);
      await meet.sync('listening');
      await meet.sync('writing');
      await doomed.vanish();
      await meet.sync('done');
    },
    async client({ dmb, peer, meet, pinned }) {
      await meet.sync('listening');
      using route = await dmb.resolveRdma({ host: peer, port: 7473 }, { timeout: TIMEOUT });
      using pd = route.device.allocPd();
      using buf = dmb.createUdmabuf(MiB);
      const mr = pd.registerDmaBuf(buf, { fallback: 'memfd-pages' });
      using conn = await route.connect({ pd, timeout: TIMEOUT });
      const remote = decodeRemoteBuffer(conn.privateData);
      const write = (id: bigint) => conn.qp.postSend([{ opcode: 'write', local: { mr, length: 64 * 1024 }, remote, id }]);
      write(0n);
      expect(await conn.cq.next({ timeout: TIMEOUT })).toMatchObject({ status: 'success' });
      await meet.sync('writing');
      // Keep writing until the connection is gone; every request then completes in error.
      let failed: { status: string } | undefined;
      for (let id = 1n; !failed; id++) {
        if (conn.state === 'connected') write(id);
        const wc = await conn.cq.next({ timeout: TIMEOUT });
        if (wc.status !== 'success') failed = wc;
      }
      expect(['wr-flush-error', 'retry-exceeded-error', 'remote-access-error']).toContain(failed.status);
      await conn.disconnected({ timeout: TIMEOUT });
      await meet.sync('done');
      conn.close();
      mr.close();
      expect(pinned()).toBe(0);
    },
  },
  {
    name: 'a client that dies mid-transfer disconnects the server, which releases what it pinned for it',
    async server({ dmb, self, meet, pinned }) {
      using listener = dmb.listenRdma({ host: self, port: 7474 });
      await meet.sync('listening');
      using request = await listener.next({ timeout: TIMEOUT });
      using pd = request.device.allocPd();
      using buf = dmb.createUdmabuf(MiB);
      const mr = pd.registerDmaBuf(buf, { fallback: 'memfd-pages', access: ['local-write', 'remote-write'] });
      using conn = await request.accept({ pd, privateData: encodeRemoteBuffer(mr.remote()), receives: [{ id: 1n }], timeout: TIMEOUT });
      await meet.sync('accepted');
      await conn.disconnected({ timeout: TIMEOUT });
      // The receive it had posted ends flushed: nothing waits for a peer that is gone.
      expect(await conn.cq.next({ timeout: TIMEOUT })).toMatchObject({ wrId: 1n, status: 'wr-flush-error' });
      conn.close();
      mr.close();
      expect(pinned()).toBe(0);
      await meet.sync('done');
    },
    async client({ meet, startDoomedClient }) {
      await meet.sync('listening');
      const doomed = startDoomedClient(7474);
      await meet.sync('accepted');
      await doomed.vanish();
      await meet.sync('done');
    },
  },
  {
    name: 'a listener refuses an address it does not allow, and holds its connection cap until a connection closes',
    async server({ dmb, self, peer, meet }) {
      using strict = dmb.listenRdma({ host: self, port: 7475 }, { allow: ['192.0.2.1'] });
      using capped = dmb.listenRdma({ host: self, port: 7476 }, { allow: [peer], maxConnections: 1 });
      const stop = new AbortController();
      const refusing = strict.next({ signal: stop.signal }).catch((err: unknown) => err);
      const first = capped.accept({ timeout: TIMEOUT });
      await meet.sync('listening');
      const conn1 = await first;
      const second = capped.accept({ timeout: TIMEOUT });
      await meet.sync('refused');
      stop.abort(new Error('stopped'));
      expect(await refusing).toMatchObject({ message: 'stopped' });
      conn1.close();
      await meet.sync('closed');
      using conn2 = await second;
      expect(conn2.remote.host).toBe(peer);
      await meet.sync('done');
    },
    async client({ dmb, peer, meet }) {
      await meet.sync('listening');
      const refusal = async (port: number) => {
        const e = await dmb.connectRdma({ host: peer, port }, { timeout: TIMEOUT }).catch((err: unknown) => err);
        expect(e).toMatchObject({ code: 'ECONNREFUSED', syscall: 'rdma_connect', rejectReason: 28 });
        return (e as { refusal?: string }).refusal;
      };
      expect(await refusal(7475)).toBe('not-allowed');
      using conn1 = await dmb.connectRdma({ host: peer, port: 7476 }, { timeout: TIMEOUT });
      expect(await refusal(7476)).toBe('connection-limit');
      await meet.sync('refused');
      await meet.sync('closed');
      using conn2 = await dmb.connectRdma({ host: peer, port: 7476 }, { timeout: TIMEOUT });
      expect(conn2.state).toBe('connected');
      await meet.sync('done');
      void conn1;
    },
  },
  {
    name: "each accepted connection has its own PD: an rkey given to one connection fails from another with a remote access error",
    async server({ dmb, self, meet }) {
      using listener = dmb.listenRdma({ host: self, port: 7477 });
      const accepting = (async () => [await listener.accept({ timeout: TIMEOUT }), await listener.accept({ timeout: TIMEOUT })])();
      await meet.sync('listening');
      const [forAlice, forMallory] = await accepting;
      using _a = forAlice!;
      using _m = forMallory!;
      const memory = new Uint8Array(new SharedArrayBuffer(4096));
      using mr = forAlice!.pd.register(memory, { access: ['local-write', 'remote-write'] });
      await meet.sync('registered', Buffer.from(encodeRemoteBuffer(mr.remote())).toString('hex'));
      await meet.sync('mallory wrote');
      // Alice writes only once the server has looked: a sync is a barrier, and the peer may run on.
      const untouched = memory.every((b) => b === 0);
      await meet.sync('checked', untouched);
      expect(untouched).toBe(true);
      await meet.sync('alice wrote');
      expect(memory.every((b) => b === 0x77)).toBe(true);
      await meet.sync('done');
    },
    async client({ dmb, peer, meet }) {
      await meet.sync('listening');
      using alice = await dmb.connectRdma({ host: peer, port: 7477 }, { timeout: TIMEOUT });
      using mallory = await dmb.connectRdma({ host: peer, port: 7477 }, { timeout: TIMEOUT });
      const remote = decodeRemoteBuffer(Buffer.from((await meet.sync('registered')) as string, 'hex'));
      const write = async (conn: typeof alice, id: bigint) => {
        const source = conn.pd.register(new Uint8Array(new SharedArrayBuffer(4096)).fill(0x77));
        conn.qp.postSend([{ opcode: 'write', local: { mr: source }, remote, id }]);
        return (await conn.cq.next({ timeout: TIMEOUT })).status;
      };
      expect(await write(mallory, 1n)).toBe('remote-access-error');
      await meet.sync('mallory wrote');
      expect(await meet.sync('checked')).toBe(true);
      expect(await write(alice, 2n)).toBe('success');
      await meet.sync('alice wrote');
      await meet.sync('done');
    },
  },
  {
    // Both MRs on demand: nothing pinned on either host, the server's pages
    // never touched before the client's writes fault them in. One packet at
    // the start of each page, since 7.3.4's rxe copies every packet of an
    // on-demand MR to its page's start (README, Two kernels).
    name: 'on-demand MRs on both hosts (Linux 7.3): writes fault the server\'s untouched pages in, reads come back, nothing is pinned; 6.12 refuses them',
    async server({ dmb, self, meet, pinned }) {
      using listener = dmb.listenRdma({ host: self, port: 7478 });
      await meet.sync('listening');
      if (!(await meet.sync('on demand'))) return;
      using request = await listener.next({ timeout: TIMEOUT });
      expect(request.device.onDemandPaging).toBe(true);
      using pd = request.device.allocPd();
      using memfd = dmb.createMemfd(ODP_PAGES * PAGE);
      using mapping = memfd.map('rw');
      const mr = pd.register(mapping, { access: ['local-write', 'remote-read', 'remote-write', 'on-demand'] });
      expect(pinned()).toBe(0);
      using conn = await request.accept({ pd, privateData: encodeRemoteBuffer(mr.remote()), timeout: TIMEOUT });
      await meet.sync('written');
      const v = mapping.view;
      const ok = pageIndexes.every((p) => v.subarray(p * PAGE, p * PAGE + PACKET).every((b) => b === 0x20 + p)
        && v.subarray(p * PAGE + PACKET, (p + 1) * PAGE).every((b) => b === 0));
      await meet.sync('verified', ok);
      expect(ok).toBe(true);
      await conn.disconnected({ timeout: TIMEOUT });
      conn.close();
      mr.close();
      expect(pinned()).toBe(0);
    },
    async client({ dmb, peer, meet, pinned }) {
      await meet.sync('listening');
      using route = await dmb.resolveRdma({ host: peer, port: 7478 }, { timeout: TIMEOUT });
      using pd = route.device.allocPd();
      // Pages 0..3 to write from, 4..7 to read back into.
      using memfd = dmb.createMemfd(2 * ODP_PAGES * PAGE);
      using mapping = memfd.map('rw');
      const access = ['local-write', 'on-demand'] as const;
      if (!route.device.onDemandPaging) {
        expect(() => pd.register(mapping, { access })).toThrow(expect.objectContaining({ code: 'EOPNOTSUPP', syscall: 'ibv_reg_mr' }));
        await meet.sync('on demand', false);
        return;
      }
      await meet.sync('on demand', true);
      const mr = pd.register(mapping, { access });
      for (const p of pageIndexes) mapping.view.fill(0x20 + p, p * PAGE, p * PAGE + PACKET);
      expect(pinned()).toBe(0);
      using conn = await route.connect({ pd, timeout: TIMEOUT });
      const remote = decodeRemoteBuffer(conn.privateData);
      conn.qp.postSend(pageIndexes.map((p) => ({
        opcode: 'write' as const, local: { mr, offset: p * PAGE, length: PACKET }, remote: { ...remote, offset: p * PAGE }, id: BigInt(p),
      })));
      for (const p of pageIndexes) expect(await conn.cq.next({ timeout: TIMEOUT })).toMatchObject({ wrId: BigInt(p), status: 'success', opcode: 'rdma-write' });
      await meet.sync('written');
      expect(await meet.sync('verified')).toBe(true);
      conn.qp.postSend(pageIndexes.map((p) => ({
        opcode: 'read' as const, local: { mr, offset: (ODP_PAGES + p) * PAGE, length: PACKET }, remote: { ...remote, offset: p * PAGE }, id: 10n + BigInt(p),
      })));
      for (const p of pageIndexes) expect(await conn.cq.next({ timeout: TIMEOUT })).toMatchObject({ wrId: 10n + BigInt(p), status: 'success', opcode: 'rdma-read' });
      const v = mapping.view;
      expect(pageIndexes.every((p) => v.subarray((ODP_PAGES + p) * PAGE, (ODP_PAGES + p) * PAGE + PACKET).every((b) => b === 0x20 + p))).toBe(true);
      expect(pinned()).toBe(0);
      conn.disconnect();
      await conn.disconnected({ timeout: TIMEOUT });
      conn.close();
      mr.close();
    },
  },
];
