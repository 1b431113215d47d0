import { spawnSync } from 'node:child_process';
import { afterEach, beforeEach, expect, vi } from 'vitest';
import { collectGarbage, DEVICES, describeEachBackend, itWith, openOn } from '../support/backends';
import type { DmaBridge } from '../../src';
import type { RdmaDevice } from '../../src/verbs/device';
import type { ProtectionDomain } from '../../src/verbs/pd';
import { POLL_BATCH, type CompletionQueue } from '../../src/verbs/cq';
import { WC_WORDS, wcWords } from '../../seam/work-requests';
import type { QueuePair } from '../../src/verbs/qp';
import { loopbackPair } from '../../src/verbs/loopback';

// On both backends the device is soft-RoCE: rxe0 on lo in the VM, the
// emulator's rxe profile elsewhere. Both answer as rxe does.
describeEachBackend('RDMA on an rxe device', (b) => {
  const it = itWith(b, DEVICES.rxe);
  let dmb: DmaBridge;
  let dev: RdmaDevice;
  let pd: ProtectionDomain;
  let cq: CompletionQueue;
  let a: QueuePair;
  let z: QueuePair;

  beforeEach(() => {
    dmb = openOn(b);
    dev = dmb.openRdma('rxe0');
    pd = dev.allocPd();
    cq = dev.createCq(64);
    ({ qp: a, peer: z } = loopbackPair(pd, cq));
  });
  afterEach(() => dmb.close());

  it('describes the device, its port and its GID', () => {
    expect(dmb.rdmaDevices()).toContainEqual(expect.objectContaining({ name: 'rxe0' }));
    expect(dev.port(1)).toMatchObject({ state: 'active', linkLayer: 'ethernet' });
    expect(dev.port(1).mtu).toBeGreaterThanOrEqual(1024);
    expect(a.endpoint().gid).toBe('0:0:0:0:0:ffff:7f00:1');
    expect(dev.canRegisterDmaBuf).toBe(false);
    expect(a.state).toBe('rts');
  });

  it('refuses registerDmaBuf with EOPNOTSUPP, naming the memfd-pages fallback', () => {
    using buf = dmb.createUdmabuf(64 << 10);
    expect(() => pd.registerDmaBuf(buf)).toThrow(expect.objectContaining({ code: 'EOPNOTSUPP', syscall: 'ibv_reg_dmabuf_mr', message: expect.stringMatching(/fallback: 'memfd-pages'/) }));
  });

  it('registers memory on demand where rxe pages on demand (7.3), else refuses it with advice naming that kernel (6.12)', async () => {
    expect(dev.onDemandPaging).toBe(b.behaviour.rxeOnDemandPaging);
    // Fresh memfd pages, never touched: the write faults them in.
    using memfd = dmb.createMemfd(4 * 4096);
    using mapping = memfd.map('rw');
    const memory = mapping.view;
    const register = () => pd.register(mapping, { access: ['local-write', 'remote-write', 'remote-read', 'on-demand'] });
    if (!b.behaviour.rxeOnDemandPaging) {
      expect(register).toThrow(expect.objectContaining({ code: 'EOPNOTSUPP', syscall: 'ibv_reg_mr', message: expect.stringMatching(/rxe has it on Linux 7\.3/) }));
      return;
    }
    const dst = register();
    const src = pd.register(new Uint8Array(new SharedArrayBuffer(memory.length)).fill(0x3c));
    a.postSend([{ opcode: 'write', local: { mr: src }, remote: dst.remote(), id: 1n }]);
    expect(await cq.next({ timeout: 10000 })).toMatchObject({ wrId: 1n, status: 'success', opcode: 'rdma-write' });
    expect(memory.every((x) => x === 0x3c)).toBe(true);
    // Dropped by the CPU side: the MR is invalidated, and the device faults the file's pages in again.
    mapping.discard();
    const read = new Uint8Array(new SharedArrayBuffer(memory.length));
    a.postSend([{ opcode: 'read', local: { mr: pd.register(read, { access: ['local-write'] }) }, remote: dst.remote(), id: 2n }]);
    expect(await cq.next({ timeout: 10000 })).toMatchObject({ wrId: 2n, status: 'success', opcode: 'rdma-read' });
    expect(read.every((x) => x === 0x3c)).toBe(true);
  });

  it('a closed CQ\'s handle answers EBADF at once, right after it was polled hot', () => {
    const other = dev.createCq(16);
    for (let i = 0; i < 100; i++) expect(dmb.seam.ibvPollCq(other.handle, 1)).toBe(0);
    other.close();
    expect(() => dmb.seam.ibvPollCq(other.handle, 1)).toThrow(expect.objectContaining({ code: 'EBADF', syscall: 'ibv_poll_cq' }));
    // The CQs still open keep answering.
    expect(dmb.seam.ibvPollCq(cq.handle, 1)).toBe(0);
  });

  it('binds a CQ only to completion words JS cannot detach, and a refused CQ leaves nothing', () => {
    const { seam } = dmb;
    const refused = [
      new BigUint64Array(WC_WORDS), new Uint32Array(new SharedArrayBuffer(64)), wcWords(0),
      new BigUint64Array(new SharedArrayBuffer(8 * (WC_WORDS - 1))), [0n, 0n, 0n, 0n, 0n], undefined,
    ];
    for (const out of refused) expect(() => seam.ibvCreateCq(dev.ctx, 16, -1, out as BigUint64Array)).toThrow(TypeError);
    const bound = seam.ibvCreateCq(dev.ctx, 16, -1, wcWords(1));
    for (const max of [-1, 1.5, 2 ** 31, NaN, '1', undefined]) expect(() => seam.ibvPollCq(bound, max as number)).toThrow(TypeError);
    expect(seam.ibvPollCq(bound, 0)).toBe(0);
    seam.ibvDestroyCq(bound);
    // Closing the device would answer EBUSY for a CQ left behind.
    cq.close();
    pd.close();
    expect(() => dev.close()).not.toThrow();
  });

  it('a poll takes no more completions than the CQ\'s words hold, and loses none', async () => {
    using many = dev.createCq(256);
    const { qp, peer } = loopbackPair(pd, many, { maxSendWr: 128 });
    const src = pd.register(new Uint8Array(new SharedArrayBuffer(8)));
    const dst = peer.pd.register(new Uint8Array(new SharedArrayBuffer(8)), { access: ['local-write', 'remote-write'] });
    const post = () => {
      for (let i = 0; i < POLL_BATCH + 6; i++) qp.postSend([{ opcode: 'write', local: { mr: src }, remote: dst.remote(), id: BigInt(i), signaled: true }]);
    };
    post();
    const got: bigint[] = [];
    for (const deadline = Date.now() + 10_000; got.length < POLL_BATCH + 6 && Date.now() < deadline;) {
      got.push(...many.poll(1000).map((wc) => wc.wrId));
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(got).toEqual(Array.from({ length: POLL_BATCH + 6 }, (_, i) => BigInt(i)));
    // All there before the seam is asked: it answers POLL_BATCH, then the rest.
    post();
    await new Promise((r) => setTimeout(r, 500));
    expect(dmb.seam.ibvPollCq(many.handle, 1000)).toBe(POLL_BATCH);
    expect(dmb.seam.ibvPollCq(many.handle, 1000)).toBe(6);
  });

  it('RDMA-writes into a udmabuf registered through its memfd pages, seen through the dma-buf view', async () => {
    using src = dmb.createUdmabuf(64 << 10);
    using dst = dmb.createUdmabuf(64 << 10);
    const srcMr = pd.registerDmaBuf(src, { fallback: 'memfd-pages' });
    const dstMr = pd.registerDmaBuf(dst, { fallback: 'memfd-pages', access: ['local-write', 'remote-write'] });
    expect(dstMr.via).toBe('memfd-pages');
    expect(dstMr.rkey).toBe(dstMr.lkey);
    using srcMap = src.map('rw');
    {
      using _ = srcMap.begin('write');
      for (let i = 0; i < srcMap.view.length; i++) srcMap.view[i] = (i * 7) & 0xff;
    }
    a.postSend([{ opcode: 'write', local: { mr: srcMr }, remote: dstMr.remote(), id: 1n }]);
    const wc = await cq.next({ timeout: 10000 });
    expect(wc).toMatchObject({ wrId: 1n, status: 'success', opcode: 'rdma-write' });
    using dstMap = dst.map('read');
    using _ = dstMap.begin('read');
    expect(Buffer.compare(dstMap.view, srcMap.view)).toBe(0);
  });

  it('write with immediate consumes a receive and delivers the immediate', async () => {
    const local = new Uint8Array(new SharedArrayBuffer(4096)).fill(9);
    const remote = new Uint8Array(new SharedArrayBuffer(4096));
    const lmr = pd.register(local);
    const rmr = pd.register(remote, { access: ['local-write', 'remote-write'] });
    z.postRecv([{ id: 77n }]);
    a.postSend([{ opcode: 'write-imm', local: { mr: lmr, length: 100 }, remote: rmr.remote(), imm: 0xdeadbeef, id: 2n }]);
    const got = [await cq.next({ timeout: 10000 }), await cq.next({ timeout: 10000 })];
    expect(got).toContainEqual(expect.objectContaining({ wrId: 2n, status: 'success', opcode: 'rdma-write' }));
    expect(got).toContainEqual(expect.objectContaining({ wrId: 77n, status: 'success', opcode: 'recv-rdma-with-imm', immData: 0xdeadbeef, byteLen: 100 }));
    expect(remote.subarray(0, 100).every((x) => x === 9) && remote[100] === 0).toBe(true);
  });

  it('a post-and-await loop whose completions are always ready still lets the event loop turn', async () => {
    const src = pd.register(new Uint8Array(new SharedArrayBuffer(64)));
    const dst = pd.register(new Uint8Array(new SharedArrayBuffer(64)), { access: ['local-write', 'remote-write'] });
    let turned = false;
    setImmediate(() => (turned = true));
    let writes = 0;
    while (!turned && writes < 1000) {
      a.postSend([{ opcode: 'write', local: { mr: src, length: 64 }, remote: dst.remote(), id: BigInt(writes) }]);
      // As on a slow machine: the completion is there before next() looks.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
      expect(await cq.next({ timeout: 10000 })).toMatchObject({ status: 'success' });
      writes++;
    }
    expect(turned).toBe(true);
    expect(writes).toBeLessThanOrEqual(32);
  });

  it('awaited completions share one watch on the CQ channel, given back once nothing waits; a wait still settles on close', async () => {
    using sleeper = dev.createCq(64, { spin: 0 });
    const { qp, peer } = loopbackPair(pd, sleeper);
    const mr = pd.register(new Uint8Array(new SharedArrayBuffer(64)), { access: ['local-write', 'remote-write'] });
    const made = vi.spyOn(dmb.seam, 'watch');
    for (let i = 0; i < 8; i++) {
      // Waiting before the post: the CQ is empty, so each wait sleeps on the channel.
      const completion = sleeper.next({ timeout: 10000 });
      qp.postSend([{ opcode: 'write', local: { mr, length: 8 }, remote: mr.remote(), id: BigInt(i) }]);
      expect(await completion).toMatchObject({ wrId: BigInt(i), status: 'success' });
    }
    expect(made).toHaveBeenCalledTimes(1);
    const stopped = vi.spyOn(made.mock.results[0]!.value as { stop(): void }, 'stop');
    await new Promise((r) => setImmediate(r));
    expect(stopped).toHaveBeenCalledTimes(1);
    made.mockRestore();
    const waiting = sleeper.next();
    peer.close();
    qp.close();
    sleeper.close();
    await expect(waiting).rejects.toMatchObject({ code: 'ECANCELED' });
  });

  it('a write that fits the QP\'s maxInlineData goes inline by default: the source may change as soon as it is posted', async () => {
    const { qp, peer } = loopbackPair(pd, cq, { maxInlineData: 64 });
    const src = new Uint8Array(new SharedArrayBuffer(16)).fill(1);
    const dst = new Uint8Array(new SharedArrayBuffer(16));
    const srcMr = pd.register(src);
    const dstMr = pd.register(dst, { access: ['local-write', 'remote-write'] });
    qp.postSend([{ opcode: 'write', local: { mr: srcMr }, remote: dstMr.remote(), id: 9n }]);
    src.fill(2);
    expect(await cq.next({ timeout: 10000 })).toMatchObject({ wrId: 9n, status: 'success' });
    expect([...dst]).toEqual(new Array(16).fill(1));
    peer.close();
  });

  it('checks the spin option: whole microseconds up to a second', () => {
    expect(() => dev.createCq(4, { spin: -1 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => dev.createCq(4, { spin: 1.5 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    dev.createCq(4, { spin: 1_000_000 }).close();
  });

  it('RDMA-reads, and sends into a posted receive, in one batched post', async () => {
    const mine = new Uint8Array(new SharedArrayBuffer(8192));
    const theirs = new Uint8Array(new SharedArrayBuffer(8192)).fill(5);
    const myMr = pd.register(mine);
    const theirMr = pd.register(theirs, { access: ['local-write', 'remote-read'] });
    const inbox = new Uint8Array(new SharedArrayBuffer(64));
    z.postRecv([{ local: { mr: pd.register(inbox) }, id: 10n }]);
    a.postSend([
      { opcode: 'read', local: { mr: myMr, length: 4096 }, remote: theirMr.remote(), id: 3n },
      { opcode: 'send', local: { mr: myMr, offset: 4096, length: 64 }, id: 4n },
    ]);
    const wcs = [];
    for (let i = 0; i < 3; i++) wcs.push(await cq.next({ timeout: 10000 }));
    expect(wcs.map((w) => w.status)).toEqual(['success', 'success', 'success']);
    expect(wcs).toContainEqual(expect.objectContaining({ wrId: 3n, opcode: 'rdma-read', byteLen: 4096 }));
    expect(wcs).toContainEqual(expect.objectContaining({ wrId: 10n, opcode: 'recv', byteLen: 64 }));
    expect(mine.subarray(0, 4096).every((x) => x === 5)).toBe(true);
  });

  it('a write with a deregistered rkey completes with a remote access error, and the next is flushed', async () => {
    const local = new Uint8Array(new SharedArrayBuffer(4096));
    const lmr = pd.register(local);
    const rmr = pd.register(new Uint8Array(new SharedArrayBuffer(4096)), { access: ['local-write', 'remote-write'] });
    const stale = rmr.remote();
    rmr.close();
    a.postSend([{ opcode: 'write', local: { mr: lmr }, remote: stale, id: 5n }]);
    expect(await cq.next({ timeout: 10000 })).toMatchObject({ wrId: 5n, status: 'remote-access-error', statusCode: 10 });
    a.postSend([{ opcode: 'write', local: { mr: lmr }, remote: stale, id: 6n }]);
    expect(await cq.next({ timeout: 10000 })).toMatchObject({ wrId: 6n, status: 'wr-flush-error', statusCode: 5 });
  });

  it('unmapping registered memory deregisters its MR first, so the device never touches unmapped pages', () => {
    using mem = dmb.createMemfd(8192);
    const map = mem.map('rw');
    const mr = pd.register(map, { access: ['local-write', 'remote-write'] });
    map.unmap();
    expect(mr.closed).toBe(true);
    expect(() => mr.remote()).toThrow(expect.objectContaining({ code: 'EBADF' }));
  });

  it("posting on a QP that is not connected is EINVAL at request 0, with the backend's reason and advice", () => {
    const idle = pd.createQp(cq);
    const mr = pd.register(new Uint8Array(new SharedArrayBuffer(64)));
    // The reason is the backend's own (the emulator's "the QP is not in RTS", the addon's "the provider refused it").
    const shape = /^ibv_post_send failed with EINVAL \(request 0: [^)]+\): request 0 is invalid for this QP \(is it connected, in RTS\?/;
    expect(() => idle.postSend([{ opcode: 'send', local: { mr }, id: 1n }])).toThrow(expect.objectContaining({ code: 'EINVAL', syscall: 'ibv_post_send', index: 0, message: expect.stringMatching(shape) }));
  });

  for (const settle of [false, true]) {
    it(`a PD and device close after forgotten MRs, and a QP on a forgotten CQ, were collected (${settle ? 'finalizers ran' : 'before finalizers'})`, async () => {
      const pd2 = dev.allocPd();
      (() => {
        for (let i = 0; i < 20; i++) pd2.register(new Uint8Array(new SharedArrayBuffer(4096)));
        pd2.createQp(dev.createCq(16));
      })();
      await collectGarbage(settle);
      expect(() => pd2.close()).not.toThrow();
      expect(() => dev.close()).not.toThrow();
    });
  }

  it('refuses remote write access without local write, as the kernel does', () => {
    expect(() => pd.register(new Uint8Array(new SharedArrayBuffer(4096)), { access: ['remote-write'] })).toThrow(expect.objectContaining({ code: 'EINVAL', syscall: 'ibv_reg_mr' }));
  });

  it('deallocating a PD that still has an MR is EBUSY at the seam; closing the PD closes the MR first', () => {
    const mr = pd.register(new Uint8Array(new SharedArrayBuffer(4096)));
    expect(() => dmb.seam.ibvDeallocPd(pd.handle)).toThrow(expect.objectContaining({ code: 'EBUSY', syscall: 'ibv_dealloc_pd' }));
    pd.close();
    expect(mr.closed).toBe(true);
  });

  it('a registration past ulimit -l fails with ENOMEM and advice, for a process without CAP_IPC_LOCK', () => {
    const r = spawnSync('setpriv', ['--bounding-set', '-ipc_lock', '--inh-caps', '-ipc_lock', '--', process.execPath, 'test/fixtures/memlock.js', b.name], { encoding: 'utf8', timeout: 120000 });
    expect(r.error).toBeUndefined();
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).toMatchObject({ small: 'ok', code: 'ENOMEM', syscall: 'ibv_reg_mr', advice: true });
  });
});
